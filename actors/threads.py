"""Threads: the status a reply chain starts from, and the threads people muted.

Rounds keeps no thread column: a status's thread is named by its root, the topmost status
known here up its chain of `in_reply_to_uri` (itself when it is not a reply, or when its
parent is not known here). One recursive query finds the roots of a batch of statuses,
bounded by MAX_DEPTH so a chain that loops or never ends cannot hold the database.

A muted thread (Mastodon's conversation mute) stops every notification about its statuses
for the person who muted it; the statuses themselves still show.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import and_, func, literal
from sqlalchemy.orm import aliased
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.tables import Status, ThreadMute

MAX_DEPTH = 256


async def thread_roots(session: AsyncSession, status_ids: Iterable[int]) -> dict[int, int]:
    """status id → the id of its thread's root, for each of `status_ids` that exists."""
    ids = list(set(status_ids))
    if not ids:
        return {}
    chain = (select(Status.id.label("start_id"), Status.id.label("node_id"),  # type: ignore[attr-defined]
                    Status.in_reply_to_uri.label("parent_uri"), literal(0).label("depth"))  # type: ignore[attr-defined]
             .where(Status.id.in_(ids)).cte("thread_chain", recursive=True))  # type: ignore[attr-defined]
    parent = aliased(Status)
    chain = chain.union_all(
        select(chain.c.start_id, parent.id, parent.in_reply_to_uri, chain.c.depth + 1)
        .where(parent.uri == chain.c.parent_uri, chain.c.depth < MAX_DEPTH))
    deepest = (select(chain.c.start_id, func.max(chain.c.depth).label("depth"))
               .group_by(chain.c.start_id).subquery("deepest"))
    rows = await session.exec(
        select(chain.c.start_id, chain.c.node_id)
        .join(deepest, and_(deepest.c.start_id == chain.c.start_id, deepest.c.depth == chain.c.depth)))
    return dict(rows.all())  # type: ignore[arg-type]


async def muted_thread_statuses(session: AsyncSession, actor_id: int, status_ids: Iterable[int]) -> set[int]:
    """Those of `status_ids` that are in a thread `actor_id` muted (no thread walk when they muted none)."""
    muted_roots = set((await session.exec(select(ThreadMute.root_id).where(ThreadMute.actor_id == actor_id))).all())
    return await statuses_in_threads(session, muted_roots, status_ids)


async def statuses_in_threads(session: AsyncSession, root_ids: Collection[int], status_ids: Iterable[int]) -> set[int]:
    """Those of `status_ids` in the threads that start at `root_ids` (no thread walk for none)."""
    if not root_ids:
        return set()
    return {status_id for status_id, root_id in (await thread_roots(session, status_ids)).items()
            if root_id in root_ids}


async def mute_thread(session: AsyncSession, actor_id: int, status: Status) -> None:
    root_id = (await thread_roots(session, [status.id]))[status.id]
    found = await session.exec(select(ThreadMute).where(ThreadMute.actor_id == actor_id,
                                                        ThreadMute.root_id == root_id))
    if found.first() is None:
        session.add(ThreadMute(actor_id=actor_id, root_id=root_id))
        await session.flush()


async def unmute_thread(session: AsyncSession, actor_id: int, status: Status) -> None:
    root_id = (await thread_roots(session, [status.id]))[status.id]
    found = (await session.exec(select(ThreadMute).where(ThreadMute.actor_id == actor_id,
                                                         ThreadMute.root_id == root_id))).first()
    if found is not None:
        await session.delete(found)
        await session.flush()
