"""The rules of `notify`, on a real database (both engines): who is told, and only once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from actors.notifications import forget_actor, forget_status, notify, notify_boosters_of_update, withdraw
from storage.tables import Block, Mute, Notification, Status, utcnow
from tests.conftest import add_account, add_remote_actor
from tests.support.api import remote_post


@pytest.fixture
async def people(ctx):
    """ann and bob are local; rae is on inova.test; rae wrote a post naming ann."""
    ann = (await add_account(ctx, "ann")).actor
    bob = (await add_account(ctx, "bob")).actor
    rae = await add_remote_actor(ctx, "rae")
    status = await remote_post(ctx, rae, "hello @ann", mentions=(ann,))
    return {"ann": ann, "bob": bob, "rae": rae, "status": status}


async def tell(ctx, **arguments) -> Notification | None:
    async with ctx.database.transaction() as session:
        return await notify(session, **arguments)


async def notifications(ctx) -> list[tuple[int, str, int, int | None]]:
    async with ctx.database.session() as session:
        rows = await session.exec(select(Notification).order_by(Notification.id))
        return [(n.recipient_id, n.kind, n.from_actor_id, n.status_id) for n in rows.all()]


async def test_a_local_recipient_is_told_once_even_when_the_event_repeats(ctx, people):
    ann, rae, status = people["ann"], people["rae"], people["status"]
    first = await tell(ctx, recipient=ann, kind="mention", from_actor=rae, status=status)
    assert first is not None and (first.kind, first.recipient_id, first.status_id) == ("mention", ann.id, status.id)
    assert await tell(ctx, recipient=ann, kind="mention", from_actor=rae, status=status) is None
    assert await notifications(ctx) == [(ann.id, "mention", rae.id, status.id)]


async def test_distinct_events_each_notify(ctx, people):
    ann, bob, rae, status = people["ann"], people["bob"], people["rae"], people["status"]
    other = await remote_post(ctx, rae, "another")
    for arguments in ({"kind": "favourite", "status": status}, {"kind": "reblog", "status": status},
                      {"kind": "favourite", "status": other}, {"kind": "follow"}):
        assert await tell(ctx, recipient=ann, from_actor=rae, **arguments) is not None, arguments
    assert await tell(ctx, recipient=ann, kind="follow", from_actor=bob) is not None
    assert len(await notifications(ctx)) == 5


async def test_nobody_is_told_about_their_own_doing(ctx, people):
    ann = people["ann"]
    assert await tell(ctx, recipient=ann, kind="follow", from_actor=ann) is None
    assert await notifications(ctx) == []


async def test_remote_people_are_not_notified_here(ctx, people):
    assert await tell(ctx, recipient=people["rae"], kind="follow", from_actor=people["ann"]) is None
    assert await notifications(ctx) == []


async def test_a_blocked_sender_is_not_heard(ctx, people):
    ann, bob, rae = people["ann"], people["bob"], people["rae"]
    async with ctx.database.transaction() as session:
        session.add(Block(actor_id=ann.id, target_id=rae.id))
    assert await tell(ctx, recipient=ann, kind="mention", from_actor=rae, status=people["status"]) is None
    # The block is ann's: bob still hears from rae.
    assert await tell(ctx, recipient=bob, kind="follow", from_actor=rae) is not None
    assert await notifications(ctx) == [(bob.id, "follow", rae.id, None)]


async def test_a_mute_silences_only_with_notifications_and_until_it_expires(ctx, people):
    ann, bob, rae = people["ann"], people["bob"], people["rae"]
    carl = (await add_account(ctx, "carl")).actor
    async with ctx.database.transaction() as session:
        session.add(Mute(actor_id=ann.id, target_id=rae.id, notifications=True))
        session.add(Mute(actor_id=bob.id, target_id=rae.id, notifications=False))
        session.add(Mute(actor_id=carl.id, target_id=rae.id, notifications=True,
                         expires_at=utcnow() - timedelta(minutes=1)))
    for person in (ann, bob, carl):
        await tell(ctx, recipient=person, kind="follow", from_actor=rae)
    assert await notifications(ctx) == [(bob.id, "follow", rae.id, None), (carl.id, "follow", rae.id, None)]


async def test_an_unknown_kind_is_a_programming_error(ctx, people):
    with pytest.raises(ValueError):
        await tell(ctx, recipient=people["ann"], kind="poke", from_actor=people["rae"])


async def test_withdraw_removes_the_undone_event_only(ctx, people):
    ann, bob, rae, status = people["ann"], people["bob"], people["rae"], people["status"]
    await tell(ctx, recipient=ann, kind="favourite", from_actor=rae, status=status)
    await tell(ctx, recipient=ann, kind="reblog", from_actor=rae, status=status)
    await tell(ctx, recipient=bob, kind="favourite", from_actor=rae, status=status)
    async with ctx.database.transaction() as session:
        assert await withdraw(session, recipient=ann, kinds=("favourite",), from_actor=rae, status=status) == 1
    assert await notifications(ctx) == [(ann.id, "reblog", rae.id, status.id), (bob.id, "favourite", rae.id, status.id)]
    # Undone and done again: told again.
    assert await tell(ctx, recipient=ann, kind="favourite", from_actor=rae, status=status) is not None


async def test_forgetting_a_status_or_an_actor(ctx, people):
    ann, bob, rae, status = people["ann"], people["bob"], people["rae"], people["status"]
    await tell(ctx, recipient=ann, kind="mention", from_actor=rae, status=status)
    await tell(ctx, recipient=ann, kind="follow", from_actor=rae)
    await tell(ctx, recipient=ann, kind="follow", from_actor=bob)
    async with ctx.database.transaction() as session:
        assert await forget_status(session, status) == 1
    assert {kind for _, kind, _, _ in await notifications(ctx)} == {"follow"}
    async with ctx.database.transaction() as session:
        assert await forget_actor(session, rae) == 1
    assert await notifications(ctx) == [(ann.id, "follow", bob.id, None)]


async def test_each_edit_tells_the_local_boosters_once(ctx, people):
    ann, bob, rae, status = people["ann"], people["bob"], people["rae"], people["status"]
    async with ctx.database.transaction() as session:
        for booster in (ann, bob, rae):
            session.add(Status(uri=f"{booster.uri}/boosts/1", actor_id=booster.id, reblog_of_id=status.id,
                               local=booster.domain is None))
    async with ctx.database.transaction() as session:
        row = await session.get(Status, status.id)
        row.edited_at = utcnow()
        session.add(row)
        assert len(await notify_boosters_of_update(session, row, rae)) == 2
        # The same edit, again: nothing new.
        assert await notify_boosters_of_update(session, row, rae) == []
        row.edited_at = row.edited_at + timedelta(seconds=5)
        assert len(await notify_boosters_of_update(session, row, rae)) == 2
    async with ctx.database.session() as session:
        kinds = await session.exec(select(Notification.recipient_id, func.count()).where(Notification.kind == "update")
                                   .group_by(Notification.recipient_id))
        assert dict(kinds.all()) == {ann.id: 2, bob.id: 2}
