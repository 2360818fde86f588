"""The audit log as moderators read it: `GET /api/v1/admin/audit_log` and `rounds audit`."""

import asyncio
import json

import pytest

from moderation.audit import record
from storage.engine import Database
from tests.conftest import add_account
from tests.support.api import bearer
from tests.support.processes import rounds_env, run_rounds

pytestmark = pytest.mark.without_workers


async def _seed(ctx, moderator_id):
    async with ctx.database.transaction() as session:
        await record(session, by=moderator_id, action="domain_block.create", target_type="domain",
                     target="spam.example", detail="severity=suspend")
        await record(session, by=None, via="cli", action="report.resolve", target_type="report", target="7")
        await record(session, by=moderator_id, action="account.silence", target_type="account", target="12",
                     detail="spam")


async def test_moderators_read_the_log_newest_first_filtered_and_paged(app, ctx, client):
    moderator = await add_account(ctx, "mod", role="moderator")
    await _seed(ctx, moderator.actor.id)
    token = await bearer(ctx, moderator, ("admin:read",))
    listed = await client.get("/api/v1/admin/audit_log", headers=token)
    assert listed.status_code == 200
    entries = listed.json()
    assert [entry["action"] for entry in entries] == ["account.silence", "report.resolve", "domain_block.create"]
    assert entries[0]["account"] == {"id": str(moderator.actor.id), "username": "mod"}
    assert entries[1]["account"] is None and entries[1]["via"] == "cli"
    assert entries[2]["detail"] == "severity=suspend" and entries[2]["target"] == "spam.example"
    blocks = (await client.get("/api/v1/admin/audit_log?action=domain_block.", headers=token)).json()
    assert [entry["target"] for entry in blocks] == ["spam.example"]
    mine = (await client.get(f"/api/v1/admin/audit_log?account_id={moderator.actor.id}", headers=token)).json()
    assert len(mine) == 2
    first = await client.get("/api/v1/admin/audit_log?limit=2", headers=token)
    assert len(first.json()) == 2 and 'rel="next"' in first.headers["link"]
    older = await client.get(f"/api/v1/admin/audit_log?limit=2&max_id={first.json()[-1]['id']}", headers=token)
    assert [entry["action"] for entry in older.json()] == ["domain_block.create"]


async def test_people_without_the_role_or_the_scope_are_refused(app, ctx, client):
    member = await add_account(ctx, "ann")
    staff = await add_account(ctx, "dr_bo", role="staff")
    moderator = await add_account(ctx, "mod", role="moderator")
    for person in (member, staff):
        answer = await client.get("/api/v1/admin/audit_log", headers=await bearer(ctx, person, ("admin:read",)))
        assert answer.status_code == 403 and answer.json() == {"error": "This action is not allowed"}
    no_scope = await client.get("/api/v1/admin/audit_log", headers=await bearer(ctx, moderator, ("read",)))
    assert no_scope.status_code == 403
    assert (await client.get("/api/v1/admin/audit_log")).status_code == 401
    bad = await client.get("/api/v1/admin/audit_log?account_id=abc",
                           headers=await bearer(ctx, moderator, ("admin:read",)))
    assert bad.status_code == 422 and "Account" in bad.json()["error"]


def test_the_cli_prints_the_log_as_a_table_or_json(new_database_url, tmp_path):
    url = new_database_url(empty=True)
    env = rounds_env(url, ROUNDS_DOMAIN="127.0.0.1:8123")
    assert run_rounds("init", "--admin", "owner", env=env, cwd=tmp_path).returncode == 0
    assert run_rounds("audit", env=env, cwd=tmp_path).stdout.strip() == "the audit log is empty"

    async def seed():
        database = Database(url)
        try:
            async with database.transaction() as session:
                from sqlmodel import select

                from storage.tables import Actor
                owner = (await session.exec(select(Actor).where(Actor.username == "owner"))).one()
                await record(session, by=owner.id, action="domain_block.create", target_type="domain",
                             target="spam.example", detail="severity=suspend")
                await record(session, by=None, via="cli", action="report.resolve", target_type="report", target="7")
        finally:
            await database.dispose()

    asyncio.run(seed())
    table = run_rounds("audit", env=env, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "(cli)" in lines[0] and "report.resolve" in lines[0] and "report 7" in lines[0]
    assert "@owner" in lines[1] and "domain_block.create" in lines[1] and "— severity=suspend" in lines[1]
    as_json = json.loads(run_rounds("audit", "--json", "--by", "owner", env=env, cwd=tmp_path).stdout)
    assert [(entry["by"], entry["action"]) for entry in as_json] == [("owner", "domain_block.create")]
    unknown = run_rounds("audit", "--by", "nobody", env=env, cwd=tmp_path)
    assert unknown.returncode == 1 and "no local account named 'nobody'" in unknown.stderr
    bad_limit = run_rounds("audit", "--limit", "0", env=env, cwd=tmp_path)
    assert bad_limit.returncode == 2 and "must be a number from 1 to 10000" in bad_limit.stderr
