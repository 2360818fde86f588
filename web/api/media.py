"""Uploading pictures through the client API, and handing them to a post.

    POST /api/v1/media, /api/v2/media   multipart `file`, `description`, `focus="x,y"`
    GET  /api/v1/media/:id              the uploader's own attachment
    PUT  /api/v1/media/:id              its description and focus, until a post uses it

Pictures are redrawn synchronously (`web.images`), so the answer is always 200 with `url`
set: masto.js polls GET until `url` is truthy, and Tusky and the Android app need it. A
refused upload (not a picture, damaged, too many pixels, too large) leaves no row and no file.
Someone else's attachment is answered like one that does not exist: 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from storage.tables import MediaAttachment
from web.api.entities import media_attachment
from web.api.entities.instance import DESCRIPTION_LIMIT, IMAGE_MATRIX_LIMIT, IMAGE_SIZE_LIMIT, MAX_MEDIA_ATTACHMENTS
from web.api.params import NOT_FOUND, get, record_id
from web.auth import require_viewer
from web.context import context_of
from web.images import ATTACHMENT, PREVIEW, Box, ImageRefused, Picture, redraw
from web.media import media_store
from web.oauth import request_params, validation_error
from web.responses import JSONResponse

Handler = Callable[[Request], Awaitable[Response]]


class Refused(Exception):
    """A parameter refused with Mastodon's 422 "Validation failed: <Label> <description>"."""

    def __init__(self, field: str, code: str, description: str, label: str) -> None:
        super().__init__(f"{label} {description}")
        self.field, self.code, self.description, self.label = field, code, description, label


def refusing(handler: Handler) -> Handler:
    """Answer a `Refused` raised anywhere in `handler` as 422; it is raised before any write."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Refused as refused:
            return validation_error(refused.field, refused.code, refused.description, refused.label)

    return endpoint


# --- reading what was sent ----------------------------------------------------------------

async def picture_bytes(value: Any, field: str, label: str) -> bytes:
    """The bytes of an uploaded file part: 413 past the advertised `image_size_limit`."""
    if not isinstance(value, UploadFile):
        raise Refused(field, "blank", "must be an uploaded file", label)
    data = await value.read(IMAGE_SIZE_LIMIT + 1)
    if len(data) > IMAGE_SIZE_LIMIT:
        raise HTTPException(413, f"{label} is larger than {IMAGE_SIZE_LIMIT} bytes")
    if not data:
        raise Refused(field, "blank", "can't be blank", label)
    return data


async def redrawn(data: bytes, box: Box, field: str, label: str, *, preview: Box | None = None) -> Picture:
    """The picture redrawn off the event loop (a 12-megapixel photo takes about half a second)."""
    try:
        return await run_in_threadpool(redraw, data, box, max_pixels=IMAGE_MATRIX_LIMIT, preview=preview)
    except ImageRefused as refusal:
        raise Refused(field, "invalid", f"is invalid: {refusal}", label) from None


def text_value(value: Any) -> str | None:
    """A text parameter as clients send it (a string, or from JSON a number or boolean)."""
    if value is None or isinstance(value, dict | list | UploadFile):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def description_of(value: Any) -> str | None:
    text = text_value(value)
    if text is None:
        return None
    if len(text) > DESCRIPTION_LIMIT:
        raise Refused("description", "too_long", f"is too long (maximum is {DESCRIPTION_LIMIT} characters)",
                      "Description")
    return text.strip()


def focus_of(value: Any) -> tuple[float, float] | None:
    """Mastodon's focal point, "x,y", each from -1.0 to 1.0; None when not given."""
    text = (text_value(value) or "").strip()
    if not text:
        return None
    parts = text.split(",")
    try:
        x, y = (float(part) for part in parts) if len(parts) == 2 else (None, None)
    except ValueError:
        x = y = None
    if x is None or y is None or not (-1.0 <= x <= 1.0 and -1.0 <= y <= 1.0):
        raise Refused("focus", "invalid", "must be two numbers from -1.0 to 1.0, as \"x,y\"", "Focus")
    return x, y


