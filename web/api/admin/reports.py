"""`/api/v1/admin/reports`: the moderation queue (reports made here and forwarded by other
servers), and taking a report on, resolving and reopening it.

Needs `manage_reports`. A report's comment and reported posts are private: each report shown
is audited as `report.read`, and each non-public post shown with it as `status.read`, in the
transaction that reads them.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from actors.account_actions import assign_report, find_report, reopen_report, resolve_report
from moderation.audit import record
from outbox.reports import CATEGORIES
from storage.tables import Report, Status, utcnow
from web.api.admin import require_moderator
from web.api.entities import render_statuses
from web.api.entities.admin import admin_report, load_admin_accounts, report_people
from web.api.paging import Page, link_headers
from web.api.params import NOT_FOUND, get, is_record_id, query_bool, record_id
from web.auth import Viewer
from web.context import context_of
from web.oauth import request_params, validation_error
from web.responses import JSONResponse

READ, WRITE = "admin:read:reports", "admin:write:reports"
PUBLIC_VISIBILITIES = ("public", "unlisted")


async def render_reports(session: AsyncSession, request: Request, viewer: Viewer, reports: list[Report], *,
                         via: str = "api") -> list[dict[str, Any]]:
    """Admin::Report entities; audits the reading of each report and of its non-public posts."""
    urls = context_of(request).urls
    batch = await load_admin_accounts(session, [person for report in reports for person in report_people(report)])
    status_ids = {int(raw) for report in reports for raw in report.status_ids.split()}
    statuses = {status.id: status for status in (await session.exec(
        select(Status).where(Status.id.in_(status_ids)))).all()} if status_ids else {}  # type: ignore[attr-defined]
    entities = []
    for report in reports:
        shown = [statuses[int(raw)] for raw in report.status_ids.split() if int(raw) in statuses]
        rendered = await render_statuses(session, shown, urls, viewer.actor.id)
        await record(session, by=viewer.actor.id, action="report.read", target_type="report", target=report.id,
                     via=via)
        for status in shown:
            if status.visibility not in PUBLIC_VISIBILITIES:
                await record(session, by=viewer.actor.id, action="status.read", target_type="status",
                             target=status.id, detail=f"{status.visibility}, in report {report.id}", via=via)
        entities.append(admin_report(report, batch, rendered, urls))
    return entities


async def list_reports(request: Request) -> Response:
    """Unresolved reports, or with `resolved=true` the resolved ones; `account_id` (the reporter)
    and `target_account_id` narrow it. Newest first, Link-header paging."""
    viewer = await require_moderator(request, READ, "manage_reports")
    ctx = context_of(request)
    page = Page.of(request, default=100, maximum=200)
    query = select(Report.id, Report)  # type: ignore[call-overload]
    query = query.where(Report.action_taken_at.is_not(None) if query_bool(request, "resolved")  # type: ignore[union-attr]
                        else Report.action_taken_at.is_(None))  # type: ignore[union-attr]
    for name, column in (("account_id", Report.reporter_id), ("target_account_id", Report.target_id)):
        raw = request.query_params.get(name)
        if raw:
            query = query.where(column == (int(raw) if is_record_id(raw) else -1))
    async with ctx.database.transaction() as session:
        rows = page.arrange((await session.exec(page.apply(query, Report.id))).all())
        entities = await render_reports(session, request, viewer, [report for _, report in rows])
    return JSONResponse(entities, headers=link_headers(request, ctx.urls.base_url, [row_id for row_id, _ in rows]))


async def _report(session: AsyncSession, request: Request) -> Report:
    report = await find_report(session, record_id(request.path_params["id"]))
    if report is None:
        raise HTTPException(404, NOT_FOUND)
    return report


async def get_report(request: Request) -> Response:
    viewer = await require_moderator(request, READ, "manage_reports")
    async with context_of(request).database.transaction() as session:
        report = await _report(session, request)
        [entity] = await render_reports(session, request, viewer, [report])
    return JSONResponse(entity)


async def _change(request: Request, verb: str) -> Response:
    viewer = await require_moderator(request, WRITE, "manage_reports")
    async with context_of(request).database.transaction() as session:
        report = await _report(session, request)
        if verb == "resolve":
            await resolve_report(session, report, viewer.actor)
        elif verb == "reopen":
            await reopen_report(session, report, viewer.actor)
        else:
            await assign_report(session, report, viewer.actor, to_self=verb == "assign_to_self")
        await session.flush()
        [entity] = await render_reports(session, request, viewer, [report])
    return JSONResponse(entity)


async def update_report(request: Request) -> Response:
    """`PUT /:id`: change the `category` (this instance has no rules, so `rule_ids` must be empty)."""
    viewer = await require_moderator(request, WRITE, "manage_reports")
    params = await request_params(request)
    category = params.get("category")
    if category is not None and category not in CATEGORIES:
        return validation_error("category", "ERR_INCLUSION", "is not included in the list", "Category")
    if params.get("rule_ids") or params.get("rule_ids[]"):
        return validation_error("rule_ids", "ERR_INVALID", "are not rules of this instance", "Rules")
    async with context_of(request).database.transaction() as session:
        report = await _report(session, request)
        if category is not None and category != report.category:
            await record(session, by=viewer.actor.id, action="report.update", target_type="report",
                         target=report.id, detail=f"category: {report.category} → {category}")
            report.category, report.updated_at = category, utcnow()
            session.add(report)
            await session.flush()
        [entity] = await render_reports(session, request, viewer, [report])
    return JSONResponse(entity)


async def assign_to_self(request: Request) -> Response:
    return await _change(request, "assign_to_self")


async def unassign(request: Request) -> Response:
    return await _change(request, "unassign")


async def resolve(request: Request) -> Response:
    return await _change(request, "resolve")


async def reopen(request: Request) -> Response:
    return await _change(request, "reopen")


routes = [
    *get("/api/v1/admin/reports", list_reports),
    *get("/api/v1/admin/reports/{id}", get_report),
    *get("/api/v1/admin/reports/{id}", update_report, methods=("PUT",)),
    *get("/api/v1/admin/reports/{id}/assign_to_self", assign_to_self, methods=("POST",)),
    *get("/api/v1/admin/reports/{id}/unassign", unassign, methods=("POST",)),
    *get("/api/v1/admin/reports/{id}/resolve", resolve, methods=("POST",)),
    *get("/api/v1/admin/reports/{id}/reopen", reopen, methods=("POST",)),
]
