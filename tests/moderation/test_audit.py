"""The audit log: entries land with their action, and the database refuses to change or remove them."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from moderation.audit import entries, record
from tests.conftest import add_account


async def test_entries_are_listed_newest_first_and_filtered_by_action(ctx):
    moderator = await add_account(ctx, "mod", role="moderator")
    async with ctx.database.transaction() as session:
        await record(session, by=moderator.actor.id, action="domain_block.create", target_type="domain",
                     target="spam.example", detail="severity=suspend")
        await record(session, by=None, via="cli", action="report.resolve", target_type="report", target=42)
    async with ctx.database.session() as session:
        listed = await entries(session)
        assert [entry.action for entry in listed] == ["report.resolve", "domain_block.create"]
        assert listed[0].actor_id is None and listed[0].via == "cli" and listed[0].target == "42"
        only_blocks = await entries(session, action="domain_block.")
        assert [entry.target for entry in only_blocks] == ["spam.example"]
        assert await entries(session, actor_id=moderator.actor.id) == [listed[1]]


async def test_an_entry_rolled_back_with_its_action_is_not_kept(ctx):
    with pytest.raises(RuntimeError):
        async with ctx.database.transaction() as session:
            await record(session, by=None, via="cli", action="account.suspend", target_type="account", target=1)
            raise RuntimeError("the action failed")
    async with ctx.database.session() as session:
        assert list(await entries(session)) == []


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET detail = 'rewritten'", "DELETE FROM audit_log"])
async def test_the_database_refuses_to_change_or_remove_entries(ctx, statement):
    async with ctx.database.transaction() as session:
        await record(session, by=None, via="system", action="domain_block.create", target_type="domain",
                     target="spam.example", detail="original")
    with pytest.raises(DBAPIError, match="append-only"):
        async with ctx.database.transaction() as session:
            await session.exec(text(statement))  # type: ignore[call-overload]
    async with ctx.database.session() as session:
        assert [entry.detail for entry in await entries(session)] == ["original"]
