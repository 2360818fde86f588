"""Paged lists of statuses and accounts, and the conditions timelines share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, and_, exists, or_
from sqlalchemy.orm import aliased
from starlette.requests import Request

from actors.visibility import visible_to
from storage.tables import Block, MediaAttachment, Mute, Status
from web.api.entities import account, load_accounts, render_statuses
from web.api.entities.accounts import mute_in_force
from web.api.paging import Page, link_headers
from web.context import context_of
from web.responses import JSONResponse

# Made once: an alias of Status builds a proxy of each of its columns on first use, which cost
# more than the rest of a home-timeline request's query put together when made per request.
# Each condition below has its own, so that no two subqueries of one query share a name.
BOOSTED = aliased(Status, name="boosted")
PARENT = aliased(Status, name="parent")
MUTED_ORIGINAL = aliased(Status, name="muted_original")


def boost_shown(viewer_id: int | None) -> ColumnElement[bool]:
    """Not a boost, or a boost of a status the viewer may see (so pages are not short)."""
    return or_(Status.reblog_of_id.is_(None),  # type: ignore[union-attr]
               exists().where(BOOSTED.id == Status.reblog_of_id, visible_to(viewer_id, BOOSTED)))


def not_a_reply_to_others() -> ColumnElement[bool]:
    """Mastodon's `without_replies`: top-level posts and threads the author continues."""
    return or_(Status.in_reply_to_uri.is_(None),  # type: ignore[union-attr]
               exists().where(PARENT.uri == Status.in_reply_to_uri, PARENT.actor_id == Status.actor_id))


def with_media() -> ColumnElement[bool]:
    return exists().where(MediaAttachment.status_id == Status.id)


def not_blocked_by(viewer_id: int | None) -> ColumnElement[bool]:
    """Timelines leave out whoever the viewer blocks (the statuses stay reachable by id)."""
    if viewer_id is None:
        return Status.id.is_not(None)  # type: ignore[union-attr]
    return ~exists().where(Block.actor_id == viewer_id, Block.target_id == Status.actor_id)


def not_muted_by(viewer_id: int | BindParameter[Any] | None, now: Any = None) -> ColumnElement[bool]:
    """Timelines leave out whoever the viewer mutes, their posts and boosts of their posts
    alike, until the mute expires (`now`: the current time, by default; or a bind parameter)."""
    if viewer_id is None:
        return Status.id.is_not(None)  # type: ignore[union-attr]

    def muted(author_id: Any) -> ColumnElement[bool]:
        return exists().where(Mute.actor_id == viewer_id, Mute.target_id == author_id, mute_in_force(now))

    return and_(~muted(Status.actor_id),
                ~exists().where(MUTED_ORIGINAL.id == Status.reblog_of_id, muted(MUTED_ORIGINAL.actor_id)))


class PagedStatuses:
    """A query selecting Status built once, with bind parameters (`storage.prepared`) in place
    of the viewer's values, paged by status id (`column`: a column equal to it that the database
    should walk instead): one statement for each shape of page, built on its first use, so that a
    request builds no SQL."""

    def __init__(self, query: Select[Any], column: Any = Status.id) -> None:
        self._query = query
        self._column = column
        self._paged: dict[tuple[bool, bool, bool], Select[Any]] = {}

    def for_page(self, page: Page) -> Select[Any]:
        statement = self._paged.get(page.shape)
        if statement is None:
            statement = self._paged[page.shape] = page.bind(self._query, self._column)
        return statement


async def status_page(request: Request, query: Select[Any] | PagedStatuses, viewer_id: int | None,
                      page: Page | None = None, *, context: str | None = None,
                      params: dict[str, Any] | None = None) -> JSONResponse:
    """Run `query` (selecting Status; a `PagedStatuses` with the values of its `params`) for the
    request's page and answer the rendered statuses, with the viewer's filters for `context`
    applied (a hidden status leaves the page short, but the Link header still pages past it)."""
    ctx = context_of(request)
    page = page or Page.of(request)
    if isinstance(query, PagedStatuses):
        statement, values = query.for_page(page), {**(params or {}), **page.params()}
    else:
        statement, values = page.apply(query, Status.id), {}
    async with ctx.database.session() as session:
        rows = page.arrange((await session.exec(statement, params=values)).all())
        entities = await render_statuses(session, rows, ctx.urls, viewer_id, context)
    return JSONResponse(entities, headers=link_headers(request, ctx.urls.base_url, [row.id for row in rows]))


async def account_page(request: Request, query: Select[Any], paging_column: Any) -> JSONResponse:
    """Run `query` (selecting `paging_column`, Actor) for the request's page: accounts, paged by
    the relation row's id (a follow, a favourite, a boost)."""
    ctx = context_of(request)
    page = Page.of(request, default=40, maximum=80)
    async with ctx.database.session() as session:
        rows = page.arrange((await session.exec(page.apply(query, paging_column))).all())
        batch = await load_accounts(session, [actor.id for _, actor in rows])
    entities = [account(batch.actors[actor.id], batch, ctx.urls) for _, actor in rows]
    return JSONResponse(entities, headers=link_headers(request, ctx.urls.base_url, [row_id for row_id, _ in rows]))


async def related_status_page(request: Request, query: Select[Any], paging_column: Any,
                              viewer_id: int | None, *, context: str | None = None) -> JSONResponse:
    """Run `query` (selecting `paging_column`, Status) for the request's page: statuses paged by
    the relation row's id (a bookmark, a favourite, a pin), so the newest bookmark comes first."""
    ctx = context_of(request)
    page = Page.of(request)
    async with ctx.database.session() as session:
        rows = page.arrange((await session.exec(page.apply(query, paging_column))).all())
        entities = await render_statuses(session, [status for _, status in rows], ctx.urls, viewer_id, context)
    return JSONResponse(entities, headers=link_headers(request, ctx.urls.base_url, [row_id for row_id, _ in rows]))
