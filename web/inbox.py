"""Inbox routes: hand the raw delivery to `inbox.accept`, answer 202 or why not."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.accounts import find_local_actor
from federation.documents import host_of
from inbox.accept import Accepted, Delivery, accept
from web.context import context_of
from web.responses import error_response


async def receive(request: Request) -> Response:
    ctx = context_of(request)
    federation = request.app.state.federation
    username = request.path_params.get("username")
    if username is not None:
        async with ctx.database.session() as session:
            if await find_local_actor(session, username) is None:
                raise HTTPException(404, f"no account named {username!r} here")
    body = await request.body()
    # The URL the sender addressed, as our ids spell it (a proxy in front may rewrite the scheme).
    target = ctx.urls.base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    verdict = await accept(
        Delivery(method=request.method, url=target, headers=request.headers, body=body),
        database=ctx.database, store=federation.inbox_store, actors=federation.actors, policy=federation.policy,
        now=federation.clock(),
    )
    if not isinstance(verdict, Accepted):
        return error_response(verdict.status, verdict.reason)
    if not verdict.duplicate:
        federation.inbox_worker.notify()
        # A host that contacts us is alive again: resume deliveries parked for it.
        if await federation.revivals.heard_from(host_of(verdict.activity_id), now=federation.clock()):
            federation.delivery_worker.notify()
    return Response(status_code=202)


routes = [
    Route("/inbox", receive, methods=["POST"]),
    Route("/users/{username}/inbox", receive, methods=["POST"]),
    Route("/actor/inbox", receive, methods=["POST"]),
]
