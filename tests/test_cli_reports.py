"""`rounds reports list|resolve`: a real process and a real database, audited as the command line."""

import asyncio

import pytest
from sqlmodel import select

from actors.accounts import find_local_account
from storage.tables import AuditEntry, Report
from tests.support.processes import rounds_env, run_rounds
from web.context import AppContext
from web.settings import Settings


@pytest.fixture
def fresh_env(new_database_url, tmp_path):
    env = rounds_env(new_database_url(empty=True), ROUNDS_DOMAIN="127.0.0.1:8125")
    assert run_rounds("init", env=env, cwd=tmp_path).returncode == 0
    for name in ("ann", "bob"):
        assert run_rounds("accounts", "create", name, "--email", f"{name}@mayo.test", env=env,
                          cwd=tmp_path).returncode == 0
    return env


def in_database(env, work):
    async def go():
        ctx = AppContext.build(Settings.from_env(env))
        try:
            async with ctx.database.transaction() as session:
                return await work(session)
        finally:
            await ctx.database.dispose()

    return asyncio.run(go())


def add_reports(env) -> tuple[int, int]:
    async def work(session):
        ann, bob = await find_local_account(session, "ann"), await find_local_account(session, "bob")
        open_one = Report(reporter_id=bob.actor.id, target_id=ann.actor.id, category="spam",
                          comment="Selling\nmiracle pills " + "again " * 20)
        closed = Report(reporter_id=ann.actor.id, target_id=bob.actor.id, comment="rude")
        session.add_all([open_one, closed])
        await session.flush()
        closed.action_taken_at = closed.created_at
        return open_one.id, closed.id

    return in_database(env, work)


def audit_rows(env) -> list[tuple[str, str, str, int | None]]:
    async def work(session):
        rows = (await session.exec(select(AuditEntry).order_by(AuditEntry.id))).all()
        return [(row.action, row.target, row.via, row.actor_id) for row in rows]

    return in_database(env, work)


def test_list_shows_open_reports_and_all_with_the_flag(fresh_env, tmp_path):
    open_id, closed_id = add_reports(fresh_env)
    listing = run_rounds("reports", "list", env=fresh_env, cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    header, *rows = listing.stdout.splitlines()
    assert header.split()[:4] == ["id", "created", "state", "category"]
    assert len(rows) == 1 and rows[0].split()[0] == str(open_id)
    assert "open" in rows[0] and "ann" in rows[0] and "bob" in rows[0] and "Selling miracle pills" in rows[0]
    every = run_rounds("reports", "list", "--all", env=fresh_env, cwd=tmp_path)
    assert [row.split()[0] for row in every.stdout.splitlines()[1:]] == [str(closed_id), str(open_id)]
    assert audit_rows(fresh_env) == [("report.read", str(open_id), "cli", None),
                                     ("report.read", str(closed_id), "cli", None),
                                     ("report.read", str(open_id), "cli", None)]


def test_resolve_marks_the_report_and_audits_it(fresh_env, tmp_path):
    open_id, _closed_id = add_reports(fresh_env)
    resolved = run_rounds("reports", "resolve", str(open_id), env=fresh_env, cwd=tmp_path)
    assert resolved.returncode == 0, resolved.stderr
    assert resolved.stdout.strip() == f"resolved report {open_id}"
    assert run_rounds("reports", "list", env=fresh_env, cwd=tmp_path).stdout.strip() == "no open reports"
    again = run_rounds("reports", "resolve", str(open_id), env=fresh_env, cwd=tmp_path)
    assert again.returncode == 0 and "already resolved" in again.stdout
    assert [row for row in audit_rows(fresh_env) if row[0] == "report.resolve"] == [
        ("report.resolve", str(open_id), "cli", None)]


@pytest.mark.parametrize("report_id", ["424242", "not-an-id"])
def test_resolving_an_unknown_report_is_one_clear_error(fresh_env, tmp_path, report_id):
    result = run_rounds("reports", "resolve", report_id, env=fresh_env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"rounds: error: no report with id {report_id!r}"
    assert audit_rows(fresh_env) == []
