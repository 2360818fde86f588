"""Reading statuses: one status, its thread, who boosted and who favourited it.

A status the viewer may not see answers 404, exactly like one that does not exist, so that
its existence is not confirmed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import literal
from sqlalchemy.orm import aliased
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from actors.visibility import local_viewer_may_see, visible_to
from storage.tables import Actor, Favourite, Status
from web.api.entities import render_status, render_statuses
from web.api.listing import account_page
from web.api.params import NOT_FOUND, get, record_id
from web.auth import optional_viewer
from web.context import context_of
from web.responses import JSONResponse

# A thread deeper than this is cut: it bounds the recursive queries (and any reply loop).
MAX_THREAD_DEPTH = 256


async def visible_status(session: AsyncSession, raw_id: str, viewer_id: int | None) -> Status:
    status = await session.get(Status, record_id(raw_id))
    if status is None or not await local_viewer_may_see(session, status, viewer_id):
        raise HTTPException(404, NOT_FOUND)
    return status


async def get_status(request: Request) -> Response:
    viewer = await optional_viewer(request, "read:statuses")
    viewer_id = viewer.actor.id if viewer else None
    ctx = context_of(request)
    async with ctx.database.session() as session:
        status = await visible_status(session, request.path_params["id"], viewer_id)
        entity = await render_status(session, status, ctx.urls, viewer_id)
    if entity is None:  # a boost of a deleted post
        raise HTTPException(404, NOT_FOUND)
    return JSONResponse(entity)


async def _ancestors(session: AsyncSession, status: Status, viewer_id: int | None) -> list[Status]:
    """The chain of parents, oldest first, leaving out those the viewer may not see."""
    if not status.in_reply_to_uri:
        return []
    chain = (select(Status.id, Status.in_reply_to_uri, literal(1).label("depth"))
             .where(Status.uri == status.in_reply_to_uri).cte("ancestors", recursive=True))
    parent = aliased(Status)
    chain = chain.union_all(
        select(parent.id, parent.in_reply_to_uri, chain.c.depth + 1)
        .where(parent.uri == chain.c.in_reply_to_uri, chain.c.depth < MAX_THREAD_DEPTH))
    rows = await session.exec(select(Status, chain.c.depth).join(chain, chain.c.id == Status.id)
                              .where(visible_to(viewer_id)).order_by(chain.c.depth.desc()))
    return list({row.id: row for row, _ in rows.all() if row.id != status.id}.values())


async def _descendants(session: AsyncSession, status: Status, viewer_id: int | None) -> list[Status]:
    """Replies and their replies, depth first (as Mastodon orders them); a reply the viewer
    may not see is left out, but visible replies below it are kept."""
    tree = (select(Status.id, Status.uri, literal(1).label("depth"))
            .where(Status.in_reply_to_uri == status.uri).cte("descendants", recursive=True))
    child = aliased(Status)
    tree = tree.union_all(
        select(child.id, child.uri, tree.c.depth + 1)
        .where(child.in_reply_to_uri == tree.c.uri, tree.c.depth < MAX_THREAD_DEPTH))
    in_tree = select(tree.c.id)
    everything = (await session.exec(select(Status).where(Status.id.in_(in_tree)))).all()
    visible = set((await session.exec(select(Status.id).where(Status.id.in_(in_tree), visible_to(viewer_id)))).all())
    children: dict[str, list[Status]] = defaultdict(list)
    for row in everything:
        children[row.in_reply_to_uri or ""].append(row)
    ordered: list[Status] = []
    seen = {status.id}
    stack = sorted(children[status.uri], key=lambda row: row.id, reverse=True)
    while stack:
        row = stack.pop()
        if row.id in seen:
            continue
        seen.add(row.id)
        if row.id in visible:
            ordered.append(row)
        stack.extend(sorted(children[row.uri], key=lambda child_row: child_row.id, reverse=True))
    return ordered


async def context(request: Request) -> Response:
    viewer = await optional_viewer(request, "read:statuses")
    viewer_id = viewer.actor.id if viewer else None
    ctx = context_of(request)
    async with ctx.database.session() as session:
        status = await visible_status(session, request.path_params["id"], viewer_id)
        ancestors = await _ancestors(session, status, viewer_id)
        descendants = await _descendants(session, status, viewer_id)
        rendered = await render_statuses(session, ancestors + descendants, ctx.urls, viewer_id, context="thread")
    by_id: dict[str, Any] = {entity["id"]: entity for entity in rendered}
    return JSONResponse({
        "ancestors": [by_id[str(row.id)] for row in ancestors if str(row.id) in by_id],
        "descendants": [by_id[str(row.id)] for row in descendants if str(row.id) in by_id],
    })


async def reblogged_by(request: Request) -> Response:
    viewer = await optional_viewer(request, "read:statuses")
    async with context_of(request).database.session() as session:
        status = await visible_status(session, request.path_params["id"], viewer.actor.id if viewer else None)
    query = (select(Status.id, Actor).join(Actor, Actor.id == Status.actor_id)
             .where(Status.reblog_of_id == status.id, Status.deleted_at.is_(None)))  # type: ignore[union-attr]
    return await account_page(request, query, Status.id)


async def favourited_by(request: Request) -> Response:
    viewer = await optional_viewer(request, "read:statuses")
    async with context_of(request).database.session() as session:
        status = await visible_status(session, request.path_params["id"], viewer.actor.id if viewer else None)
    query = (select(Favourite.id, Actor).join(Actor, Actor.id == Favourite.actor_id)
             .where(Favourite.status_id == status.id))
    return await account_page(request, query, Favourite.id)


routes = [
    *get("/api/v1/statuses/{id}", get_status),
    *get("/api/v1/statuses/{id}/context", context),
    *get("/api/v1/statuses/{id}/reblogged_by", reblogged_by),
    *get("/api/v1/statuses/{id}/favourited_by", favourited_by),
]
