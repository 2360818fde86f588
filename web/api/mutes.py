"""Muting accounts, and the lists of whom one mutes and blocks.

A mute is private to this server (nothing is sent): the muted account's posts and boosts
leave the viewer's timelines, and with `notifications` (the default) their notifications too.
A mute with a `duration` lapses by itself at `expires_at`; every reader ignores an expired one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from storage.tables import Actor, Block, Mute, utcnow
from web.api.accounts import find_account
from web.api.entities import account, load_accounts, relationships
from web.api.entities.accounts import mute_in_force
from web.api.entities.formats import optional_datetime
from web.api.listing import account_page
from web.api.paging import Page, link_headers
from web.api.params import body_flag, get, record_id
from web.auth import Viewer, require_viewer
from web.context import context_of
from web.oauth import request_params, validation_error
from web.responses import JSONResponse

MAX_DURATION = 100 * 365 * 24 * 3600  # seconds; beyond this a mute is as good as forever


class InvalidDuration(ValueError):
    """`duration` is not a whole number of seconds within MAX_DURATION."""


def _duration(params: dict[str, Any]) -> int:
    """Seconds; 0 (or nothing) mutes until unmuted."""
    value = params.get("duration")
    if value is None or value == "" or isinstance(value, bool):
        return 0
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        seconds = int(value.strip())
    else:
        raise InvalidDuration
    if not 0 <= seconds <= MAX_DURATION:
        raise InvalidDuration
    return seconds


async def _target(request: Request, viewer: Viewer, refusal: str) -> Actor:
    actor_id = record_id(request.path_params["id"])
    async with context_of(request).database.session() as session:
        target = await find_account(session, actor_id)
    if target.id == viewer.actor.id:
        raise HTTPException(422, f"Validation failed: {refusal}")
    return target


async def mute(request: Request) -> Response:
    """Mute, or change an existing mute's `notifications` and `duration` (as Mastodon does)."""
    viewer = await require_viewer(request, "write:mutes")
    target = await _target(request, viewer, "You cannot mute yourself")
    params = await request_params(request)
    try:
        seconds = _duration(params)
    except InvalidDuration:
        return validation_error("duration", "invalid", "is not a number of seconds", "Duration")
    expires_at = utcnow() + timedelta(seconds=seconds) if seconds else None
    async with context_of(request).database.transaction() as session:
        found = (await session.exec(select(Mute).where(
            Mute.actor_id == viewer.actor.id, Mute.target_id == target.id))).first()
        row = found or Mute(actor_id=viewer.actor.id, target_id=target.id)
        row.notifications = body_flag(params, "notifications", default=True)
        row.expires_at = expires_at
        session.add(row)
        await session.flush()
        answer = await relationships(session, viewer.actor.id, [target.id])
    return JSONResponse(answer[0])


async def unmute(request: Request) -> Response:
    viewer = await require_viewer(request, "write:mutes")
    target = await _target(request, viewer, "You cannot unmute yourself")
    async with context_of(request).database.transaction() as session:
        found = (await session.exec(select(Mute).where(
            Mute.actor_id == viewer.actor.id, Mute.target_id == target.id))).first()
        if found is not None:
            await session.delete(found)
            await session.flush()
        answer = await relationships(session, viewer.actor.id, [target.id])
    return JSONResponse(answer[0])


async def mutes(request: Request) -> Response:
    """Whom the viewer mutes, newest mute first, paged by the mute's id; each Account carries
    `mute_expires_at` (Mastodon's MutedAccount)."""
    viewer = await require_viewer(request, "read:mutes")
    ctx = context_of(request)
    page = Page.of(request, default=40, maximum=80)
    query = (select(Mute.id, Mute.expires_at, Actor).join(Actor, Actor.id == Mute.target_id)
             .where(Mute.actor_id == viewer.actor.id, mute_in_force()))
    async with ctx.database.session() as session:
        rows = page.arrange((await session.exec(page.apply(query, Mute.id))).all())
        batch = await load_accounts(session, [actor.id for _, _, actor in rows])
    entities = [{**account(batch.actors[actor.id], batch, ctx.urls), "mute_expires_at": optional_datetime(expires_at)}
                for _, expires_at, actor in rows]
    return JSONResponse(entities, headers=link_headers(request, ctx.urls.base_url, [mute_id for mute_id, _, _ in rows]))


async def blocks(request: Request) -> Response:
    """Whom the viewer blocks, newest block first, paged by the block's id."""
    viewer = await require_viewer(request, "read:blocks")
    query = (select(Block.id, Actor).join(Actor, Actor.id == Block.target_id)
             .where(Block.actor_id == viewer.actor.id))
    return await account_page(request, query, Block.id)


routes = [
    *get("/api/v1/accounts/{id}/mute", mute, methods=("POST",)),
    *get("/api/v1/accounts/{id}/unmute", unmute, methods=("POST",)),
    *get("/api/v1/mutes", mutes),
    *get("/api/v1/blocks", blocks),
]
