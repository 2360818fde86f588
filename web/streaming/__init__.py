"""Mastodon's streaming API: server-sent events per channel and the multiplexed WebSocket.

Events come from the process's hub (`storage.events`); each connection renders them for its
viewer (`web.streaming.render`), so a stream shows exactly what the REST routes would.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from web.context import context_of
from web.responses import JSONResponse
from web.streaming.channels import ChannelError, channel_at
from web.streaming.connection import Listener, shared_statuses, stream_viewer, token_from
from web.streaming.sse import EventStream
from web.streaming.websocket import streaming_socket


async def health(_request: Request) -> Response:
    return PlainTextResponse("OK")


async def server_sent_events(request: Request) -> Response | EventStream:
    ctx = context_of(request)
    viewer = await stream_viewer(ctx, token_from(request.headers, request.query_params))
    listener = await Listener.open(ctx, viewer, shared_statuses(request.app))
    try:
        channel = channel_at(request.path_params["path"], request.query_params)
        await listener.check(channel)
    except ChannelError as error:
        listener.close()
        return JSONResponse({"error": error.message}, status_code=error.status)
    listener.add(channel)
    return EventStream(listener)


routes = [
    Route("/api/v1/streaming/health", health, methods=["GET", "HEAD"]),
    WebSocketRoute("/api/v1/streaming", streaming_socket),
    WebSocketRoute("/api/v1/streaming/", streaming_socket),
    Route("/api/v1/streaming/{path:path}", server_sent_events, methods=["GET"]),
]

__all__ = ["routes"]
