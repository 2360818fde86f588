"""`rounds domains` as an administrator runs it: a real process and a real database."""

import pytest

from tests.support.processes import rounds_env, run_rounds

CSV_HEADER = "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate"


@pytest.fixture
def env(new_database_url, tmp_path):
    env = rounds_env(new_database_url(empty=True), ROUNDS_DOMAIN="127.0.0.1:8124")
    assert run_rounds("init", env=env, cwd=tmp_path).returncode == 0
    return env


def rounds(env, tmp_path, *args, stdin=None):
    return run_rounds("domains", *args, env=env, cwd=tmp_path, stdin=stdin)


def test_block_list_export_and_unblock(env, tmp_path):
    suspended = rounds(env, tmp_path, "block", "Spam.Example", "--severity", "suspend", "--public-comment",
                       "Sends spam", "--private-comment", "pill seller")
    assert suspended.returncode == 0, suspended.stderr
    assert suspended.stdout.splitlines() == [
        "blocked spam.example: suspend",
        "purged spam.example: 0 posts, 0 attachments, 0 notifications, 0 favourites"]
    limited = rounds(env, tmp_path, "block", "rude.example", "--reject-media", "--obfuscate")
    assert limited.returncode == 0 and "blocked rude.example: silence" in limited.stdout
    listed = rounds(env, tmp_path, "list").stdout.splitlines()
    assert listed[0].split() == ["rude.example", "silence", "reject_media", "obfuscate"]
    assert listed[1].split()[:2] == ["spam.example", "suspend"] and "pill seller" in listed[1]
    exported = rounds(env, tmp_path, "export")
    assert exported.stdout.splitlines() == [CSV_HEADER, "rude.example,silence,true,false,,true",
                                            "spam.example,suspend,false,false,Sends spam,false"]
    assert rounds(env, tmp_path, "unblock", "rude.example").returncode == 0
    missing = rounds(env, tmp_path, "unblock", "rude.example")
    assert missing.returncode == 1 and missing.stderr.strip() == "rounds: error: rude.example is not blocked"
    bad = rounds(env, tmp_path, "block", "https://spam.example/users/x")
    assert bad.returncode == 1 and "is not a domain" in bad.stderr and "Traceback" not in bad.stderr
    audit = run_rounds("audit", "--action", "domain_block.", env=env, cwd=tmp_path)
    if audit.returncode == 0:  # `rounds audit` is another command group's; when present it shows via=cli
        assert "(cli)" in audit.stdout and "domain_block.delete" in audit.stdout


def test_import_refuses_a_malformed_file_whole_and_a_dry_run_writes_nothing(env, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{CSV_HEADER}\ngood.example,suspend,false,false,,false\nbad domain,silence,false,false,,false\n")
    refused = rounds(env, tmp_path, "import", str(bad))
    assert refused.returncode == 1
    assert "line 3: 'bad domain' is not a domain" in refused.stderr and "nothing imported" in refused.stderr
    assert rounds(env, tmp_path, "list").stdout.strip() == "no domain is blocked or allowed"

    good = tmp_path / "good.csv"
    good.write_text(f"{CSV_HEADER}\nspam.example,suspend,false,false,Spam,false\nrude.example,silence,true,false,,false\n")
    assert rounds(env, tmp_path, "block", "rude.example").returncode == 0
    dry = rounds(env, tmp_path, "import", str(good), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == ["added      spam.example suspend", "updated    rude.example silence",
                                       "dry run, nothing written: would be 1 added, 1 updated, 0 unchanged"]
    assert "spam.example" not in rounds(env, tmp_path, "list").stdout
    done = rounds(env, tmp_path, "import", str(good))
    assert done.returncode == 0 and "imported: 1 added, 1 updated, 0 unchanged" in done.stdout
    assert "purged spam.example" in done.stdout
    again = rounds(env, tmp_path, "import", "-", stdin=good.read_text())
    assert "imported: 0 added, 0 updated, 2 unchanged" in again.stdout
    missing = rounds(env, tmp_path, "import", str(tmp_path / "none.csv"))
    assert missing.returncode == 1 and "cannot be read" in missing.stderr


def test_allow_and_disallow(env, tmp_path):
    allowed = rounds(env, tmp_path, "allow", "Partner.Example")
    assert allowed.returncode == 0 and allowed.stdout.splitlines()[0] == "allowed partner.example"
    assert "only in allowlist mode" in allowed.stdout
    assert "partner.example" in rounds(env, tmp_path, "list").stdout
    assert rounds(env, tmp_path, "disallow", "partner.example").returncode == 0
    again = rounds(env, tmp_path, "disallow", "partner.example")
    assert again.returncode == 1 and "not on the allowlist" in again.stderr
