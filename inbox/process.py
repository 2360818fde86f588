"""The inbox worker: claim accepted activities and apply each with its handler.

One transaction per activity holds the handler's effects and the item's new state, so an
activity is applied exactly once even if a worker dies half-way (its claim expires and
another worker starts over from a clean slate). That transaction first locks the item and
checks it is still pending, so two workers that both hold it (a lease that ran out) cannot
both apply it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.remote import ActorUnavailable
from federation.documents import DocumentError, type_of
from inbox import follows, moderation, notes, pins, reactions
from inbox.context import Activity, HandlerContext, Ignore, Retry
from storage.availability import OutageWait, is_unavailable
from storage.engine import Database
from storage.tables import Actor, Block, Favourite, Follow, InboxItem, Status, Tombstone

log = logging.getLogger("rounds.inbox")

Handler = Callable[[AsyncSession, HandlerContext, Activity, Actor], Awaitable[str]]
UndoHandler = Callable[[AsyncSession, HandlerContext, str, Actor], Awaitable[str]]

HANDLERS: dict[str, Handler] = {
    "Follow": follows.on_follow,
    "Accept": follows.on_accept,
    "Reject": follows.on_reject,
    "Block": follows.on_block,
    "Create": notes.on_create,
    "Update": notes.on_update,
    "Delete": notes.on_delete,
    "Like": reactions.on_like,
    "Announce": reactions.on_announce,
    "Flag": moderation.on_flag,
    "Add": pins.on_add,
    "Remove": pins.on_remove,
}
UNDO_HANDLERS: dict[str, UndoHandler] = {
    "Follow": follows.undo_follow,
    "Like": reactions.undo_like,
    "Announce": reactions.undo_announce,
    "Block": follows.undo_block,
}
MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=30)  # a killed worker's items come back this soon


async def on_undo(session: AsyncSession, h: HandlerContext, activity: Activity, actor: Actor) -> str:
    undone = reactions.undone_id(activity, actor)
    obj = activity.get("object")
    kind = type_of(obj) if isinstance(obj, dict) else await _kind_of(session, undone)
    if kind is None:
        # Nothing of that id here yet: remember it, so that it is not applied if it comes late.
        if await session.get(Tombstone, undone) is None:
            session.add(Tombstone(uri=undone, actor_uri=actor.uri))
        return "undo of an unknown activity remembered"
    handler = UNDO_HANDLERS.get(kind)
    if handler is None:
        raise Ignore(f"Undo of {kind} is not handled")
    return await handler(session, h, undone, actor)


async def _kind_of(session: AsyncSession, activity_id: str) -> str | None:
    """What a bare activity id in an Undo names, among the things kept here by that id."""
    for kind, column in (("Follow", Follow.uri), ("Like", Favourite.uri), ("Announce", Status.uri),
                         ("Block", Block.uri)):
        if (await session.exec(select(column).where(column == activity_id))).first() is not None:
            return kind
    return None


HANDLERS["Undo"] = on_undo


async def apply(session: AsyncSession, h: HandlerContext, item: InboxItem) -> tuple[str, str]:
    """Run the item's handler in `session`; returns (state, outcome). Raises Retry."""
    activity = json.loads(item.body)
    handler = HANDLERS.get(item.activity_type)
    if handler is None:
        return "ignored", f"{item.activity_type} activities are not handled"
    try:
        actor = await h.actors.resolve(item.actor_uri)
    except ActorUnavailable as error:
        raise Retry(f"actor unavailable: {error.reason}") from None
    actor = await session.merge(actor)
    try:
        return "done", await handler(session, h, activity, actor)
    except Ignore as reason:
        return "ignored", str(reason)
    except DocumentError as error:
        return "ignored", f"refused: {error}"


async def _pending(session: AsyncSession, item_id: int) -> InboxItem | None:
    """The item, locked until the transaction ends (on PostgreSQL), if it still waits to be applied."""
    found = await session.exec(select(InboxItem).where(InboxItem.id == item_id, InboxItem.state == "pending")
                               .with_for_update())
    return found.first()


class InboxWorker:
    def __init__(self, database: Database, handler_context: HandlerContext, *, batch: int = 50) -> None:
        self._database = database
        self._h = handler_context
        self._batch = batch
        self._wake = asyncio.Event()
        self._outage = OutageWait(log, "inbox worker")

    def notify(self) -> None:
        self._wake.set()

    async def _claim(self, now: datetime) -> list[int]:
        """Lease up to `batch` due items, oldest first, in one statement. On PostgreSQL they are
        picked `FOR UPDATE SKIP LOCKED`, and the conditions are checked again on the locked row,
        so two workers never lease the same item."""
        due = [InboxItem.state == "pending", InboxItem.process_after <= now]
        picked = (select(InboxItem.id).where(*due).order_by(InboxItem.id).limit(self._batch)
                  .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
                  .cte("picked").prefix_with("MATERIALIZED"))
        lease = (update(InboxItem).where(InboxItem.id.in_(select(picked.c.id)), *due)
                 .values(process_after=now + LEASE).returning(InboxItem.id)
                 .execution_options(synchronize_session=False))
        async with self._database.transaction() as session:
            return sorted((await session.execute(lease)).scalars().all())

    async def run_once(self) -> int:
        now = self._h.clock()
        claimed = await self._claim(now)
        for item_id in claimed:
            await self._process(item_id)
        return len(claimed)

    async def _process(self, item_id: int) -> None:
        try:
            async with self._database.transaction() as session:
                item = await _pending(session, item_id)
                if item is None:
                    return  # another worker settled it
                state, outcome = await apply(session, self._h, item)
                item.state, item.outcome = state, outcome[:1000]
                item.attempts += 1
                item.processed_at = self._h.clock()
                session.add(item)
            return
        except Retry as reason:
            outcome, give_up = str(reason), False
        except Exception as error:  # a bug must not stop the worker; the item records it
            if is_unavailable(error):
                raise  # not the item's fault: it comes back when its lease ends, uncounted
            log.exception("inbox item %s failed", item_id)
            outcome, give_up = f"error: {type(error).__name__}: {error}", True
        async with self._database.transaction() as session:
            item = await _pending(session, item_id)
            if item is None:
                return
            item.attempts += 1
            item.outcome = outcome[:1000]
            if give_up or item.attempts >= MAX_ATTEMPTS:
                item.state = "failed"
                item.processed_at = self._h.clock()
            else:
                delay = min(30 * 2 ** item.attempts, 6 * 3600) * random.uniform(0.5, 1.0)
                item.process_after = self._h.clock() + timedelta(seconds=delay)
            session.add(item)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                worked = await self.run_once()
                self._outage.succeeded()
            except Exception as error:
                if is_unavailable(error):
                    await self._outage.pause(stop, error)
                    continue
                log.exception("inbox worker pass failed; retrying")
                worked = 0
            if worked:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            except TimeoutError:
                pass
