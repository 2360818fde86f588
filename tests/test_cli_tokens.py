"""`rounds accounts token` and `rounds accounts approve`: a real process and a real database."""

import asyncio

import pytest
from sqlmodel import select

from actors.accounts import create_local_account
from storage.tables import OAuthApp
from tests.support.processes import rounds_env, run_rounds
from web.auth import find_token
from web.context import AppContext
from web.settings import Settings


@pytest.fixture
def fresh_env(new_database_url, tmp_path):
    env = rounds_env(new_database_url(empty=True), ROUNDS_DOMAIN="127.0.0.1:8124")
    assert run_rounds("init", env=env, cwd=tmp_path).returncode == 0
    return env


def context(env) -> AppContext:
    return AppContext.build(Settings.from_env(env))


def look_up(env, token):
    async def go():
        ctx = context(env)
        try:
            async with ctx.database.session() as session:
                found = await find_token(session, token)
                apps = (await session.exec(select(OAuthApp))).all()
            return found, apps
        finally:
            await ctx.database.dispose()

    return asyncio.run(go())


def add_pending_account(env, username):
    async def go():
        ctx = context(env)
        try:
            async with ctx.database.transaction() as session:
                await create_local_account(session, ctx.keyring, ctx.urls, username=username,
                                           email=f"{username}@example.org", password="a long password",
                                           approved=False)
        finally:
            await ctx.database.dispose()

    asyncio.run(go())


def test_accounts_token_prints_a_working_token_with_the_asked_scopes(fresh_env, tmp_path):
    assert run_rounds("accounts", "create", "ann", "--email", "ann@mayo.test", env=fresh_env,
                      cwd=tmp_path).returncode == 0
    first = run_rounds("accounts", "token", "ann", "--scopes", "read write:statuses", env=fresh_env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert len(token.splitlines()) == 1 and len(token) >= 40
    found, apps = look_up(fresh_env, token)
    assert found is not None and found.actor.username == "ann"
    assert found.token.scopes == "read write:statuses"
    assert [app.name for app in apps] == ["Rounds CLI"]
    second = run_rounds("accounts", "token", "ANN", env=fresh_env, cwd=tmp_path)
    assert second.returncode == 0 and second.stdout.strip() != token
    found, apps = look_up(fresh_env, second.stdout.strip())
    assert found.token.scopes == "read write follow"  # the default
    assert len(apps) == 1  # the CLI app is made once


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["accounts", "token", "nobody"], 1, "no local account named 'nobody'"),
        (["accounts", "token", "ann", "--scopes", "read sudo"], 2, "unknown scope 'sudo'"),
        (["accounts", "approve", "nobody"], 1, "no local account named 'nobody'"),
    ],
)
def test_accounts_token_and_approve_errors_are_one_line(fresh_env, tmp_path, args, code, message):
    assert run_rounds("accounts", "create", "ann", "--email", "ann@mayo.test", env=fresh_env,
                      cwd=tmp_path).returncode == 0
    result = run_rounds(*args, env=fresh_env, cwd=tmp_path)
    assert result.returncode == code
    assert message in result.stderr
    if code == 1:
        assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_approve_lets_a_pending_account_get_a_token(fresh_env, tmp_path):
    add_pending_account(fresh_env, "bo")
    refused = run_rounds("accounts", "token", "bo", env=fresh_env, cwd=tmp_path)
    assert refused.returncode == 1 and "pending approval" in refused.stderr
    listing = run_rounds("accounts", "list", env=fresh_env, cwd=tmp_path).stdout
    assert "awaiting approval" in listing
    approved = run_rounds("accounts", "approve", "bo", env=fresh_env, cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert "approved @bo@127.0.0.1:8124" in approved.stdout
    assert "awaiting approval" not in run_rounds("accounts", "list", env=fresh_env, cwd=tmp_path).stdout
    assert run_rounds("accounts", "token", "bo", env=fresh_env, cwd=tmp_path).returncode == 0


def test_token_with_bad_settings_exits_2(tmp_path):
    env = rounds_env("sqlite:///x.db", ROUNDS_DOMAIN="not a domain")
    result = run_rounds("accounts", "token", "ann", env=env, cwd=tmp_path)
    assert result.returncode == 2 and "ROUNDS_DOMAIN" in result.stderr
