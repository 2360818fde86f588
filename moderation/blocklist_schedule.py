"""The schedule of subscribed blocklists: `BlocklistRefresher`, one of the workers `rounds serve`
and `rounds worker` run, refreshes each subscription every `ROUNDS_BLOCKLIST_REFRESH` seconds,
counted from the last attempt (a failed one too: an unreachable member is not asked every minute).

Several workers share the work: a due subscription is claimed (its `refreshed_at` moved on, in an
UPDATE that only one of them wins) before it is fetched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from federation.fetch import Fetcher
from moderation.blocklists import NotFound, refresh
from moderation.network import Network
from storage.engine import Database
from storage.tables import BlocklistSubscription

log = logging.getLogger(__name__)

TICK = 60.0  # seconds between looks for due subscriptions


async def due_subscriptions(session: AsyncSession, *, now: datetime, every: float) -> list[int]:
    """Subscriptions never refreshed, or last refreshed (or tried) `every` seconds ago or more."""
    cutoff = now - timedelta(seconds=every)
    rows = await session.exec(select(BlocklistSubscription.id).where(
        col(BlocklistSubscription.refreshed_at).is_(None) | (col(BlocklistSubscription.refreshed_at) <= cutoff))
        .order_by(col(BlocklistSubscription.refreshed_at)))
    return list(rows.all())


async def claim_due(session: AsyncSession, subscription_id: int, *, now: datetime, every: float) -> bool:
    """Take a due subscription for this worker (False when another one took it first)."""
    cutoff = now - timedelta(seconds=every)
    result = await session.exec(update(BlocklistSubscription).where(  # type: ignore[call-overload]
        col(BlocklistSubscription.id) == subscription_id,
        col(BlocklistSubscription.refreshed_at).is_(None) | (col(BlocklistSubscription.refreshed_at) <= cutoff))
        .values(refreshed_at=now))
    return result.rowcount == 1


class BlocklistRefresher:
    """The worker `rounds serve` and `rounds worker` run: refreshes each subscription every
    `every` seconds (`ROUNDS_BLOCKLIST_REFRESH`), looking for due ones every `tick` seconds.
    Several workers share the work: each subscription is claimed before it is fetched."""

    def __init__(self, database: Database, fetcher: Fetcher, *, every: float, own_domain: str,
                 network: Network | None, clock: Callable[[], datetime], tick: float = TICK) -> None:
        self._database = database
        self._fetcher = fetcher
        self._every = every
        self._own_domain = own_domain
        self._network = network
        self._clock = clock
        self._tick = min(tick, every)

    async def run_once(self) -> int:
        """Refresh every due subscription; returns how many were refreshed (successfully or not)."""
        now = self._clock()
        async with self._database.session() as session:
            due = await due_subscriptions(session, now=now, every=self._every)
        done = 0
        for subscription_id in due:
            async with self._database.transaction() as session:
                if not await claim_due(session, subscription_id, now=now, every=self._every):
                    continue
            try:
                await refresh(self._database, self._fetcher, subscription_id, now=now, own_domain=self._own_domain,
                              network=self._network)
            except NotFound:
                continue  # unsubscribed meanwhile
            done += 1
        return done

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("refreshing blocklists failed; retrying")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._tick)
            except TimeoutError:
                pass
