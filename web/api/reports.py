"""`POST /api/v1/reports`: a person reports an account (and some of its posts) to the moderators
here, and optionally has the report forwarded, anonymously, to the account's own server."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from actors.visibility import local_viewer_may_see
from outbox.reports import CATEGORIES, MAX_COMMENT, file_report
from storage.tables import Actor, Report, Status
from web.api.accounts import find_account
from web.api.entities import account, load_accounts
from web.api.entities.formats import iso_datetime, optional_datetime
from web.api.params import get, is_record_id, rails_bool
from web.auth import require_viewer
from web.context import AppContext, context_of
from web.oauth import request_params, validation_error
from web.responses import JSONResponse

MAX_STATUSES = 20  # per report, like Mastodon's form


def _ids(value: Any) -> list[str] | None:
    if value is None or value == "":
        return []
    values = value if isinstance(value, list) else [value]
    return [str(item) for item in values] if all(isinstance(item, str | int) for item in values) else None


async def create_report(request: Request) -> Response:
    viewer = await require_viewer(request, "write:reports")
    params = await request_params(request)
    ctx = context_of(request)
    raw_account = str(params.get("account_id") or "")
    if not is_record_id(raw_account):
        return validation_error("account_id", "ERR_BLANK", "can't be blank", "Account")
    status_ids = _ids(params.get("status_ids"))
    if status_ids is None or not all(is_record_id(raw) for raw in status_ids) or len(status_ids) > MAX_STATUSES:
        return validation_error("status_ids", "ERR_INVALID", f"must be at most {MAX_STATUSES} status ids",
                                "Statuses")
    if _ids(params.get("rule_ids")):
        return validation_error("rule_ids", "ERR_INVALID", "are not rules of this instance", "Rules")
    category = params.get("category") or "other"
    if category not in CATEGORIES:
        return validation_error("category", "ERR_INCLUSION", "is not included in the list", "Category")
    comment = params.get("comment") or ""
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        return validation_error("comment", "ERR_TOO_LONG", f"is too long (maximum is {MAX_COMMENT} characters)",
                                "Comment")
    forward = rails_bool(str(params.get("forward", "")).lower() if isinstance(params.get("forward"), bool)
                         else params.get("forward"))
    async with ctx.database.transaction() as session:
        target = await find_account(session, int(raw_account))
        statuses: list[Status] = []
        for raw in dict.fromkeys(status_ids):
            status = await session.get(Status, int(raw))
            if (status is None or status.actor_id != target.id
                    or not await local_viewer_may_see(session, status, viewer.actor.id)):
                return validation_error("status_ids", "ERR_INVALID", f"{raw} is not a post of this account",
                                        "Statuses")
            statuses.append(status)
        instance_actor = (await session.exec(select(Actor).where(Actor.uri == ctx.urls.instance_actor))).one()
        report = await file_report(session, request.app.state.federation.outbox, reporter=viewer.actor,
                                   target=target, statuses=statuses, category=category, comment=comment,
                                   forward=forward, instance_actor=instance_actor)
        entity = await report_entity(session, ctx, report, target)
    return JSONResponse(entity)


async def report_entity(session: AsyncSession, ctx: AppContext, report: Report, target: Actor) -> dict[str, Any]:
    batch = await load_accounts(session, [target.id])
    return {
        "id": str(report.id),
        "action_taken": report.action_taken_at is not None,
        "action_taken_at": optional_datetime(report.action_taken_at),
        "category": report.category,
        "comment": report.comment,
        "forwarded": report.forwarded,
        "created_at": iso_datetime(report.created_at),
        "status_ids": report.status_ids.split() or None,
        "rule_ids": None,
        "target_account": account(target, batch, ctx.urls),
    }


routes = get("/api/v1/reports", create_report, methods=("POST",))
