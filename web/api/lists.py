"""Lists: a person's own groups of followed accounts, each with a timeline of its own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, delete, exists
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from actors.visibility import visible_to
from storage.tables import AccountList, Actor, Follow, ListMember, Status
from web.api.accounts import find_account
from web.api.listing import account_page, boost_shown, not_blocked_by, not_muted_by, status_page
from web.api.params import NOT_FOUND, get, is_record_id, query_list, rails_bool, record_id
from web.auth import Viewer, require_viewer
from web.context import context_of
from web.oauth import request_params, validation_error
from web.responses import JSONResponse

REPLIES_POLICIES = ("followed", "list", "none")
MAX_TITLE = 255
MAX_LISTS = 50  # per person, as Mastodon's default


def list_entity(row: AccountList) -> dict[str, Any]:
    return {"id": str(row.id), "title": row.title, "replies_policy": row.replies_policy, "exclusive": row.exclusive}


async def _own_list(session: AsyncSession, viewer: Viewer, raw_id: str) -> AccountList:
    row = await session.get(AccountList, record_id(raw_id))
    if row is None or row.owner_id != viewer.actor.id:
        raise HTTPException(404, NOT_FOUND)
    return row


def _changes(params: dict[str, Any], *, creating: bool) -> dict[str, Any] | JSONResponse:
    """The fields a create or update sets, or Mastodon's 422 for the first bad one."""
    changes: dict[str, Any] = {}
    title = params.get("title")
    if title is not None or creating:
        if not isinstance(title, str) or not title.strip():
            return validation_error("title", "ERR_BLANK", "can't be blank", "Title")
        if len(title) > MAX_TITLE:
            return validation_error("title", "ERR_TOO_LONG", f"is too long (maximum is {MAX_TITLE} characters)",
                                    "Title")
        changes["title"] = title.strip()
    policy = params.get("replies_policy")
    if policy is not None:
        if policy not in REPLIES_POLICIES:
            return validation_error("replies_policy", "ERR_INCLUSION", "is not included in the list",
                                    "Replies policy")
        changes["replies_policy"] = policy
    if "exclusive" in params:
        exclusive = params["exclusive"]
        changes["exclusive"] = exclusive if isinstance(exclusive, bool) else rails_bool(str(exclusive))
    return changes


async def all_lists(request: Request) -> Response:
    viewer = await require_viewer(request, "read:lists")
    async with context_of(request).database.session() as session:
        rows = (await session.exec(select(AccountList).where(AccountList.owner_id == viewer.actor.id)
                                   .order_by(AccountList.id))).all()
    return JSONResponse([list_entity(row) for row in rows])


async def create_list(request: Request) -> Response:
    viewer = await require_viewer(request, "write:lists")
    changes = _changes(await request_params(request), creating=True)
    if isinstance(changes, JSONResponse):
        return changes
    async with context_of(request).database.transaction() as session:
        count = len((await session.exec(select(AccountList.id).where(AccountList.owner_id == viewer.actor.id))).all())
        if count >= MAX_LISTS:
            return validation_error("base", "ERR_LIMIT", f"cannot be more than {MAX_LISTS}", "Lists")
        row = AccountList(owner_id=viewer.actor.id, **changes)
        session.add(row)
        await session.flush()
        return JSONResponse(list_entity(row))


async def one_list(request: Request) -> Response:
    viewer = await require_viewer(request, "read:lists" if request.method == "GET" else "write:lists")
    async with context_of(request).database.transaction() as session:
        row = await _own_list(session, viewer, request.path_params["id"])
        if request.method == "DELETE":
            await session.exec(delete(ListMember).where(ListMember.list_id == row.id))  # type: ignore[call-overload]
            await session.delete(row)
            return JSONResponse({})
        if request.method == "PUT":
            changes = _changes(await request_params(request), creating=False)
            if isinstance(changes, JSONResponse):
                return changes
            for name, value in changes.items():
                setattr(row, name, value)
            session.add(row)
        return JSONResponse(list_entity(row))


