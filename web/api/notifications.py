"""Notifications through the client API: list, show, dismiss, clear.

What is listed is decided here, in one SQL condition (`listable`), so every route agrees:

- the viewer's own notifications only; someone else's id is not found (404);
- nothing from an account the viewer blocks (the block may come after the notification);
- a notification about a status only while the viewer may see that status
  (`actors.visibility`): a deleted status, or one the viewer is not allowed to see,
  takes its notifications out of the list;
- a `follow` only while that follow stands, a `follow_request` only while the request is
  pending: an unfollow, a block that severs the follow, an authorized or rejected request
  takes its notification away (as Mastodon's follows and requests take theirs with them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, false, or_
from sqlmodel import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from actors.notifications import KINDS
from actors.visibility import visible_to
from storage.tables import Block, Follow, Notification, Status
from web.api.entities.notifications import render_notifications
from web.api.paging import Page, link_headers
from web.api.params import NOT_FOUND, get, is_record_id, query_list, record_id
from web.auth import require_viewer
from web.context import context_of
from web.responses import JSONResponse


def listable(viewer_id: int) -> ColumnElement[bool]:
    """The notifications `viewer_id` is shown, on a query that outer-joins their Status."""
    blocked = exists().where(Block.actor_id == viewer_id, Block.target_id == Notification.from_actor_id)

    def follow_in(state: str) -> ColumnElement[bool]:
        return exists().where(Follow.follower_id == Notification.from_actor_id,
                              Follow.followee_id == Notification.recipient_id, Follow.state == state)

    return and_(
        Notification.recipient_id == viewer_id,
        ~blocked,
        or_(Notification.status_id.is_(None), visible_to(viewer_id, Status)),  # type: ignore[union-attr]
        or_(Notification.kind != "follow", follow_in("accepted")),
        or_(Notification.kind != "follow_request", follow_in("pending")),
    )


def _shown(viewer_id: int) -> Select[Any]:
    return (select(Notification, Status).outerjoin(Status, Status.id == Notification.status_id)  # type: ignore[arg-type]
            .where(listable(viewer_id)))


def _filtered(request: Request, query: Select[Any]) -> Select[Any]:
    """`types[]` keeps those kinds (unknown ones match nothing, as in Mastodon), `exclude_types[]`
    drops some, `account_id` keeps one sender's."""
    types = query_list(request, "types")
    if types:
        query = query.where(Notification.kind.in_(sorted(KINDS & set(types))))  # type: ignore[attr-defined]
    excluded = query_list(request, "exclude_types")
    if excluded:
        query = query.where(Notification.kind.not_in(excluded))  # type: ignore[attr-defined]
    account_id = request.query_params.get("account_id")
    if account_id:
        query = query.where(Notification.from_actor_id == int(account_id) if is_record_id(account_id) else false())
    return query


async def list_notifications(request: Request) -> Response:
    viewer = await require_viewer(request, "read:notifications")
    ctx = context_of(request)
    page = Page.of(request, default=40, maximum=80)
    async with ctx.database.session() as session:
        query = _filtered(request, _shown(viewer.actor.id))
        rows = page.arrange((await session.exec(page.apply(query, Notification.id))).all())
        entities = await render_notifications(session, rows, ctx.urls, viewer.actor.id)
    page_ids = [notification.id for notification, _ in rows]
    return JSONResponse(entities, headers=link_headers(request, ctx.urls.base_url, page_ids))


async def get_notification(request: Request) -> Response:
    viewer = await require_viewer(request, "read:notifications")
    notification_id = record_id(request.path_params["id"])
    ctx = context_of(request)
    async with ctx.database.session() as session:
        row = (await session.exec(_shown(viewer.actor.id).where(Notification.id == notification_id))).first()
        entities = await render_notifications(session, [row] if row else [], ctx.urls, viewer.actor.id)
    if not entities:
        raise HTTPException(404, NOT_FOUND)
    return JSONResponse(entities[0])


async def dismiss(request: Request) -> Response:
    viewer = await require_viewer(request, "write:notifications")
    notification_id = record_id(request.path_params["id"])
    async with context_of(request).database.transaction() as session:
        result = await session.exec(delete(Notification).where(  # type: ignore[call-overload]
            Notification.id == notification_id, Notification.recipient_id == viewer.actor.id))
        if result.rowcount == 0:
            raise HTTPException(404, NOT_FOUND)
    return JSONResponse({})


async def clear(request: Request) -> Response:
    viewer = await require_viewer(request, "write:notifications")
    async with context_of(request).database.transaction() as session:
        await session.exec(delete(Notification).where(  # type: ignore[call-overload]
            Notification.recipient_id == viewer.actor.id))
    return JSONResponse({})  # an empty object, not an empty body: clients parse it as JSON


routes = [
    *get("/api/v1/notifications", list_notifications),
    *get("/api/v1/notifications/clear", clear, methods=("POST",)),
    *get("/api/v1/notifications/{id}", get_notification),
    *get("/api/v1/notifications/{id}/dismiss", dismiss, methods=("POST",)),
]
