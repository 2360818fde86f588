"""Conversations: the viewer's direct-visibility threads, worked out from the statuses.

A direct status the viewer wrote or is mentioned in belongs to the conversation of the root
of its reply chain (the topmost status known here; itself when it is not a reply). The
conversation's id is that root's id; its accounts are everyone else who wrote or was
mentioned in its direct statuses the viewer may see; it is ordered and paged by its newest
such status.

A person's marks on a conversation (`ConversationMark`) are status ids: it is unread while
its newest status is someone else's and newer than the read mark (`POST …/read` moves the
mark to it), and hidden (`DELETE`) until a status newer than the hidden mark arrives, as
Mastodon brings a removed conversation back when someone writes in it again.
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
from starlette.responses import Response

from actors.visibility import visible_to
from storage.tables import Actor, ConversationMark, Mention, Status
from web.api.entities import account, load_accounts, render_statuses
from web.api.paging import Page, link_headers
from web.api.params import NOT_FOUND, get, record_id
from web.api.statuses import MAX_THREAD_DEPTH
from web.auth import require_viewer
from web.context import AppContext, context_of
from web.responses import JSONResponse


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
    """A query of (root_id, last_id, read_up_to) for the conversations the viewer has not
    hidden, and the column to page it by."""
    roots = _roots(viewer_id)
    grouped = (select(roots.c.root_id, func.max(roots.c.status_id).label("last_id"))
               .group_by(roots.c.root_id).subquery("conversations"))
    mark = aliased(ConversationMark)
    query = (select(grouped.c.root_id, grouped.c.last_id, func.coalesce(mark.read_up_to, 0))
             .outerjoin(mark, and_(mark.actor_id == viewer_id, mark.root_id == grouped.c.root_id))
             .where(grouped.c.last_id > func.coalesce(mark.hidden_up_to, 0)))
    return query, grouped.c.last_id


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


Row = tuple[int, int, int]  # root_id, last_id, read_up_to


async def _render(ctx: AppContext, session: AsyncSession, viewer_id: int, rows: list[Row]) -> list[dict[str, Any]]:
    """Conversation entities for rows, in order, with a fixed number of queries."""
    if not rows:
        return []
    participants = await _participants(session, viewer_id, [root_id for root_id, _, _ in rows])
    last = {status.id: status for status in (await session.exec(
        select(Status).where(Status.id.in_([last_id for _, last_id, _ in rows])))).all()}
    rendered = {entity["id"]: entity for entity in await render_statuses(session, list(last.values()), ctx.urls,
                                                                         viewer_id)}
    batch = await load_accounts(session, {actor_id for ids in participants.values() for actor_id in ids})
    return [{"id": str(root_id),
             "unread": last[last_id].actor_id != viewer_id and last_id > read_up_to,
             "accounts": [account(batch.actors[actor_id], batch, ctx.urls) for actor_id in participants[root_id]
                          if actor_id in batch.actors],
             "last_status": rendered[str(last_id)]}
            for root_id, last_id, read_up_to in rows if str(last_id) in rendered]


async def conversation_of_status(ctx: AppContext, session: AsyncSession, viewer_id: int,
                                 status_id: int) -> dict[str, Any] | None:
    """The Conversation a direct status belongs to, as the list shows it to the viewer; None
    when it is not one of theirs or they hid it (the streaming API's `conversation` event)."""
    roots = _roots(viewer_id)
    root_id = (await session.exec(select(roots.c.root_id).where(roots.c.status_id == status_id))).first()
    if root_id is None:
        return None
    query, _ = _conversations(viewer_id)
    row = (await session.exec(query.where(query.selected_columns.root_id == root_id))).first()
    if row is None:
        return None
    rendered = await _render(ctx, session, viewer_id, [tuple(row)])  # type: ignore[list-item]
    return rendered[0] if rendered else None


async def conversations(request: Request) -> Response:
    viewer = await require_viewer(request, "read:statuses")
    ctx = context_of(request)
    page = Page.of(request)
    query, paging_column = _conversations(viewer.actor.id)
    async with ctx.database.session() as session:
        rows = page.arrange([tuple(row) for row in (await session.exec(page.apply(query, paging_column))).all()])
        entities = await _render(ctx, session, viewer.actor.id, rows)
    return JSONResponse(entities, headers=link_headers(request, ctx.urls.base_url, [row[1] for row in rows]))


async def _one(session: AsyncSession, viewer_id: int, root_id: int) -> Row:
    """The viewer's conversation with this root; 404 when they are not in it (or hid it)."""
    query, _ = _conversations(viewer_id)
    row = (await session.exec(query.where(query.selected_columns.root_id == root_id))).first()
    if row is None:
        raise HTTPException(404, NOT_FOUND)
    return tuple(row)  # type: ignore[return-value]


async def _mark(session: AsyncSession, viewer_id: int, root_id: int) -> ConversationMark:
    found = await session.exec(select(ConversationMark).where(
        ConversationMark.actor_id == viewer_id, ConversationMark.root_id == root_id))
    return found.first() or ConversationMark(actor_id=viewer_id, root_id=root_id)


async def read_conversation(request: Request) -> Response:
    """Mark the conversation read up to its newest status; answers it."""
    viewer = await require_viewer(request, "write:conversations")
    ctx = context_of(request)
    root_id = record_id(request.path_params["id"])
    async with ctx.database.transaction() as session:
        root_id, last_id, _ = await _one(session, viewer.actor.id, root_id)
        mark = await _mark(session, viewer.actor.id, root_id)
        mark.read_up_to = max(mark.read_up_to, last_id)
        session.add(mark)
        await session.flush()
        [entity] = await _render(ctx, session, viewer.actor.id, [(root_id, last_id, mark.read_up_to)])
    return JSONResponse(entity)


async def remove_conversation(request: Request) -> Response:
    """Hide the conversation until someone writes in it again; answers `{}`. Its statuses stay."""
    viewer = await require_viewer(request, "write:conversations")
    root_id = record_id(request.path_params["id"])
    async with context_of(request).database.transaction() as session:
        root_id, last_id, _ = await _one(session, viewer.actor.id, root_id)
        mark = await _mark(session, viewer.actor.id, root_id)
        mark.hidden_up_to = mark.read_up_to = max(mark.hidden_up_to, last_id)
        session.add(mark)
    return JSONResponse({})


routes = [
    *get("/api/v1/conversations", conversations),
    *get("/api/v1/conversations/{id}/read", read_conversation, methods=("POST",)),
    *get("/api/v1/conversations/{id}", remove_conversation, methods=("DELETE",)),
]