def _account_ids(request: Request, params: dict[str, Any]) -> list[int] | None:
    # In the body (form or JSON), or in the query string, as some apps send a DELETE's.
    raw = params.get("account_ids") or query_list(request, "account_ids")
    values = raw if isinstance(raw, list) else [raw] if raw not in (None, "") else []
    if not values or not all(isinstance(value, str | int) and is_record_id(str(value)) for value in values):
        return None
    return list(dict.fromkeys(int(value) for value in values))


async def list_accounts(request: Request) -> Response:
    viewer = await require_viewer(request, "read:lists" if request.method == "GET" else "write:lists")
    ctx = context_of(request)
    if request.method == "GET":
        async with ctx.database.session() as session:
            row = await _own_list(session, viewer, request.path_params["id"])
        query = select(ListMember.id, Actor).join(Actor, Actor.id == ListMember.actor_id).where(
            ListMember.list_id == row.id)
        return await account_page(request, query, ListMember.id)
    account_ids = _account_ids(request, await request_params(request))
    if account_ids is None:
        return validation_error("account_ids", "ERR_BLANK", "can't be blank", "Accounts")
    async with ctx.database.transaction() as session:
        row = await _own_list(session, viewer, request.path_params["id"])
        if request.method == "DELETE":
            await session.exec(delete(ListMember).where(  # type: ignore[call-overload]
                ListMember.list_id == row.id, ListMember.actor_id.in_(account_ids)))  # type: ignore[attr-defined]
            return JSONResponse({})
        for account_id in account_ids:
            await find_account(session, account_id)  # 404 for an unknown account
            followed = (await session.exec(select(Follow.id).where(
                Follow.follower_id == viewer.actor.id, Follow.followee_id == account_id,
                Follow.state == "accepted"))).first()
            if followed is None:  # Mastodon only lists accounts one follows
                return validation_error("account_ids", "ERR_INVALID", "must be accounts you follow", "Accounts")
            present = (await session.exec(select(ListMember.id).where(
                ListMember.list_id == row.id, ListMember.actor_id == account_id))).first()
            if present is None:
                session.add(ListMember(list_id=row.id, actor_id=account_id))
        return JSONResponse({})


async def lists_with_account(request: Request) -> Response:
    """The viewer's lists that hold the account in the path."""
    viewer = await require_viewer(request, "read:lists")
    async with context_of(request).database.session() as session:
        target = await find_account(session, record_id(request.path_params["id"]))
        rows = (await session.exec(
            select(AccountList).join(ListMember, ListMember.list_id == AccountList.id)
            .where(AccountList.owner_id == viewer.actor.id, ListMember.actor_id == target.id)
            .order_by(AccountList.id))).all()
    return JSONResponse([list_entity(row) for row in rows])


async def list_timeline(request: Request) -> Response:
    """Posts and boosts of the list's members that the viewer may see. (The list's
    `replies_policy` is kept and shown, but replies are not yet filtered by it.)"""
    viewer = await require_viewer(request, "read:lists")
    async with context_of(request).database.session() as session:
        row = await _own_list(session, viewer, request.path_params["id"])
    return await status_page(request, list_statuses(row.id, viewer.actor.id), viewer.actor.id, context="home")


def list_statuses(list_id: int, viewer_id: int) -> Select[Any]:
    """A list timeline's condition, shared with the list stream."""
    member = exists().where(ListMember.list_id == list_id, ListMember.actor_id == Status.actor_id)
    return select(Status).where(member, and_(visible_to(viewer_id), boost_shown(viewer_id),
                                             not_blocked_by(viewer_id), not_muted_by(viewer_id)))


routes = [
    *get("/api/v1/lists", all_lists),
    *get("/api/v1/lists", create_list, methods=("POST",)),
    *get("/api/v1/lists/{id}", one_list, methods=("GET", "PUT", "DELETE")),
    *get("/api/v1/lists/{id}/accounts", list_accounts, methods=("GET", "POST", "DELETE")),
    *get("/api/v1/accounts/{id}/lists", lists_with_account),
    *get("/api/v1/timelines/list/{id}", list_timeline),
]
