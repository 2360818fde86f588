"""Reading accounts: profiles, their statuses and follow lists, relationships, preferences."""

from __future__ import annotations

from sqlalchemy import exists, func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from actors.accounts import find_local_actor
from actors.visibility import visible_to
from storage.tables import Actor, Follow, Pin, Status, StatusTag, User
from web.api.entities import account, credential_account, load_accounts, relationships
from web.api.listing import (
    account_page,
    boost_shown,
    not_a_reply_to_others,
    related_status_page,
    status_page,
    with_media,
)
from web.api.params import NOT_FOUND, get, is_record_id, query_bool, query_list, record_id
from web.api.search import SearchQuery, find_accounts
from web.auth import optional_viewer, require_viewer
from web.context import context_of
from web.responses import JSONResponse

MAX_SEARCH_LIMIT = 80  # Mastodon's for this route (40 is the default)


async def find_account(session: AsyncSession, actor_id: int) -> Actor:
    """A person the API shows: any known remote actor, or a local person whose login is
    approved and enabled (never the instance actor). Otherwise 404."""
    actor = await session.get(Actor, actor_id)
    if actor is None:
        raise HTTPException(404, NOT_FOUND)
    if actor.domain is None:
        user = (await session.exec(select(User).where(User.actor_id == actor.id))).first()
        if user is None or not user.approved or user.disabled:
            raise HTTPException(404, NOT_FOUND)
    return actor


async def _rendered(request: Request, actor: Actor) -> JSONResponse:
    ctx = context_of(request)
    async with ctx.database.session() as session:
        batch = await load_accounts(session, [actor.id])
    return JSONResponse(account(batch.actors[actor.id], batch, ctx.urls))


async def get_account(request: Request) -> Response:
    await optional_viewer(request, "read:accounts")
    actor_id = record_id(request.path_params["id"])
    async with context_of(request).database.session() as session:
        actor = await find_account(session, actor_id)
    return await _rendered(request, actor)


async def lookup(request: Request) -> Response:
    """`acct` as `user`, `@user`, `user@here` or `user@elsewhere`; only accounts already known
    here (no WebFinger: discovery is `/api/v2/search?resolve=true`)."""
    await optional_viewer(request, "read:accounts")
    ctx = context_of(request)
    acct = request.query_params.get("acct", "").strip().removeprefix("@")
    if not acct:
        raise HTTPException(400, "Missing acct param")
    username, _, domain = acct.partition("@")
    async with ctx.database.session() as session:
        if not domain or domain.lower() == ctx.urls.domain:
            found = await find_local_actor(session, username)
        else:
            found = (await session.exec(select(Actor).where(
                Actor.username_key == username.lower(), func.lower(Actor.domain) == domain.lower()))).first()
        actor = await find_account(session, found.id) if found is not None else None
    if actor is None:
        raise HTTPException(404, NOT_FOUND)
    return await _rendered(request, actor)


async def account_search(request: Request) -> Response:
    """`/api/v2/search`'s account matching (`q`, `resolve`, `limit`, `offset`), and with
    `following=true` only accounts the viewer follows."""
    viewer = await require_viewer(request, "read:accounts")
    ctx = context_of(request)
    params = request.query_params
    raw_limit, raw_offset = params.get("limit", ""), params.get("offset", "")
    limit = int(raw_limit) if raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) < 10 else 40
    query = SearchQuery(text=params.get("q", "").strip(), kinds=frozenset({"accounts"}),
                        resolve=query_bool(request, "resolve"), limit=max(1, min(limit, MAX_SEARCH_LIMIT)),
                        offset=int(raw_offset) if raw_offset.isascii() and raw_offset.isdigit()
                        and len(raw_offset) < 10 else 0)
    followed_by = viewer.actor.id if query_bool(request, "following") else None
    found = await find_accounts(ctx, request.app.state.federation, query, followed_by=followed_by)
    async with ctx.database.session() as session:
        batch = await load_accounts(session, [actor.id for actor in found])
    return JSONResponse([account(batch.actors[actor.id], batch, ctx.urls) for actor in found
                         if actor.id in batch.actors])


