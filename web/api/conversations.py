"""Conversations: the viewer's direct-visibility threads, worked out from the statuses.

A direct status the viewer wrote or is mentioned in belongs to the conversation of the root
of its reply chain (the topmost status known here; itself when it is not a reply). The
conversation's id is that root's id; its accounts are everyone else who wrote or was
mentioned in its direct statuses the viewer may see; it is ordered and paged by its newest
such status.

Nothing records which conversations a person has read or hidden (there is no table for
it), so every conversation is `unread: false`, `POST …/read` answers the conversation
unchanged and `DELETE` answers `{}` without hiding it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Select, Subquery, and_, func, literal
from sqlalchemy.orm import aliased
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from actors.visibility import visible_to
from storage.tables import Actor, Mention, Status
from web.api.entities import account, load_accounts, render_statuses
from web.api.paging import Page, link_headers
from web.api.params import NOT_FOUND, get, record_id
from web.api.statuses import MAX_THREAD_DEPTH
from web.auth import require_viewer
from web.context import AppContext, context_of


def _roots(viewer_id: int) -> Subquery:
    """(status_id, root_id) for each direct status the viewer may see."""
    direct = and_(Status.visibility == "direct", Status.reblog_of_id.is_(None),  # type: ignore[union-attr]
                  visible_to(viewer_id))
    chain = (select(Status.id.label("start_id"), Status.id.label("node_id"),  # type: ignore[attr-defined]
                    Status.in_reply_to_uri.label("parent_uri"), literal(0).label("depth"))  # type: ignore[attr-defined]
             .where(direct).cte("conversation_chain", recursive=True))
    parent = aliased(Status)
    chain = chain.union_all(
        select(chain.c.start_id, parent.id, parent.in_reply_to_uri, chain.c.depth + 1)
        .where(parent.uri == chain.c.parent_uri, chain.c.depth < MAX_THREAD_DEPTH))
    deepest = (select(chain.c.start_id, func.max(chain.c.depth).label("depth"))
               .group_by(chain.c.start_id).subquery("deepest"))
    return (select(chain.c.start_id.label("status_id"), chain.c.node_id.label("root_id"))
            .join(deepest, and_(deepest.c.start_id == chain.c.start_id, deepest.c.depth == chain.c.depth))
            .subquery("roots"))


def _conversations(viewer_id: int) -> tuple[Select[Any], Any]:
    """A query of (root_id, last_id), and the column to page it by."""
    roots = _roots(viewer_id)
    grouped = (select(roots.c.root_id, func.max(roots.c.status_id).label("last_id"))
               .group_by(roots.c.root_id).subquery("conversations"))
    return select(grouped.c.root_id, grouped.c.last_id), grouped.c.last_id


async def _participants(session: AsyncSession, viewer_id: int, root_ids: list[int]) -> dict[int, list[int]]:
    """root id → the other people in that conversation: authors and those mentioned."""
    roots = _roots(viewer_id)
    members = (await session.exec(select(roots.c.root_id, roots.c.status_id)
                                  .where(roots.c.root_id.in_(root_ids)))).all()
    root_of = {status_id: root_id for root_id, status_id in members}
    found: dict[int, set[int]] = defaultdict(set)
    if root_of:
        authors = await session.exec(select(Status.id, Status.actor_id).where(Status.id.in_(list(root_of))))
        mentioned = await session.exec(select(Mention.status_id, Actor.id).join(Actor, Actor.uri == Mention.actor_uri)
                                       .where(Mention.status_id.in_(list(root_of))))
        for status_id, actor_id in [*authors.all(), *mentioned.all()]:
            found[root_of[status_id]].add(actor_id)
    return {root_id: sorted(found[root_id] - {viewer_id}) for root_id in root_ids}


async def _render(ctx: AppContext, session: AsyncSession, viewer_id: int,
                  rows: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Conversation entities for (root_id, last_id) rows, in order, with a fixed number of queries."""
    if not rows:
        return []
    participants = await _participants(session, viewer_id, [root_id for root_id, _ in rows])
    last = (await session.exec(select(Status).where(Status.id.in_([last_id for _, last_id in rows])))).all()
    rendered = {entity["id"]: entity for entity in await render_statuses(session, last, ctx.urls, viewer_id)}
    batch = await load_accounts(session, {actor_id for ids in participants.values() for actor_id in ids})
    return [{"id": str(root_id), "unread": False,
             "accounts": [account(batch.actors[actor_id], batch, ctx.urls) for actor_id in participants[root_id]
                          if actor_id in batch.actors],
             "last_status": rendered[str(last_id)]}
            for root_id, last_id in rows if str(last_id) in rendered]


async def conversations(request: Request) -> Response:
    viewer = await require_viewer(request, "read:statuses")
    ctx = context_of(request)
    page = Page.of(request)
    query, paging_column = _conversations(viewer.actor.id)
    async with ctx.database.session() as session:
        rows = page.arrange([(root_id, last_id) for root_id, last_id in
                             (await session.exec(page.apply(query, paging_column))).all()])
        entities = await _render(ctx, session, viewer.actor.id, rows)
    return JSONResponse(entities, headers=link_headers(request, ctx.urls.base_url, [last_id for _, last_id in rows]))


async def _one(request: Request, viewer_id: int) -> dict[str, Any]:
    ctx = context_of(request)
    root_id = record_id(request.path_params["id"])
    query, _ = _conversations(viewer_id)
    async with ctx.database.session() as session:
        row = (await session.exec(query.where(query.selected_columns.root_id == root_id))).first()
        entities = await _render(ctx, session, viewer_id, [(row[0], row[1])]) if row is not None else []
    if not entities:
        raise HTTPException(404, NOT_FOUND)
    return entities[0]


async def read_conversation(request: Request) -> Response:
    """Fixed: read state is not kept (every conversation is read), so this answers the
    conversation as it is; 404 for one the viewer is not in."""
    viewer = await require_viewer(request, "write:conversations")
    return JSONResponse(await _one(request, viewer.actor.id))


async def remove_conversation(request: Request) -> Response:
    """Fixed `{}`: hidden conversations are not kept, so it stays listed; 404 for one the
    viewer is not in."""
    viewer = await require_viewer(request, "write:conversations")
    await _one(request, viewer.actor.id)
    return JSONResponse({})


routes = [
    *get("/api/v1/conversations", conversations),
    *get("/api/v1/conversations/{id}/read", read_conversation, methods=("POST",)),
    *get("/api/v1/conversations/{id}", remove_conversation, methods=("DELETE",)),
]
