"""When a poll ends, its local voters are told once each, on a real database (both engines)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from actors.poll_endings import announce_ended_polls
from storage.tables import Notification, Poll, PollVote, utcnow
from tests.conftest import add_account, add_remote_actor
from tests.support.api import remote_post


async def test_a_voter_who_chose_two_answers_is_told_once_when_a_remote_poll_ends(ctx):
    ann = (await add_account(ctx, "ann")).actor
    rae = await add_remote_actor(ctx, "rae")
    status = await remote_post(ctx, rae, "Which days suit you?")
    now = utcnow()
    async with ctx.database.transaction() as session:
        poll = Poll(status_id=status.id, multiple=True, expires_at=now - timedelta(minutes=1))
        session.add(poll)
        await session.flush()
        session.add_all([PollVote(poll_id=poll.id, actor_id=ann.id, position=position) for position in (0, 2)])
    async with ctx.database.transaction() as session:
        made = await announce_ended_polls(session, now)
    assert [(notification.recipient_id, notification.kind) for notification in made] == [(ann.id, "poll")]
    async with ctx.database.session() as session:
        stored = (await session.exec(select(Notification.recipient_id, Notification.kind))).all()
    assert stored == [(ann.id, "poll")]
