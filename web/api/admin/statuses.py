"""`DELETE /api/v1/admin/statuses/:id`: a moderator removes a post (Rounds' own route: Mastodon
does this only from its admin pages). `text` is shown to a local author with the warning;
`report_id` resolves that report with it. Needs `manage_reports` and `admin:write:reports`.

A local post is deleted and the Delete federated, as its author's own would be; a remote post
is dropped here only. Audited as `status.delete`.
"""

from __future__ import annotations

from sqlmodel import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from actors.account_actions import find_report, outranks
from outbox.account_actions import delete_status_as_moderator
from storage.tables import Actor, Status, User
from web.api.admin import NOT_PERMITTED, require_moderator
from web.api.admin.accounts import MAX_ACTION_TEXT
from web.api.params import NOT_FOUND, get, is_record_id, record_id
from web.context import context_of
from web.oauth import request_params, validation_error
from web.responses import JSONResponse


async def delete_status(request: Request) -> Response:
    viewer = await require_moderator(request, "admin:write:reports", "manage_reports")
    params = await request_params(request)
    text = params.get("text") or ""
    if not isinstance(text, str) or len(text) > MAX_ACTION_TEXT:
        return validation_error("text", "ERR_TOO_LONG", f"is too long (maximum is {MAX_ACTION_TEXT} characters)",
                                "Text")
    raw_report = str(params.get("report_id") or "")
    if raw_report and not is_record_id(raw_report):
        raise HTTPException(404, NOT_FOUND)
    ctx = context_of(request)
    federation = request.app.state.federation
    async with ctx.database.transaction() as session:
        status = await session.get(Status, record_id(request.path_params["id"]))
        if status is None or status.deleted_at is not None or status.reblog_of_id is not None:
            raise HTTPException(404, NOT_FOUND)
        author = await session.get(Actor, status.actor_id)
        assert author is not None
        user = (await session.exec(select(User).where(User.actor_id == author.id))).first()
        if author.id == viewer.actor.id or (user is not None and not outranks(viewer.user.role, user.role)):
            raise HTTPException(403, NOT_PERMITTED)
        report = await find_report(session, int(raw_report)) if raw_report else None
        if raw_report and report is None:
            raise HTTPException(404, NOT_FOUND)
        if report is not None and str(status.id) not in report.status_ids.split():
            return validation_error("report_id", "ERR_INVALID", "does not name this post", "Report")
        instance = (await session.exec(select(Actor).where(Actor.uri == ctx.urls.instance_actor))).one()
        await delete_status_as_moderator(session, federation.outbox, moderator=viewer.actor, status=status,
                                         author=author, text=text, report=report, instance_actor=instance)
    return JSONResponse({})


routes = get("/api/v1/admin/statuses/{id}", delete_status, methods=("DELETE",))
