"""Telling local people that a poll has ended.

When a poll's time is up, its local author and every local voter who may still see it get a
`poll` notification (Mastodon's rule; the author's is the one notification that comes "from"
its own recipient). Remote polls end here on their own clock too: their server's final
totals arrive separately, as an Update of the Question.

`PollEndings.run` is one of the workers `rounds serve` and `rounds worker` run. Each poll is
claimed by flipping `end_notified` in the same transaction that writes the notifications,
so several workers never tell anyone twice, and a crash before the commit leaves the poll
to be announced by the next pass. A poll that ended long before anyone ran a worker (a
server down for a week) is marked without notifying: old news is noise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import false, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.notifications import notify_each
from storage.availability import OutageWait, is_unavailable
from storage.engine import Database
from storage.tables import Actor, Notification, Poll, PollVote, Status

log = logging.getLogger(__name__)

BATCH = 100
TOO_OLD = timedelta(days=7)
INTERVAL = 5.0  # seconds between passes when nothing was due


async def announce_ended_polls(session: AsyncSession, now: datetime, limit: int = BATCH) -> list[Notification]:
    """Notify for up to `limit` polls that ended by `now` and were not announced yet."""
    due = await session.exec(
        select(Poll.id).where(Poll.end_notified == false(), Poll.expires_at <= now)  # type: ignore[operator]
        .order_by(Poll.expires_at).limit(limit))
    made: list[Notification] = []
    for poll_id in due.all():
        claimed = await session.exec(update(Poll).where(  # type: ignore[call-overload]
            Poll.id == poll_id, Poll.end_notified == false()).values(end_notified=True))
        if claimed.rowcount != 1:
            continue  # another worker has it
        made += await _announce(session, poll_id, now)
    return made


async def _announce(session: AsyncSession, poll_id: int, now: datetime) -> list[Notification]:
    poll = await session.get(Poll, poll_id)
    assert poll is not None and poll.expires_at is not None
    status = await session.get(Status, poll.status_id)
    if poll.expires_at < now - TOO_OLD or status is None or status.deleted_at is not None:
        return []
    author = await session.get(Actor, status.actor_id)
    assert author is not None
    voted = select(PollVote.actor_id).where(PollVote.poll_id == poll.id)
    voters = await session.exec(
        select(Actor).where(Actor.id.in_(voted), Actor.domain.is_(None)))  # type: ignore[union-attr]
    recipients = {voter.id: voter for voter in voters.all()}
    if author.domain is None:
        recipients[author.id] = author
    return await notify_each(session, recipients.values(), "poll", from_actor=author, status=status, now=now,
                             if_they_may_see=True)


class PollEndings:
    """The worker: announces ended polls every few seconds."""

    def __init__(self, database: Database, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 interval: float = INTERVAL) -> None:
        self._database = database
        self._clock = clock
        self._interval = interval
        self._outage = OutageWait(log, "poll endings worker")

    async def run_once(self) -> int:
        """Announce what is due now; returns how many notifications were written."""
        async with self._database.transaction() as session:
            return len(await announce_ended_polls(session, self._clock()))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
                self._outage.succeeded()
            except Exception as error:
                if is_unavailable(error):
                    self._outage.failed(error)  # logged once per outage; the interval paces the retries
                else:
                    log.exception("announcing ended polls failed; retrying")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
            except TimeoutError:
                pass
