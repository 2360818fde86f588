"""`GET /api/v1/admin/audit_log`: the audit log, newest first (Rounds' own route: Mastodon shows its
audit log only on admin web pages). Moderators and admins (`view_audit_log`) with `admin:read`.

Filters: `action` (exact, or a prefix ending in `.` such as `domain_block.`), `account_id` (the
moderator who acted). Paged like every list (`max_id`, `since_id`, `min_id`, `limit` ≤ 200).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import Response

from storage.tables import Actor, AuditEntry
from web.api.admin import require_moderator
from web.api.entities.formats import iso_datetime
from web.api.paging import Page, link_headers
from web.api.params import get, is_record_id
from web.context import context_of
from web.oauth import validation_error
from web.responses import JSONResponse


def entry_entity(entry: AuditEntry, moderator: Actor | None) -> dict[str, Any]:
    return {
        "id": str(entry.id),
        "created_at": iso_datetime(entry.created_at),
        "action": entry.action,
        "target_type": entry.target_type,
        "target": entry.target,
        "detail": entry.detail,
        "via": entry.via,
        "account": None if moderator is None else {"id": str(moderator.id), "username": moderator.username},
    }


async def audit_log(request: Request) -> Response:
    await require_moderator(request, "admin:read", "view_audit_log")
    ctx = context_of(request)
    page = Page.of(request, default=100, maximum=200)
    query = select(AuditEntry)
    action = request.query_params.get("action")
    if action:
        query = query.where(col(AuditEntry.action).startswith(action) if action.endswith(".")
                            else AuditEntry.action == action)
    account_id = request.query_params.get("account_id")
    if account_id:
        if not is_record_id(account_id):
            return validation_error("account_id", "ERR_INVALID", "is not an account id", "Account")
        query = query.where(AuditEntry.actor_id == int(account_id))
    async with ctx.database.session() as session:
        rows = page.arrange((await session.exec(page.apply(query, AuditEntry.id))).all())
        moderator_ids = {row.actor_id for row in rows if row.actor_id is not None}
        moderators = {actor.id: actor for actor in (await session.exec(
            select(Actor).where(col(Actor.id).in_(moderator_ids)))).all()} if moderator_ids else {}
    return JSONResponse([entry_entity(row, moderators.get(row.actor_id or 0)) for row in rows],
                        headers=link_headers(request, ctx.urls.base_url, [row.id for row in rows]))


routes = get("/api/v1/admin/audit_log", audit_log)