async def multipart(request: Request) -> dict[str, Any]:
    """The last value of each multipart field (files included); empty for other bodies."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "multipart/form-data":
        return {}
    form = await request.form(max_files=4, max_fields=64)
    return {key: form.getlist(key)[-1] for key in form.keys()}


# --- routes -------------------------------------------------------------------------------

@refusing
async def upload(request: Request) -> Response:
    viewer = await require_viewer(request, "write:media")
    form = await multipart(request)
    data = await picture_bytes(form.get("file"), "file", "File")
    description = description_of(form.get("description"))
    focus = focus_of(form.get("focus"))
    picture = await redrawn(data, ATTACHMENT, "file", "File", preview=PREVIEW)
    assert picture.preview is not None
    store = media_store(request)
    file_name, preview_name = await store.write(picture.original, picture.preview)
    try:
        async with context_of(request).database.transaction() as session:
            media = MediaAttachment(
                remote_url=store.url(file_name), media_type=picture.original.media_type,
                description=description or "", blurhash=picture.blurhash,
                width=picture.original.width, height=picture.original.height,
                actor_id=viewer.actor.id, file_name=file_name, preview_file_name=preview_name,
                focus_x=focus[0] if focus else None, focus_y=focus[1] if focus else None)
            session.add(media)
    except BaseException:
        await store.remove(file_name, preview_name)
        raise
    return JSONResponse(media_attachment(media))


async def _own(session: AsyncSession, media_id: int, actor_id: int) -> MediaAttachment:
    found = (await session.exec(select(MediaAttachment).where(
        MediaAttachment.id == media_id, MediaAttachment.actor_id == actor_id))).first()
    if found is None:
        raise HTTPException(404, NOT_FOUND)
    return found


async def show(request: Request) -> Response:
    viewer = await require_viewer(request, "write:media")  # Mastodon's scope for every media route
    media_id = record_id(request.path_params["id"])
    async with context_of(request).database.session() as session:
        media = await _own(session, media_id, viewer.actor.id)
    return JSONResponse(media_attachment(media))


@refusing
async def update(request: Request) -> Response:
    viewer = await require_viewer(request, "write:media")
    media_id = record_id(request.path_params["id"])
    params = await request_params(request)
    description = description_of(params.get("description"))
    focus = focus_of(params.get("focus"))
    async with context_of(request).database.transaction() as session:
        media = await _own(session, media_id, viewer.actor.id)
        if media.status_id is not None:
            # As Mastodon: a posted attachment changes only through an edit of its post, so
            # that followers' servers hear of it.
            raise HTTPException(404, NOT_FOUND)
        if description is not None:
            media.description = description
        if focus is not None:
            media.focus_x, media.focus_y = focus
        session.add(media)
        await session.flush()
        return JSONResponse(media_attachment(media))


async def remove(request: Request) -> Response:
    """Delete an upload not (or no longer) attached to a post, files and all: `{}`. One a post
    carries is refused (422): it goes with its post."""
    viewer = await require_viewer(request, "write:media")
    media_id = record_id(request.path_params["id"])
    async with context_of(request).database.transaction() as session:
        media = await _own(session, media_id, viewer.actor.id)
        if media.status_id is not None:
            raise HTTPException(422, "Media attachment is currently used by a status")
        files = (media.file_name, media.preview_file_name)
        await session.delete(media)
    await media_store(request).remove(*files)
    return JSONResponse({})


# --- for the composer ---------------------------------------------------------------------

async def attachments_for_post(session: AsyncSession, actor_id: int, media_ids: list[int]) -> list[MediaAttachment]:
    """The uploads a new post may carry, in the order given: the author's own, not yet used by
    another post, at most `MAX_MEDIA_ATTACHMENTS`. Anything else is a ValueError that says why
    (without telling whether someone else's id exists)."""
    wanted = list(dict.fromkeys(media_ids))
    if len(wanted) > MAX_MEDIA_ATTACHMENTS:
        raise ValueError(f"a post can carry at most {MAX_MEDIA_ATTACHMENTS} attachments")
    if not wanted:
        return []
    rows = await session.exec(select(MediaAttachment).where(
        MediaAttachment.id.in_(wanted), MediaAttachment.actor_id == actor_id,  # type: ignore[attr-defined]
        MediaAttachment.status_id.is_(None)))  # type: ignore[union-attr]
    found = {media.id: media for media in rows.all()}
    for media_id in wanted:
        if media_id not in found:
            raise ValueError(f"media {media_id} is not one of your unused uploads")
    return [found[media_id] for media_id in wanted]


routes = [
    *get("/api/v1/media", upload, methods=("POST",)),
    *get("/api/v2/media", upload, methods=("POST",)),
    *get("/api/v1/media/{id}", show),
    *get("/api/v1/media/{id}", update, methods=("PUT",)),
    *get("/api/v1/media/{id}", remove, methods=("DELETE",)),
]
