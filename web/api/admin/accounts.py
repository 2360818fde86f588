"""`/api/v1/admin/accounts` and `/api/v2/admin/accounts`: moderators list people, approve or reject
sign-ups, and act on accounts (warn, mark sensitive, disable, silence, suspend) and undo that.

Needs `manage_users` (deleting a suspended account's data: `delete_user_data`). Nobody acts on
themselves or on someone of their rank or above (Mastodon's role positions). Every change is
audited in its transaction (`actors.account_actions`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from actors.account_actions import (
    ACTIONS,
    AccountActionError,
    approve,
    delete_data,
    find_report,
    outranks,
    reject,
)
from outbox.account_actions import act_on_account, lift_from_account
from storage.tables import Actor, User
from web.api.admin import NOT_PERMITTED, require_moderator
from web.api.entities.accounts import ROLES
from web.api.entities.admin import admin_account, load_admin_accounts
from web.api.paging import Page, link_headers
from web.api.params import NOT_FOUND, get, is_record_id, query_bool, query_list, record_id
from web.auth import Viewer
from web.context import context_of
from web.oauth import request_params, validation_error
from web.responses import JSONResponse

READ, WRITE = "admin:read:accounts", "admin:write:accounts"
STATUSES = ("active", "pending", "disabled", "silenced", "suspended", "sensitized")
STAFF_ROLES = ("moderator", "admin")
MAX_ACTION_TEXT = 5000


# --- finding -------------------------------------------------------------------------------

def _people() -> Select[Any]:
    """Accounts moderators see: remote actors and local people (never the instance actor)."""
    return (select(Actor.id, Actor).outerjoin(User, User.actor_id == Actor.id)  # type: ignore[arg-type]
            .where(or_(Actor.domain.is_not(None), User.id.is_not(None))))  # type: ignore[union-attr]


def _status(name: str) -> ColumnElement[bool]:
    return {
        "active": Actor.suspended_at.is_(None),  # type: ignore[union-attr]
        "pending": and_(User.id.is_not(None), ~User.approved),  # type: ignore[union-attr]
        "disabled": User.disabled.is_(True),  # type: ignore[attr-defined]
        "silenced": Actor.silenced_at.is_not(None),  # type: ignore[union-attr]
        "suspended": Actor.suspended_at.is_not(None),  # type: ignore[union-attr]
        "sensitized": Actor.sensitized_at.is_not(None),  # type: ignore[union-attr]
    }[name]


def _text_filters(request: Request) -> list[ColumnElement[bool]]:
    """username (prefix), display_name, by_domain and email (substrings), all case-insensitive."""
    params = request.query_params
    conditions = []
    if params.get("username"):
        conditions.append(func.lower(Actor.username).startswith(params["username"].lower(), autoescape=True))
    if params.get("display_name"):
        conditions.append(func.lower(Actor.display_name).contains(params["display_name"].lower(), autoescape=True))
    if params.get("by_domain"):
        conditions.append(func.lower(Actor.domain).contains(params["by_domain"].lower(), autoescape=True))
    if params.get("email"):
        conditions.append(func.lower(User.email).contains(params["email"].lower(), autoescape=True))
    return conditions


def _v1_filters(request: Request) -> list[ColumnElement[bool]]:
    conditions = _text_filters(request)
    if query_bool(request, "local"):
        conditions.append(Actor.domain.is_(None))  # type: ignore[union-attr]
    if query_bool(request, "remote"):
        conditions.append(Actor.domain.is_not(None))  # type: ignore[union-attr]
    conditions += [_status(name) for name in STATUSES if query_bool(request, name)]
    if query_bool(request, "staff"):
        conditions.append(User.role.in_(STAFF_ROLES))  # type: ignore[attr-defined]
    return conditions


def _v2_filters(request: Request) -> list[ColumnElement[bool]]:
    conditions = _text_filters(request)
    origin = request.query_params.get("origin")
    if origin in ("local", "remote"):
        conditions.append(Actor.domain.is_(None) if origin == "local" else Actor.domain.is_not(None))  # type: ignore[union-attr]
    status = request.query_params.get("status")
    if status:
        conditions.append(_status(status) if status in STATUSES else false())
    if request.query_params.get("permissions") == "staff":
        conditions.append(User.role.in_(STAFF_ROLES))  # type: ignore[attr-defined]
    role_ids = query_list(request, "role_ids")
    if role_ids:
        roles = [role for role, (role_id, *_rest) in ROLES.items() if role_id in role_ids]
        conditions.append(User.role.in_(roles))  # type: ignore[attr-defined]
    return conditions


async def _page(request: Request, conditions: list[ColumnElement[bool]]) -> Response:
    await require_moderator(request, READ, "manage_users")
    ctx = context_of(request)
    page = Page.of(request, default=100, maximum=200)
    async with ctx.database.session() as session:
        rows = page.arrange((await session.exec(page.apply(_people().where(*conditions), Actor.id))).all())
        batch = await load_admin_accounts(session, [actor.id for _, actor in rows])
    entities = [admin_account(batch.accounts.actors[actor.id], batch, ctx.urls) for _, actor in rows]
    return JSONResponse(entities, headers=link_headers(request, ctx.urls.base_url, [row_id for row_id, _ in rows]))


async def list_v1(request: Request) -> Response:
    return await _page(request, _v1_filters(request))


async def list_v2(request: Request) -> Response:
    return await _page(request, _v2_filters(request))


async def _target(session: AsyncSession, request: Request) -> tuple[Actor, User | None]:
    actor = await session.get(Actor, record_id(request.path_params["id"]))
    if actor is None:
        raise HTTPException(404, NOT_FOUND)
    user = (await session.exec(select(User).where(User.actor_id == actor.id))).first()
    if actor.domain is None and user is None:  # the instance actor
        raise HTTPException(404, NOT_FOUND)
    return actor, user


async def _rendered(session: AsyncSession, request: Request, actor: Actor) -> dict[str, Any]:
    batch = await load_admin_accounts(session, [actor.id])
    return admin_account(batch.accounts.actors.get(actor.id, actor), batch, context_of(request).urls)


async def get_account(request: Request) -> Response:
    await require_moderator(request, READ, "manage_users")
    async with context_of(request).database.session() as session:
        actor, _user = await _target(session, request)
        return JSONResponse(await _rendered(session, request, actor))


# --- acting --------------------------------------------------------------------------------

def _may_act_on(viewer: Viewer, actor: Actor, user: User | None) -> None:
    if actor.id == viewer.actor.id or not outranks(viewer.user.role, user.role if user is not None else None):
        raise HTTPException(403, NOT_PERMITTED)


async def _instance_actor(session: AsyncSession, request: Request) -> Actor:
    uri = context_of(request).urls.instance_actor
    return (await session.exec(select(Actor).where(Actor.uri == uri))).one()


async def take(request: Request) -> Response:
    """`POST /:id/action`: `type` (none, sensitive, disable, silence, suspend), `report_id` (resolved
    with it), `text` (shown to the person). Mastodon's `warning_preset_id` and
    `send_email_notification` are accepted and ignored (no presets, no mail here)."""
    viewer = await require_moderator(request, WRITE, "manage_users")
    params = await request_params(request)
    kind = params.get("type")
    if kind not in ACTIONS:
        return validation_error("type", "ERR_INCLUSION", "is not included in the list", "Type")
    text = params.get("text") or ""
    if not isinstance(text, str) or len(text) > MAX_ACTION_TEXT:
        return validation_error("text", "ERR_TOO_LONG", f"is too long (maximum is {MAX_ACTION_TEXT} characters)",
                                "Text")
    raw_report = str(params.get("report_id") or "")
    federation = request.app.state.federation
    async with context_of(request).database.transaction() as session:
        actor, user = await _target(session, request)
        _may_act_on(viewer, actor, user)
        report = None
        if raw_report:
            report = await find_report(session, int(raw_report)) if is_record_id(raw_report) else None
            if report is None:
                raise HTTPException(404, NOT_FOUND)
            if report.target_id != actor.id:
                return validation_error("report_id", "ERR_INVALID", "is not a report about this account", "Report")
        try:
            await act_on_account(session, federation.outbox, moderator=viewer.actor, target=actor, user=user,
                                 kind=kind, text=text, report=report,
                                 instance_actor=await _instance_actor(session, request))
        except AccountActionError as error:
            return validation_error("type", "ERR_INVALID", str(error), "Type")
    return JSONResponse({})


async def _undo(request: Request, verb: str) -> Response:
    viewer = await require_moderator(request, WRITE, "manage_users")
    federation = request.app.state.federation
    async with context_of(request).database.transaction() as session:
        actor, user = await _target(session, request)
        _may_act_on(viewer, actor, user)
        if verb == "enable" and user is None:
            raise HTTPException(403, NOT_PERMITTED)
        await lift_from_account(session, federation.outbox, moderator=viewer.actor, target=actor, user=user,
                                verb=verb)
        entity = await _rendered(session, request, actor)
    return JSONResponse(entity)


async def enable(request: Request) -> Response:
    return await _undo(request, "enable")


async def unsilence(request: Request) -> Response:
    return await _undo(request, "unsilence")


async def unsuspend(request: Request) -> Response:
    return await _undo(request, "unsuspend")


async def unsensitive(request: Request) -> Response:
    return await _undo(request, "unsensitive")


async def _pending(session: AsyncSession, request: Request, viewer: Viewer) -> tuple[Actor, User]:
    """A sign-up awaiting approval; approving or rejecting anyone else is not allowed (403)."""
    actor, user = await _target(session, request)
    if user is None or user.approved:
        raise HTTPException(403, NOT_PERMITTED)
    _may_act_on(viewer, actor, user)
    return actor, user


async def approve_signup(request: Request) -> Response:
    viewer = await require_moderator(request, WRITE, "manage_users")
    async with context_of(request).database.transaction() as session:
        actor, user = await _pending(session, request, viewer)
        await approve(session, moderator=viewer.actor, target=actor, user=user)
        return JSONResponse(await _rendered(session, request, actor))


async def reject_signup(request: Request) -> Response:
    viewer = await require_moderator(request, WRITE, "manage_users")
    async with context_of(request).database.transaction() as session:
        actor, user = await _pending(session, request, viewer)
        entity = await _rendered(session, request, actor)
        await reject(session, moderator=viewer.actor, target=actor, user=user)
    return JSONResponse(entity)


async def delete_account(request: Request) -> Response:
    """Only after a suspension, as in Mastodon; needs `delete_user_data` (admins)."""
    viewer = await require_moderator(request, WRITE, "delete_user_data")
    async with context_of(request).database.transaction() as session:
        actor, user = await _target(session, request)
        _may_act_on(viewer, actor, user)
        if actor.suspended_at is None:
            raise HTTPException(403, NOT_PERMITTED)
        entity = await _rendered(session, request, actor)
        await delete_data(session, moderator=viewer.actor, target=actor, user=user)
    return JSONResponse(entity)


routes = [
    *get("/api/v1/admin/accounts", list_v1),
    *get("/api/v2/admin/accounts", list_v2),
    *get("/api/v1/admin/accounts/{id}", get_account),
    *get("/api/v1/admin/accounts/{id}", delete_account, methods=("DELETE",)),
    *get("/api/v1/admin/accounts/{id}/action", take, methods=("POST",)),
    *get("/api/v1/admin/accounts/{id}/approve", approve_signup, methods=("POST",)),
    *get("/api/v1/admin/accounts/{id}/reject", reject_signup, methods=("POST",)),
    *get("/api/v1/admin/accounts/{id}/enable", enable, methods=("POST",)),
    *get("/api/v1/admin/accounts/{id}/unsilence", unsilence, methods=("POST",)),
    *get("/api/v1/admin/accounts/{id}/unsuspend", unsuspend, methods=("POST",)),
    *get("/api/v1/admin/accounts/{id}/unsensitive", unsensitive, methods=("POST",)),
]
