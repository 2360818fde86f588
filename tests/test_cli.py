"""The `rounds` command as an administrator runs it: a real process and a real database."""

import signal
import subprocess

import pytest

from tests.support.processes import ROUNDS, rounds_env, run_rounds


@pytest.fixture
def fresh_env(new_database_url):
    return rounds_env(new_database_url(empty=True), ROUNDS_DOMAIN="127.0.0.1:8123")


def test_init_twice_creates_the_admin_once(fresh_env, tmp_path):
    first = run_rounds("init", "--admin", "owner", env=fresh_env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "created admin @owner@127.0.0.1:8123" in first.stdout
    assert "password: " in first.stdout
    second = run_rounds("init", "--admin", "owner", env=fresh_env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "already exists" in second.stdout
    listing = run_rounds("accounts", "list", env=fresh_env, cwd=tmp_path)
    assert [line.split()[:2] for line in listing.stdout.splitlines()[1:]] == [["owner", "admin"]]


def test_accounts_create_with_password_on_stdin_then_list(fresh_env, tmp_path):
    assert run_rounds("init", env=fresh_env, cwd=tmp_path).returncode == 0
    created = run_rounds("accounts", "create", "ann", "--email", "ann@mayo.test",
                         "--password-stdin", env=fresh_env, cwd=tmp_path, stdin="a long password\n")
    assert created.returncode == 0, created.stderr
    assert "password:" not in created.stdout
    staff = run_rounds("accounts", "create", "dr_bo", "--email", "bo@mayo.test", "--role", "staff",
                       env=fresh_env, cwd=tmp_path)
    assert staff.returncode == 0 and "password: " in staff.stdout
    rows = [line.split() for line in run_rounds("accounts", "list", env=fresh_env,
                                                cwd=tmp_path).stdout.splitlines()[1:]]
    assert [row[:3] for row in rows] == [["ann", "member", "ann@mayo.test"],
                                         ["dr_bo", "staff", "bo@mayo.test"]]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["ANN", "--email", "other@mayo.test"], None, "username 'ANN' is taken"),
        (["cy", "--email", "ANN@mayo.test"], None, "already registered"),
        (["inbox", "--email", "x@mayo.test"], None, "reserved"),
        (["cy", "--email", "not-an-email"], None, "not a valid address"),
        (["cy", "--email", "cy@mayo.test", "--password-stdin"], "short\n", "at least 8"),
        (["cy", "--email", "cy@mayo.test", "--role", "king"], None, "invalid choice"),
    ],
)
def test_bad_account_input_is_one_clear_error_and_writes_nothing(fresh_env, tmp_path, args, stdin, message):
    assert run_rounds("init", env=fresh_env, cwd=tmp_path).returncode == 0
    run_rounds("accounts", "create", "ann", "--email", "ann@mayo.test", env=fresh_env, cwd=tmp_path)
    result = run_rounds("accounts", "create", *args, env=fresh_env, cwd=tmp_path, stdin=stdin)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    listing = run_rounds("accounts", "list", env=fresh_env, cwd=tmp_path)
    assert len(listing.stdout.splitlines()) == 2  # the header and ann


def test_commands_before_init_say_to_run_init(fresh_env, tmp_path):
    result = run_rounds("accounts", "list", env=fresh_env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("rounds: error:") and "run `rounds init`" in result.stderr
    serve = run_rounds("serve", "--port", "1", env=fresh_env, cwd=tmp_path)
    assert serve.returncode == 1 and "run `rounds init`" in serve.stderr


def test_bad_setting_is_named_and_nothing_starts(fresh_env, tmp_path):
    result = run_rounds("init", env=fresh_env | {"ROUNDS_FEDERATION_MODE": "everyone"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "rounds: error: ROUNDS_FEDERATION_MODE: expected one of open, network, allowlist, got 'everyone'"]
    assert "database ready" not in result.stdout


def test_unreachable_database_is_a_clear_error(tmp_path):
    env = rounds_env("postgresql://postgres@127.0.0.1:1/nothing")
    result = run_rounds("init", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("rounds: error: database unavailable")
    assert "Traceback" not in result.stderr


def test_settings_command_lists_every_setting(tmp_path):
    result = run_rounds("settings", env=rounds_env("sqlite:///unused.db"), cwd=tmp_path)
    assert result.returncode == 0
    assert "ROUNDS_DOMAIN" in result.stdout and "ROUNDS_SECRET_KEY" in result.stdout


def test_worker_runs_until_told_to_stop(fresh_env, tmp_path):
    assert run_rounds("init", env=fresh_env, cwd=tmp_path).returncode == 0
    worker = subprocess.Popen([ROUNDS, "worker"], env=fresh_env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        first_line = worker.stdout.readline()
        assert "processing inbox and deliveries for 127.0.0.1:8123" in first_line
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
        returncode = worker.wait(timeout=20)
    assert returncode == 0, worker.stderr.read()