async def account_statuses(request: Request) -> Response:
    viewer = await optional_viewer(request, "read:statuses")
    viewer_id = viewer.actor.id if viewer else None
    actor_id = record_id(request.path_params["id"])
    async with context_of(request).database.session() as session:
        await find_account(session, actor_id)
    if query_bool(request, "pinned"):  # the account's pins, newest pin first
        pinned = (select(Pin.id, Status).join(Status, Status.id == Pin.status_id)
                  .where(Pin.actor_id == actor_id, Status.actor_id == actor_id, visible_to(viewer_id)))
        return await related_status_page(request, pinned, Pin.id, viewer_id, context="account")
    query = select(Status).where(Status.actor_id == actor_id, visible_to(viewer_id), boost_shown(viewer_id))
    if query_bool(request, "exclude_replies"):
        query = query.where(not_a_reply_to_others())
    if query_bool(request, "exclude_reblogs"):
        query = query.where(Status.reblog_of_id.is_(None))  # type: ignore[union-attr]
    if query_bool(request, "only_media"):
        query = query.where(with_media())
    tagged = request.query_params.get("tagged", "").strip().lstrip("#").lower()
    if tagged:
        query = query.where(exists().where(StatusTag.status_id == Status.id, func.lower(StatusTag.name) == tagged))
    return await status_page(request, query, viewer_id, context="account")


def _follow_list(direction: str):
    """followers: who follows the account; following: whom it follows. Accepted follows only;
    an account that hides its collections shows them to nobody but itself."""
    listed, fixed = ((Follow.follower_id, Follow.followee_id) if direction == "followers"
                     else (Follow.followee_id, Follow.follower_id))

    async def endpoint(request: Request) -> Response:
        viewer = await optional_viewer(request, "read:accounts")
        actor_id = record_id(request.path_params["id"])
        async with context_of(request).database.session() as session:
            actor = await find_account(session, actor_id)
        if actor.hide_collections and (viewer is None or viewer.actor.id != actor.id):
            return JSONResponse([])
        query = (select(Follow.id, Actor).join(Actor, Actor.id == listed)
                 .where(fixed == actor_id, Follow.state == "accepted"))
        return await account_page(request, query, Follow.id)

    endpoint.__name__ = direction
    return endpoint


async def verify_credentials(request: Request) -> Response:
    viewer = await require_viewer(request, "profile")
    ctx = context_of(request)
    async with ctx.database.session() as session:
        entity = await credential_account(session, viewer.actor, viewer.user, ctx.urls)
    return JSONResponse(entity)


async def get_relationships(request: Request) -> Response:
    """One Relationship per known id, in the order asked (`id[]=…` or `id=…`)."""
    viewer = await require_viewer(request, "read:follows")
    wanted = list(dict.fromkeys(int(raw) for raw in query_list(request, "id") if is_record_id(raw)))
    async with context_of(request).database.session() as session:
        known = set((await session.exec(select(Actor.id).where(Actor.id.in_(wanted)))).all()) if wanted else set()
        answer = await relationships(session, viewer.actor.id, [i for i in wanted if i in known])
    return JSONResponse(answer)


async def preferences(request: Request) -> Response:
    viewer = await require_viewer(request, "read:accounts")
    return JSONResponse({
        "posting:default:visibility": viewer.user.default_visibility,
        "posting:default:sensitive": False,
        "posting:default:language": None,
        "reading:expand:media": "default",
        "reading:expand:spoilers": False,
        "reading:autoplay:gifs": False,
    })


routes = [
    *get("/api/v1/accounts/verify_credentials", verify_credentials),
    *get("/api/v1/accounts/relationships", get_relationships),
    *get("/api/v1/accounts/lookup", lookup),
    *get("/api/v1/accounts/search", account_search),
    *get("/api/v1/preferences", preferences),
    *get("/api/v1/accounts/{id}", get_account),
    *get("/api/v1/accounts/{id}/statuses", account_statuses),
    *get("/api/v1/accounts/{id}/followers", _follow_list("followers")),
    *get("/api/v1/accounts/{id}/following", _follow_list("following")),
]
