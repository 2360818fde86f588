"""What a person keeps about statuses besides posting them: bookmarks, pins, muted threads,
the lists of their bookmarks and favourites, and a status's edit history and source text.

Bookmarks and muted threads are private; pins of public and unlisted posts federate (`Add`
and `Remove` on the `featured` collection). A status the viewer may not see answers 404.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from actors.threads import mute_thread, unmute_thread
from actors.visibility import visible_to
from federation.html import clean_html, clean_text
from storage.tables import Bookmark, Favourite, Pin, Status, StatusEdit
from web.api.compose import to_text
from web.api.entities import entity_id, iso_datetime, render_status
from web.api.listing import related_status_page
from web.api.params import NOT_FOUND, get, record_id
from web.api.status_actions import outbox_of
from web.api.statuses import visible_status
from web.auth import Viewer, optional_viewer, require_viewer
from web.context import AppContext, context_of
from web.responses import JSONResponse

MAX_PINNED = 5  # Mastodon's StatusPinValidator
PINNABLE = frozenset({"public", "unlisted", "private", "network"})


async def _original(session: AsyncSession, raw_id: str, viewer: Viewer) -> Status:
    """The status in the path, a boost standing for the post it boosts (as favourites do)."""
    status = await visible_status(session, raw_id, viewer.actor.id)
    if status.reblog_of_id is not None:
        status = await visible_status(session, str(status.reblog_of_id), viewer.actor.id)
    return status


async def _answer(session: AsyncSession, ctx: AppContext, status: Status, viewer: Viewer) -> JSONResponse:
    await session.flush()  # the flags are read back from the rows just written
    entity = await render_status(session, status, ctx.urls, viewer.actor.id)
    if entity is None:
        raise HTTPException(404, NOT_FOUND)
    return JSONResponse(entity)


# --- muted threads ------------------------------------------------------------------------

def _thread_action(act):
    """Mute or unmute the thread of the status in the path (any visible status of it names
    it); answers the status, `muted` as it now is."""

    async def endpoint(request: Request) -> Response:
        viewer = await require_viewer(request, "write:mutes")
        ctx = context_of(request)
        async with ctx.database.transaction() as session:
            status = await _original(session, request.path_params["id"], viewer)
            await act(session, viewer.actor.id, status)
            return await _answer(session, ctx, status, viewer)

    endpoint.__name__ = act.__name__
    return endpoint


# --- bookmarks ----------------------------------------------------------------------------

async def bookmark(request: Request) -> Response:
    viewer = await require_viewer(request, "write:bookmarks")
    ctx = context_of(request)
    async with ctx.database.transaction() as session:
        status = await _original(session, request.path_params["id"], viewer)
        found = await session.exec(select(Bookmark).where(
            Bookmark.actor_id == viewer.actor.id, Bookmark.status_id == status.id))
        if found.first() is None:
            session.add(Bookmark(actor_id=viewer.actor.id, status_id=status.id))
        return await _answer(session, ctx, status, viewer)


async def unbookmark(request: Request) -> Response:
    """A bookmarked status can be unbookmarked even when it is no longer visible (Mastodon's
    BookmarksController looks the bookmark up first); otherwise it must be visible."""
    viewer = await require_viewer(request, "write:bookmarks")
    ctx = context_of(request)
    status_id = record_id(request.path_params["id"])
    async with ctx.database.transaction() as session:
        found = (await session.exec(select(Bookmark).where(
            Bookmark.actor_id == viewer.actor.id, Bookmark.status_id == status_id))).first()
        if found is None:
            status = await _original(session, str(status_id), viewer)
            found = (await session.exec(select(Bookmark).where(
                Bookmark.actor_id == viewer.actor.id, Bookmark.status_id == status.id))).first()
        else:
            bookmarked = await session.get(Status, found.status_id)
            assert bookmarked is not None  # bookmarks.status_id is a foreign key
            status = bookmarked
        if found is not None:
            await session.delete(found)  # a bookmark is private: nothing is sent
        return await _answer(session, ctx, status, viewer)


async def bookmarks(request: Request) -> Response:
    """The viewer's bookmarks, newest bookmark first, paged by the bookmark's id; a status they
    may no longer see is left out."""
    viewer = await require_viewer(request, "read:bookmarks")
    viewer_id = viewer.actor.id
    query = (select(Bookmark.id, Status).join(Status, Status.id == Bookmark.status_id)
             .where(Bookmark.actor_id == viewer_id, visible_to(viewer_id)))
    return await related_status_page(request, query, Bookmark.id, viewer_id)


async def favourites(request: Request) -> Response:
    """What the viewer favourited, newest favourite first, paged by the favourite's id."""
    viewer = await require_viewer(request, "read:favourites")
    viewer_id = viewer.actor.id
    query = (select(Favourite.id, Status).join(Status, Status.id == Favourite.status_id)
             .where(Favourite.actor_id == viewer_id, visible_to(viewer_id)))
    return await related_status_page(request, query, Favourite.id, viewer_id)


# --- pins ---------------------------------------------------------------------------------

def _refused(message: str) -> HTTPException:
    return HTTPException(422, f"Validation failed: {message}")


