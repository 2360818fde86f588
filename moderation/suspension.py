"""What suspending a domain does to what we hold from it.

`sever_domain` (in the suspending transaction, called by `save_block`): every follow between
our accounts and its accounts, both ways, and every delivery still queued for it, are
removed, and what it delivered that is still waiting in our inbox queue is set aside
(`ignored`). No Undo or Reject is sent: a suspended domain is sent nothing.

`drop_media` (in the transaction that sets `reject_media`): the attachments we hold of its posts.

`purge_domain` (after, in batches, each its own transaction): its accounts' posts and boosts
become tombstones (content wiped, as a Delete from their author would leave them), with
their attachments, edits, tags and the notifications about them; then its accounts'
favourites and the notifications they caused. It yields the running counts, so the CLI can
show progress and a crash resumes where it stopped. Lifting the block restores nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import delete, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from moderation.policy import within_domains
from storage.engine import Database
from storage.tables import (
    Actor,
    Delivery,
    DomainBlock,
    Favourite,
    Follow,
    InboxItem,
    MediaAttachment,
    Notification,
    Status,
    StatusEdit,
    StatusTag,
)

BATCH = 200
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeProgress:
    statuses: int = 0
    media: int = 0
    notifications: int = 0
    favourites: int = 0
    done: bool = False


def _actors_of(domain: str):
    return select(Actor.id).where(within_domains(col(Actor.domain), [domain]))


async def sever_domain(session: AsyncSession, domain: str) -> int:
    """Remove the follows both ways and the queued deliveries; returns how many follows went."""
    accounts = _actors_of(domain)
    result = await session.exec(delete(Follow).where(  # type: ignore[call-overload]
        col(Follow.follower_id).in_(accounts) | col(Follow.followee_id).in_(accounts)))
    await session.exec(delete(Delivery).where(  # type: ignore[call-overload]
        within_domains(col(Delivery.host), [domain]), Delivery.state != "delivered"))
    # Activities it delivered before the suspension and not yet processed are not processed.
    escaped = domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    hosts = [f"%://{escaped}/%", f"%://%.{escaped}/%"]
    if ":" not in domain:
        hosts += [f"%://{escaped}:%", f"%://%.{escaped}:%"]
    await session.exec(update(InboxItem).where(  # type: ignore[call-overload]
        InboxItem.state == "pending", or_(*(col(InboxItem.actor_uri).like(host, escape="\\") for host in hosts)))
        .values(state="ignored", outcome=f"{domain} was suspended"))
    return result.rowcount


async def drop_media(session: AsyncSession, domain: str) -> int:
    """`reject_media` newly set: forget the attachments we hold of its accounts' posts (they stay
    on their server; Mastodon's BlockDomainService clears them the same way)."""
    statuses = select(Status.id).where(col(Status.actor_id).in_(_actors_of(domain)))
    return await _delete(session, MediaAttachment, col(MediaAttachment.status_id).in_(statuses))


async def purge_domain(database: Database, domain: str, *, batch: int = BATCH,
                       clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> AsyncIterator[PurgeProgress]:
    """Purge what we cached from `domain`, yielding the counts after each batch (then `done`)."""
    progress = PurgeProgress()
    accounts = _actors_of(domain)
    while True:
        async with database.transaction() as session:
            ids = list((await session.exec(select(Status.id).where(
                col(Status.actor_id).in_(accounts), col(Status.deleted_at).is_(None))
                .order_by(col(Status.id)).limit(batch))).all())
            if not ids:
                break
            media = await _delete(session, MediaAttachment, col(MediaAttachment.status_id).in_(ids))
            notifications = await _delete(session, Notification, col(Notification.status_id).in_(ids))
            await _delete(session, StatusEdit, col(StatusEdit.status_id).in_(ids))
            await _delete(session, StatusTag, col(StatusTag.status_id).in_(ids))
            await session.exec(update(Status).where(col(Status.id).in_(ids))  # type: ignore[call-overload]
                               .values(deleted_at=clock(), content="", summary=""))
        progress = replace(progress, statuses=progress.statuses + len(ids), media=progress.media + media,
                           notifications=progress.notifications + notifications)
        yield progress
    async with database.transaction() as session:
        favourites = await _delete(session, Favourite, col(Favourite.actor_id).in_(accounts))
        notifications = await _delete(session, Notification, col(Notification.from_actor_id).in_(accounts))
    yield replace(progress, favourites=favourites, notifications=progress.notifications + notifications, done=True)


async def purge_all(database: Database, domain: str, **options) -> PurgeProgress:
    """`purge_domain` run to the end; the final counts."""
    final = PurgeProgress()
    async for progress in purge_domain(database, domain, **options):
        final = progress
    return final


async def _delete(session: AsyncSession, table: type, condition) -> int:
    result = await session.exec(delete(table).where(condition))  # type: ignore[call-overload]
    return result.rowcount


class SuspensionPurges:
    """The worker `rounds serve` and `rounds worker` run: every `every` seconds, purge whatever
    is still held from each suspended domain. Suspensions from a subscribed blocklist and purges
    cut short (a restart mid-way) are finished here; a domain with nothing left costs one query."""

    def __init__(self, database: Database, *, every: float = 300.0) -> None:
        self._database = database
        self._every = every

    async def run_once(self) -> int:
        """Purge each suspended domain; returns how many statuses were purged in all."""
        async with self._database.session() as session:
            domains = (await session.exec(select(DomainBlock.domain).where(DomainBlock.severity == "suspend"))).all()
        purged = 0
        for domain in domains:
            purged += (await purge_all(self._database, domain)).statuses
        return purged

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                purged = await self.run_once()
                if purged:
                    log.info("purged %d statuses of suspended domains", purged)
            except Exception:
                log.exception("purging suspended domains failed; trying again later")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._every)
            except TimeoutError:
                pass
