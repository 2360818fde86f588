"""Subscribed blocklists in the admin API: Rounds' own routes (Mastodon has no such thing), shaped
like Mastodon's admin API (string ids, ISO times, `{"error": …}`), for admins (`manage_blocks`).

    GET    /api/v1/admin/blocklist_subscriptions              the lists this instance follows
    POST   /api/v1/admin/blocklist_subscriptions              url, trusted → the new subscription
    GET    /api/v1/admin/blocklist_subscriptions/:id
    PUT    /api/v1/admin/blocklist_subscriptions/:id          trusted → the subscription
    DELETE /api/v1/admin/blocklist_subscriptions/:id          lift_blocks=true also lifts its blocks
    POST   /api/v1/admin/blocklist_subscriptions/:id/refresh  fetch now → the subscription, with `refresh`
    GET    /api/v1/admin/blocklist_changes                    state=pending|applied|…, subscription_id, max_id
    POST   /api/v1/admin/blocklist_changes/:id/approve        apply a draft (as the admin who asks)
    POST   /api/v1/admin/blocklist_changes/:id/reject
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from moderation import blocklists
from moderation.blocklists import BlocklistError, NotFound, Refreshed
from storage.tables import BlocklistChange, BlocklistSubscription, DomainBlock
from web.api.admin import require_moderator
from web.api.entities.formats import entity_id, iso_datetime, optional_datetime
from web.api.params import body_flag, get, is_record_id, query_bool, record_id
from web.context import context_of
from web.oauth import request_params, validation_error
from web.responses import JSONResponse, error_response

READ, WRITE, PERMISSION = "admin:read:domain_blocks", "admin:write:domain_blocks", "manage_blocks"
SUBSCRIPTIONS = "/api/v1/admin/blocklist_subscriptions"
CHANGES = "/api/v1/admin/blocklist_changes"
MAX_LIMIT = 200


async def subscription_entity(session: AsyncSession, subscription: BlocklistSubscription) -> dict[str, Any]:
    blocks = (await session.exec(select(func.count()).select_from(DomainBlock)
                                 .where(DomainBlock.subscription_id == subscription.id))).one()
    pending = (await session.exec(select(func.count()).select_from(BlocklistChange).where(
        BlocklistChange.subscription_id == subscription.id, BlocklistChange.state == "pending"))).one()
    return {
        "id": entity_id(subscription.id),
        "url": subscription.url,
        "trusted": subscription.trusted,
        "entries_count": len(subscription.entries),  # in the list as last fetched
        "blocks_count": blocks,  # blocks here that came from it
        "pending_changes_count": pending,
        "refreshed_at": optional_datetime(subscription.refreshed_at),
        "last_error": subscription.last_error or None,
        "created_at": iso_datetime(subscription.created_at),
    }


def change_entity(change: BlocklistChange) -> dict[str, Any]:
    return {
        "id": entity_id(change.id),
        "subscription_id": entity_id(change.subscription_id),
        "domain": change.domain,
        "change": change.change,
        "entry": change.entry or None,
        "state": change.state,
        "decided_by_id": entity_id(change.decided_by_id) if change.decided_by_id is not None else None,
        "decided_at": optional_datetime(change.decided_at),
        "created_at": iso_datetime(change.created_at),
    }


def _error(error: BlocklistError | NotFound) -> Response:
    # A LookupError's str() is its repr: take the message itself.
    return error_response(404 if isinstance(error, NotFound) else 422, str(error.args[0]))


async def list_subscriptions(request: Request) -> Response:
    await require_moderator(request, READ, PERMISSION)
    async with context_of(request).database.session() as session:
        found = await blocklists.list_subscriptions(session)
        return JSONResponse([await subscription_entity(session, row) for row in found])


async def create_subscription(request: Request) -> Response:
    viewer = await require_moderator(request, WRITE, PERMISSION)
    ctx = context_of(request)
    params = await request_params(request)
    url = params.get("url")
    if not isinstance(url, str) or not url.strip():
        return validation_error("url", "ERR_BLANK", "can't be blank", "Url")
    try:
        async with ctx.database.transaction() as session:
            subscription = await blocklists.subscribe(session, url, trusted=body_flag(params, "trusted"),
                                                      network=ctx.network, by=viewer.actor.id, via="api")
            return JSONResponse(await subscription_entity(session, subscription))
    except BlocklistError as error:
        return _error(error)


async def show_subscription(request: Request) -> Response:
    await require_moderator(request, READ, PERMISSION)
    try:
        async with context_of(request).database.session() as session:
            subscription = await blocklists.get_subscription(session, record_id(request.path_params["id"]))
            return JSONResponse(await subscription_entity(session, subscription))
    except NotFound as error:
        return _error(error)


async def update_subscription(request: Request) -> Response:
    viewer = await require_moderator(request, WRITE, PERMISSION)
    params = await request_params(request)
    if "trusted" not in params:
        return validation_error("trusted", "ERR_BLANK", "can't be blank", "Trusted")
    try:
        async with context_of(request).database.transaction() as session:
            subscription = await blocklists.set_trusted(session, record_id(request.path_params["id"]),
                                                        body_flag(params, "trusted"), by=viewer.actor.id, via="api")
            return JSONResponse(await subscription_entity(session, subscription))
    except NotFound as error:
        return _error(error)


async def delete_subscription(request: Request) -> Response:
    viewer = await require_moderator(request, WRITE, PERMISSION)
    params = await request_params(request)
    lift = body_flag(params, "lift_blocks") or query_bool(request, "lift_blocks")
    try:
        async with context_of(request).database.transaction() as session:
            await blocklists.unsubscribe(session, record_id(request.path_params["id"]), lift_blocks=lift,
                                         by=viewer.actor.id, via="api")
    except NotFound as error:
        return _error(error)
    return JSONResponse({})


async def refresh_subscription(request: Request) -> Response:
    viewer = await require_moderator(request, WRITE, PERMISSION)
    ctx = context_of(request)
    federation = request.app.state.federation
    subscription_id = record_id(request.path_params["id"])
    try:
        outcome: Refreshed = await blocklists.refresh(
            ctx.database, federation.fetcher, subscription_id, now=federation.clock(), own_domain=ctx.urls.domain,
            network=ctx.network, via="api", by=viewer.actor.id)
        async with ctx.database.session() as session:
            subscription = await blocklists.get_subscription(session, subscription_id)
            entity = await subscription_entity(session, subscription)
    except NotFound as error:
        return _error(error)
    entity["refresh"] = {"applied": outcome.applied, "pending": outcome.pending, "skipped": outcome.skipped,
                         "error": outcome.error or None}
    return JSONResponse(entity)


async def list_changes(request: Request) -> Response:
    await require_moderator(request, READ, PERMISSION)
    query = request.query_params
    numbers = {}
    for name in ("subscription_id", "max_id", "limit"):
        raw = query.get(name)
        if raw:
            if not is_record_id(raw):
                return validation_error(name, "ERR_INVALID", "must be a number", name.capitalize())
            numbers[name] = int(raw)
    limit = max(1, min(numbers.get("limit", 100), MAX_LIMIT))
    try:
        async with context_of(request).database.session() as session:
            found = await blocklists.list_changes(session, state=query.get("state") or None, limit=limit,
                                                  subscription_id=numbers.get("subscription_id"),
                                                  max_id=numbers.get("max_id"))
    except BlocklistError as error:
        return _error(error)
    return JSONResponse([change_entity(change) for change in found])


async def _decide(request: Request, *, approve: bool) -> Response:
    viewer = await require_moderator(request, WRITE, PERMISSION)
    federation = request.app.state.federation
    try:
        async with context_of(request).database.transaction() as session:
            change = await blocklists.decide(session, record_id(request.path_params["id"]), approve=approve,
                                             by=viewer.actor.id, via="api", now=federation.clock())
            return JSONResponse(change_entity(change))
    except (BlocklistError, NotFound) as error:
        return _error(error)


async def approve_change(request: Request) -> Response:
    return await _decide(request, approve=True)


async def reject_change(request: Request) -> Response:
    return await _decide(request, approve=False)


routes = [
    *get(SUBSCRIPTIONS, list_subscriptions),
    *get(SUBSCRIPTIONS, create_subscription, methods=("POST",)),
    *get(SUBSCRIPTIONS + "/{id}", show_subscription),
    *get(SUBSCRIPTIONS + "/{id}", update_subscription, methods=("PUT",)),
    *get(SUBSCRIPTIONS + "/{id}", delete_subscription, methods=("DELETE",)),
    *get(SUBSCRIPTIONS + "/{id}/refresh", refresh_subscription, methods=("POST",)),
    *get(CHANGES, list_changes),
    *get(CHANGES + "/{id}/approve", approve_change, methods=("POST",)),
    *get(CHANGES + "/{id}/reject", reject_change, methods=("POST",)),
]