async def _pin_problem(session: AsyncSession, status: Status, viewer: Viewer) -> str | None:
    """Why `status` cannot be pinned by the viewer, in Mastodon's words, or None."""
    if status.reblog_of_id is not None:
        return "A boost cannot be pinned"
    if status.actor_id != viewer.actor.id:
        return "Someone else's post cannot be pinned"
    if status.visibility == "direct":
        return "Posts that are only visible to mentioned users cannot be pinned"
    if status.visibility not in PINNABLE:
        return "Local-only posts cannot be pinned"
    pinned = await session.exec(select(func.count()).select_from(Pin).join(Status, Status.id == Pin.status_id)
                                .where(Pin.actor_id == viewer.actor.id,
                                       Status.deleted_at.is_(None)))  # type: ignore[union-attr]
    if pinned.one() >= MAX_PINNED:
        return "You have already pinned the maximum number of posts"
    return None


async def pin(request: Request) -> Response:
    viewer = await require_viewer(request, "write:accounts")
    ctx = context_of(request)
    async with ctx.database.transaction() as session:
        status = await visible_status(session, request.path_params["id"], viewer.actor.id)
        found = await session.exec(select(Pin).where(Pin.actor_id == viewer.actor.id, Pin.status_id == status.id))
        if found.first() is None:  # pinning again is not an error
            problem = await _pin_problem(session, status, viewer)
            if problem is not None:
                raise _refused(problem)
            session.add(Pin(actor_id=viewer.actor.id, status_id=status.id))
            await outbox_of(request).announce_pin(session, viewer.actor, status, pinned=True)
        return await _answer(session, ctx, status, viewer)


async def unpin(request: Request) -> Response:
    viewer = await require_viewer(request, "write:accounts")
    ctx = context_of(request)
    async with ctx.database.transaction() as session:
        status = await visible_status(session, request.path_params["id"], viewer.actor.id)
        found = (await session.exec(select(Pin).where(
            Pin.actor_id == viewer.actor.id, Pin.status_id == status.id))).first()
        if found is not None:
            await session.delete(found)
            await outbox_of(request).announce_pin(session, viewer.actor, status, pinned=False)
        return await _answer(session, ctx, status, viewer)


# --- history and source -------------------------------------------------------------------

def _version(content: str, summary: str, sensitive: bool, created_at: Any, entity: dict[str, Any]) -> dict[str, Any]:
    """A StatusEdit. Media cannot be changed by an edit here, so every version shows the
    status's media."""
    return {
        "content": clean_html(content),
        "spoiler_text": clean_text(summary),
        "sensitive": sensitive,
        "created_at": iso_datetime(created_at),
        "account": entity["account"],
        "poll": None,
        "media_attachments": entity["media_attachments"],
        "emojis": [],
    }


async def history(request: Request) -> Response:
    """Every version of a status, oldest first, the current one last (a status never edited
    has one version)."""
    viewer = await optional_viewer(request, "read:statuses")
    viewer_id = viewer.actor.id if viewer else None
    ctx = context_of(request)
    async with ctx.database.session() as session:
        status = await visible_status(session, request.path_params["id"], viewer_id)
        entity = await render_status(session, status, ctx.urls, viewer_id)
        if entity is None:
            raise HTTPException(404, NOT_FOUND)
        edits = (await session.exec(select(StatusEdit).where(StatusEdit.status_id == status.id)
                                    .order_by(StatusEdit.created_at, StatusEdit.id))).all()
    versions = [_version(edit.content, edit.summary, edit.sensitive, edit.created_at, entity) for edit in edits]
    versions.append(_version(status.content, status.summary, status.sensitive,
                             status.edited_at or status.created_at, entity))
    return JSONResponse(versions)


async def source(request: Request) -> Response:
    """The text of one's own status, to edit it. No source is stored: our own HTML reads back
    into the text, mentions written in full from the accounts they link."""
    viewer = await require_viewer(request, "read:statuses")
    ctx = context_of(request)
    async with ctx.database.session() as session:
        status = await visible_status(session, request.path_params["id"], viewer.actor.id)
        if status.actor_id != viewer.actor.id or status.reblog_of_id is not None:
            raise HTTPException(404, NOT_FOUND)  # as Mastodon: only one's own statuses
        entity = await render_status(session, status, ctx.urls, viewer.actor.id)
    assert entity is not None  # not a boost
    accts = {mention["url"]: mention["acct"] for mention in entity["mentions"]}
    return JSONResponse({"id": entity_id(status.id), "text": to_text(status.content, accts),
                         "spoiler_text": status.summary})


routes = [
    *get("/api/v1/statuses/{id}/bookmark", bookmark, methods=("POST",)),
    *get("/api/v1/statuses/{id}/unbookmark", unbookmark, methods=("POST",)),
    *get("/api/v1/statuses/{id}/pin", pin, methods=("POST",)),
    *get("/api/v1/statuses/{id}/unpin", unpin, methods=("POST",)),
    *get("/api/v1/statuses/{id}/mute", _thread_action(mute_thread), methods=("POST",)),
    *get("/api/v1/statuses/{id}/unmute", _thread_action(unmute_thread), methods=("POST",)),
    *get("/api/v1/statuses/{id}/history", history),
    *get("/api/v1/statuses/{id}/source", source),
    *get("/api/v1/bookmarks", bookmarks),
    *get("/api/v1/favourites", favourites),
]
