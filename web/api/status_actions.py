"""Writing statuses: post, edit, delete, favourite, boost and their undoing.

Each route checks the token, reads and validates every parameter, then does its work in one
transaction through the `Outbox`, so a refusal writes nothing and a success has its
deliveries queued. A status the viewer may not see answers 404, as on the read side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from outbox.actions import ActionError, Outbox
from outbox.polls import PollDraft
from storage.tables import Actor, IdempotencyKey, MediaAttachment, Status, utcnow
from web.api.compose import MentionTarget, countable_length, scan, to_html, to_text
from web.api.entities import render_status
from web.api.entities.instance import (
    MAX_POLL_EXPIRATION,
    MAX_POLL_OPTION_CHARACTERS,
    MAX_POLL_OPTIONS,
    MAX_STATUS_CHARACTERS,
    MIN_POLL_EXPIRATION,
)
from web.api.media import attachments_for_post
from web.api.params import NOT_FOUND, body_flag, get, is_record_id
from web.api.statuses import visible_status
from web.auth import Viewer, require_viewer
from web.context import AppContext, context_of
from web.media import media_store
from web.oauth import request_params, validation_error
from web.responses import JSONResponse

# Mastodon's four, our local-only level (never federated) and, on an instance in a network,
# network-only (followers on member instances only; to other servers it is followers-only).
VISIBILITIES = ("public", "unlisted", "private", "direct", "local", "network")
NOT_ALLOWED = "This action is not allowed"
MAX_LANGUAGE = 16  # the column's width
IDEMPOTENCY_WINDOW = timedelta(hours=1)  # as long as Mastodon keeps an Idempotency-Key
MAX_IDEMPOTENCY_KEY = 255  # the column's width; longer keys are kept as their digest


class Invalid(Exception):
    """A parameter Mastodon would refuse with 422 "Validation failed: <Label> <description>".

    Not a frozen dataclass: contextlib sets `__traceback__` on exceptions leaving a block."""

    def __init__(self, field: str, code: str, description: str, label: str) -> None:
        super().__init__(f"{label} {description}")
        self.field, self.code, self.description, self.label = field, code, description, label


Handler = Callable[[Request], Awaitable[Response]]


def refusing_invalid(handler: Handler) -> Handler:
    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Invalid as invalid:  # raised before or inside the transaction: nothing is written
            return validation_error(invalid.field, invalid.code, invalid.description, invalid.label)
    return endpoint


def outbox_of(request: Request) -> Outbox:
    return request.app.state.federation.outbox


# --- parameters ---------------------------------------------------------------------------
# Form values are strings; JSON ones may be numbers, booleans or lists (toot, masto.js).

def _string(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    if value is None or isinstance(value, dict):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _language(params: dict[str, Any]) -> str | None:
    """An ISO 639 code (`en`, `pt-BR`); None when absent."""
    raw = (_string(params, "language") or "").strip()
    if not raw:
        return None
    primary, _, region = raw.partition("-")
    if not (2 <= len(primary) <= 3 and primary.isascii() and primary.isalpha()) \
            or len(raw) > MAX_LANGUAGE or (region and not (region.isascii() and region.isalnum())):
        raise Invalid("language", "invalid", "is not a valid language", "Language")
    return raw


def _media_ids(params: dict[str, Any]) -> list[int]:
    """`media_ids[]` (forms), `media_ids` (JSON): upload ids, as strings or numbers."""
    raw = params.get("media_ids")
    values = raw if isinstance(raw, list) else [] if raw in (None, "") else [raw]
    if not all(isinstance(value, str | int) and not isinstance(value, bool) and is_record_id(str(value))
               for value in values):
        raise Invalid("media_ids", "invalid", "must be ids of your uploads", "Media")
    return [int(value) for value in values]


def _poll(params: dict[str, Any]) -> PollDraft | None:
    """`poll` as JSON (`{options, expires_in, multiple, hide_totals}`, Mastodon.py) or as the form
    keys `poll[options][]`, `poll[expires_in]`, …; None when no poll is asked for."""
    nested = params.get("poll")
    if isinstance(nested, dict):
        fields = nested
    else:
        fields = {key[len("poll["):-1]: value for key, value in params.items()
                  if key.startswith("poll[") and key.endswith("]")}
    if not fields:
        return None
    raw_options = fields.get("options")
    options = raw_options if isinstance(raw_options, list) else [] if raw_options in (None, "") else [raw_options]
    if not all(isinstance(option, str) for option in options):
        raise Invalid("poll[options]", "invalid", "must be a list of texts", "Poll options")
    options = [option.strip() for option in options]
    if len(options) < 2:
        raise Invalid("poll[options]", "too_few_options", "must have at least 2 items", "Poll options")
    if len(options) > MAX_POLL_OPTIONS:
        raise Invalid("poll[options]", "too_many_options", f"must have at most {MAX_POLL_OPTIONS} items",
                      "Poll options")
    if any(not option for option in options):
        raise Invalid("poll[options]", "blank", "can't be blank", "Poll options")
    if any(len(option) > MAX_POLL_OPTION_CHARACTERS for option in options):
        raise Invalid("poll[options]", "too_long", f"must be at most {MAX_POLL_OPTION_CHARACTERS} characters each",
                      "Poll options")
    if len(set(options)) < len(options):  # a vote names its option by title
        raise Invalid("poll[options]", "duplicate", "must be different from each other", "Poll options")
    expires_in = _string(fields, "expires_in") or ""
    if not (expires_in.isascii() and expires_in.isdigit()) \
            or not MIN_POLL_EXPIRATION <= int(expires_in) <= MAX_POLL_EXPIRATION:
        raise Invalid("poll[expires_in]", "invalid",
                      f"must be between {MIN_POLL_EXPIRATION} and {MAX_POLL_EXPIRATION} seconds", "Poll duration")
    # Whole seconds: the Question's endTime carries no more, and copies elsewhere should agree.
    expires_at = utcnow().replace(microsecond=0) + timedelta(seconds=int(expires_in))
    return PollDraft(options=tuple(options), expires_at=expires_at,
                     multiple=body_flag(fields, "multiple"), hide_totals=body_flag(fields, "hide_totals"))


@dataclass(frozen=True)
class Written:
    text: str
    spoiler_text: str


def _written(params: dict[str, Any], *, with_media: bool = False) -> Written:
    """`status` and `spoiler_text`, checked like Mastodon: text required (unless pictures are
    posted), and the warning and the text together within the limit."""
    text = (_string(params, "status") or "").strip()
    spoiler_text = (_string(params, "spoiler_text") or "").strip()
    if not text and not with_media:
        raise Invalid("text", "blank", "can't be blank", "Text")
    if countable_length(text) + countable_length(spoiler_text) > MAX_STATUS_CHARACTERS:
        raise Invalid("text", "too_long", f"character limit of {MAX_STATUS_CHARACTERS} exceeded", "Text")
    return Written(text=text, spoiler_text=spoiler_text)


# --- looking things up --------------------------------------------------------------------

async def _mentioned_accounts(session: AsyncSession, ctx: AppContext,
                              text: str) -> tuple[dict[tuple[str, str | None], MentionTarget], list[Actor]]:
    """The handles in `text` that name accounts we know (local, or remote and cached):
    the link targets by handle key, and the accounts in order of first mention."""
    handles = scan(text).handles
    if not handles:
        return {}, []
    candidates = await session.exec(select(Actor).where(
        Actor.username_key.in_({handle.key[0] for handle in handles})))
    known = {(actor.username_key, actor.domain.lower() if actor.domain else None): actor
             for actor in candidates.all()}
    targets: dict[tuple[str, str | None], MentionTarget] = {}
    actors: dict[int, Actor] = {}
    for handle in handles:
        username, domain = handle.key
        actor = known.get((username, None if domain == ctx.urls.domain.lower() else domain))
        if actor is None or actor.uri == ctx.urls.instance_actor:
            continue  # an unknown handle stays text
        targets[handle.key] = MentionTarget(url=actor.url or actor.uri, username=actor.username)
        actors.setdefault(actor.id, actor)
    return targets, list(actors.values())


async def _target(session: AsyncSession, raw_id: str, viewer: Viewer) -> Status:
    """The status an action is about: a boost stands for the post it boosts."""
    status = await visible_status(session, raw_id, viewer.actor.id)
    if status.reblog_of_id is not None:
        status = await visible_status(session, str(status.reblog_of_id), viewer.actor.id)
    return status


async def _own(session: AsyncSession, raw_id: str, viewer: Viewer) -> Status:
    """One of the viewer's statuses: 404 when they may not see it, 403 when it is another's."""
    status = await visible_status(session, raw_id, viewer.actor.id)
    if status.actor_id != viewer.actor.id:
        raise HTTPException(403, NOT_ALLOWED)
    return status


async def _author(session: AsyncSession, status: Status) -> Actor:
    author = await session.get(Actor, status.actor_id)
    assert author is not None  # statuses.actor_id is a foreign key
    return author


async def _entity(session: AsyncSession, ctx: AppContext, status: Status, viewer: Viewer) -> dict[str, Any]:
    entity = await render_status(session, status, ctx.urls, viewer.actor.id)
    if entity is None:  # a boost whose original is gone
        raise HTTPException(404, NOT_FOUND)
    return entity


# --- posting, editing, deleting -----------------------------------------------------------

def _idempotency_key(request: Request) -> str | None:
    """The `Idempotency-Key` header: apps (toot always) send one so that a post retried after a
    lost answer is not posted twice."""
    raw = request.headers.get("idempotency-key", "").strip()
    if not raw:
        return None
    return raw if len(raw) <= MAX_IDEMPOTENCY_KEY else "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


async def _posted_with(session: AsyncSession, viewer: Viewer, key: str, *, forget_stale: bool) -> Status | None:
    """The post this person made with `key` within the hour, if it still stands. With
    `forget_stale`, an older use of the key (or one whose post is deleted) is removed, so the
    key can name the new post."""
    found = (await session.exec(select(IdempotencyKey).where(
        IdempotencyKey.actor_id == viewer.actor.id, IdempotencyKey.key == key))).first()
    if found is None:
        return None
    status = await session.get(Status, found.status_id)
    if found.created_at > utcnow() - IDEMPOTENCY_WINDOW and status is not None and status.deleted_at is None:
        return status
    if forget_stale:
        await session.delete(found)
        await session.flush()
    return None


@refusing_invalid
async def post_status(request: Request) -> Response:
    viewer = await require_viewer(request, "write:statuses")
    params = await request_params(request)
    ctx = context_of(request)
    key = _idempotency_key(request)
    media_ids = _media_ids(params)
    written = _written(params, with_media=bool(media_ids))
    poll = _poll(params)
    if poll is not None and media_ids:
        raise Invalid("poll", "with_media", "cannot be attached to a post with media", "Poll")
    visibility = (_string(params, "visibility") or "").strip() or viewer.user.default_visibility
    if visibility not in VISIBILITIES:
        raise Invalid("visibility", "inclusion", "is not included in the list", "Visibility")
    if visibility == "network" and ctx.network is None:
        raise Invalid("visibility", "inclusion", "network is not available: this instance belongs to no network",
                      "Visibility")
    language = _language(params) or viewer.user.locale or None
    sensitive = body_flag(params, "sensitive", default=viewer.user.sensitive_by_default)
    reply_to_id = (_string(params, "in_reply_to_id") or "").strip()
    try:
        async with ctx.database.transaction() as session:
            earlier = await _posted_with(session, viewer, key, forget_stale=True) if key else None
            if earlier is not None:  # the same post again: answer it, write nothing
                return JSONResponse(await _entity(session, ctx, earlier, viewer))
            parent = await _target(session, reply_to_id, viewer) if reply_to_id else None
            targets, mentioned = await _mentioned_accounts(session, ctx, written.text)
            try:
                media = await attachments_for_post(session, viewer.actor.id, media_ids)
            except ValueError as error:
                raise Invalid("media_ids", "invalid", str(error), "Media") from None
            status = await outbox_of(request).post_status(
                session, viewer.actor, content_html=to_html(written.text, ctx.urls.base_url, targets),
                visibility=visibility, summary=written.spoiler_text, sensitive=sensitive, language=language,
                in_reply_to=parent, mentions=mentioned, hashtags=list(scan(written.text).hashtags),
                application_id=viewer.app_id, media=media, poll=poll)
            if key:
                session.add(IdempotencyKey(actor_id=viewer.actor.id, key=key, status_id=status.id))
                await session.flush()
            entity = await _entity(session, ctx, status, viewer)
    except IntegrityError:
        # Two requests with one key at once: the other one committed first and this one rolled
        # back whole (the key is unique per person), so answer the other's post.
        if not key:
            raise
        async with ctx.database.session() as session:
            earlier = await _posted_with(session, viewer, key, forget_stale=False)
            if earlier is None:
                raise
            entity = await _entity(session, ctx, earlier, viewer)
    return JSONResponse(entity)


@refusing_invalid
async def edit_status(request: Request) -> Response:
    viewer = await require_viewer(request, "write:statuses")
    params = await request_params(request)
    ctx = context_of(request)
    written = _written(params)
    language = _language(params)
    async with ctx.database.transaction() as session:
        status = await _own(session, request.path_params["id"], viewer)
        if status.reblog_of_id is not None:
            raise HTTPException(403, NOT_ALLOWED)  # a boost has no text to edit
        targets, mentioned = await _mentioned_accounts(session, ctx, written.text)
        # Only what was sent changes (as Mastodon's UpdateStatusService).
        await outbox_of(request).edit_status(
            session, status, viewer.actor, content_html=to_html(written.text, ctx.urls.base_url, targets),
            summary=written.spoiler_text if "spoiler_text" in params else None,
            sensitive=body_flag(params, "sensitive") if "sensitive" in params else None, language=language,
            mentions=mentioned, hashtags=scan(written.text).hashtags)
        entity = await _entity(session, ctx, status, viewer)
    return JSONResponse(entity)


async def delete_status(request: Request) -> Response:
    """Delete one's status and answer it with its `text`, for "delete & redraft": its pictures
    stay as unused uploads a new post may carry (for a day), unless `delete_media` is true."""
    viewer = await require_viewer(request, "write:statuses")
    ctx = context_of(request)
    outbox = outbox_of(request)
    delete_media = body_flag(await request_params(request), "delete_media")
    files: list[str | None] = []
    async with ctx.database.transaction() as session:
        status = await _own(session, request.path_params["id"], viewer)
        entity = await _entity(session, ctx, status, viewer)
        if status.reblog_of_id is not None:  # deleting one's boost undoes it
            original = await session.get(Status, status.reblog_of_id)
            assert original is not None  # render_status found it
            await outbox.unboost(session, viewer.actor, original, await _author(session, original))
        else:
            accts = {mention["url"]: mention["acct"] for mention in entity["mentions"]}
            # No source column: our own HTML reads back into the text (`@user@domain` from the mentions).
            entity["text"] = to_text(status.content, accts)
            uploads = (await session.exec(select(MediaAttachment).where(
                MediaAttachment.status_id == status.id, MediaAttachment.file_name.is_not(None)))).all()  # type: ignore[union-attr]
            await outbox.delete_status(session, status, viewer.actor)
            if delete_media:
                for media in uploads:
                    files += [media.file_name, media.preview_file_name]
                    await session.delete(media)
    await media_store(request).remove(*files)
    return JSONResponse(entity)


# --- favourites and boosts ----------------------------------------------------------------

async def favourite(request: Request) -> Response:
    viewer = await require_viewer(request, "write:favourites")
    ctx = context_of(request)
    async with ctx.database.transaction() as session:
        status = await _target(session, request.path_params["id"], viewer)
        await outbox_of(request).favourite(session, viewer.actor, status, await _author(session, status))
        entity = await _entity(session, ctx, status, viewer)
    return JSONResponse(entity)


async def unfavourite(request: Request) -> Response:
    viewer = await require_viewer(request, "write:favourites")
    ctx = context_of(request)
    async with ctx.database.transaction() as session:
        status = await _target(session, request.path_params["id"], viewer)
        await outbox_of(request).unfavourite(session, viewer.actor, status, await _author(session, status))
        await session.flush()
        entity = await _entity(session, ctx, status, viewer)
    return JSONResponse(entity)


@refusing_invalid
async def reblog(request: Request) -> Response:
    """Mastodon answers the new boost, the original inside its `reblog`."""
    viewer = await require_viewer(request, "write:statuses")
    ctx = context_of(request)
    async with ctx.database.transaction() as session:
        status = await _target(session, request.path_params["id"], viewer)
        try:
            boost = await outbox_of(request).boost(session, viewer.actor, status, await _author(session, status))
        except ActionError:
            raise Invalid("reblog", "not_allowed", "is not possible for a private, direct or local-only post",
                          "Reblog") from None
        entity = await _entity(session, ctx, boost, viewer)
    return JSONResponse(entity)


async def unreblog(request: Request) -> Response:
    viewer = await require_viewer(request, "write:statuses")
    ctx = context_of(request)
    async with ctx.database.transaction() as session:
        status = await _target(session, request.path_params["id"], viewer)
        await outbox_of(request).unboost(session, viewer.actor, status, await _author(session, status))
        await session.flush()
        entity = await _entity(session, ctx, status, viewer)
    return JSONResponse(entity)


routes = [
    *get("/api/v1/statuses", post_status, methods=("POST",)),
    *get("/api/v1/statuses/{id}", edit_status, methods=("PUT",)),
    *get("/api/v1/statuses/{id}", delete_status, methods=("DELETE",)),
    *get("/api/v1/statuses/{id}/favourite", favourite, methods=("POST",)),
    *get("/api/v1/statuses/{id}/unfavourite", unfavourite, methods=("POST",)),
    *get("/api/v1/statuses/{id}/reblog", reblog, methods=("POST",)),
    *get("/api/v1/statuses/{id}/unreblog", unreblog, methods=("POST",)),
]
