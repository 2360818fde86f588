"""Following, blocking and answering follow requests through the client API.

Every action answers the Relationship as it stands after the action. A follow of a remote
or locked account stays `requested` until the followee (or their server) accepts it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import or_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from outbox.actions import Outbox
from storage.tables import Actor, Block, Follow
from web.api.accounts import find_account
from web.api.entities import relationships
from web.api.listing import account_page
from web.api.params import NOT_FOUND, body_flag, get, record_id
from web.auth import Viewer, require_viewer
from web.context import context_of
from web.oauth import request_params
from web.responses import JSONResponse

NOT_ALLOWED = "This action is not allowed"

Action = Callable[[Outbox, AsyncSession, Actor, Actor], Awaitable[Any]]


def _outbox(request: Request) -> Outbox:
    return request.app.state.federation.outbox


async def _relationship(session: AsyncSession, viewer: Viewer, target_id: int) -> JSONResponse:
    return JSONResponse((await relationships(session, viewer.actor.id, [target_id]))[0])


async def _target(request: Request, viewer: Viewer, refusal: str) -> Actor:
    """The account in the path: 404 when unknown, 422 when it is the viewer."""
    actor_id = record_id(request.path_params["id"])
    async with context_of(request).database.session() as session:
        target = await find_account(session, actor_id)
    if target.id == viewer.actor.id:
        raise HTTPException(422, f"Validation failed: {refusal}")
    return target


async def _blocked_either_way(session: AsyncSession, first: int, second: int) -> bool:
    found = await session.exec(select(Block.id).where(or_(
        (Block.actor_id == first) & (Block.target_id == second),
        (Block.actor_id == second) & (Block.target_id == first))))
    return found.first() is not None


async def follow(request: Request) -> Response:
    """Follow, or change an existing follow's settings: `reblogs` (show their boosts in the home
    timeline, default true) and `notify` (a `status` notification for each new post, default
    false). Following again with other settings changes them and sends nothing. `languages[]`
    is accepted and ignored: the home timeline does not filter by language."""
    viewer = await require_viewer(request, "write:follows")
    params = await request_params(request)
    target = await _target(request, viewer, "You cannot follow yourself")
    if target.domain is not None:
        rules = await request.app.state.federation.policy.load(context_of(request).database)
        if not rules.allows(target.domain) or rules.actor_refusal(target.uri):
            # The Follow could never be delivered, so it would wait as a request forever.
            raise HTTPException(403, NOT_ALLOWED)
    async with context_of(request).database.transaction() as session:
        if await _blocked_either_way(session, viewer.actor.id, target.id):
            raise HTTPException(403, NOT_ALLOWED)  # as Mastodon's FollowService refuses it
        row = await _outbox(request).send_follow(session, viewer.actor, target)
        if "reblogs" in params:
            row.show_reblogs = body_flag(params, "reblogs", default=True)
        if "notify" in params:
            row.notify = body_flag(params, "notify")
        session.add(row)
        await session.flush()
        return await _relationship(session, viewer, target.id)


def _action(scope: str, act: Action, refusal: str):
    """An action on the account in the path that answers the Relationship afterwards."""

    async def endpoint(request: Request) -> Response:
        viewer = await require_viewer(request, scope)
        target = await _target(request, viewer, refusal)
        async with context_of(request).database.transaction() as session:
            await act(_outbox(request), session, viewer.actor, target)
            return await _relationship(session, viewer, target.id)

    return endpoint


# Unfollowing also withdraws a pending request: send_unfollow removes the follow in any state.
unfollow = _action("write:follows", Outbox.send_unfollow, "You cannot unfollow yourself")
block = _action("write:blocks", Outbox.block, "You cannot block yourself")
unblock = _action("write:blocks", Outbox.unblock, "You cannot unblock yourself")


async def follow_requests(request: Request) -> Response:
    """Who asked to follow the viewer and waits, newest request first, paged by the follow's id."""
    viewer = await require_viewer(request, "read:follows")
    query = (select(Follow.id, Actor).join(Actor, Actor.id == Follow.follower_id)
             .where(Follow.followee_id == viewer.actor.id, Follow.state == "pending"))
    return await account_page(request, query, Follow.id)


def _answer(accept: bool):
    """Authorize or reject the pending request from the account in the path; 404 if none."""

    async def endpoint(request: Request) -> Response:
        viewer = await require_viewer(request, "write:follows")
        follower_id = record_id(request.path_params["account_id"])
        outbox = _outbox(request)
        async with context_of(request).database.transaction() as session:
            found = await session.exec(select(Follow).where(
                Follow.follower_id == follower_id, Follow.followee_id == viewer.actor.id,
                Follow.state == "pending"))
            pending = found.first()
            follower = await session.get(Actor, follower_id)
            if pending is None or follower is None:
                raise HTTPException(404, NOT_FOUND)
            if accept:
                await outbox.accept_follow(session, pending, viewer.actor, follower)
            else:
                await outbox.reject_follow(session, pending, viewer.actor, follower)
            return await _relationship(session, viewer, follower_id)

    endpoint.__name__ = "authorize" if accept else "reject"
    return endpoint


routes = [
    *get("/api/v1/accounts/{id}/follow", follow, methods=("POST",)),
    *get("/api/v1/accounts/{id}/unfollow", unfollow, methods=("POST",)),
    *get("/api/v1/accounts/{id}/block", block, methods=("POST",)),
    *get("/api/v1/accounts/{id}/unblock", unblock, methods=("POST",)),
    *get("/api/v1/follow_requests", follow_requests),
    *get("/api/v1/follow_requests/{account_id}/authorize", _answer(True), methods=("POST",)),
    *get("/api/v1/follow_requests/{account_id}/reject", _answer(False), methods=("POST",)),
]
