"""The multiplexed WebSocket at `/api/v1/streaming`.

The token comes from `Authorization`, `?access_token=` or `Sec-WebSocket-Protocol` (the
offered protocol is echoed back, or browsers abort the handshake); a bad one is refused
before the upgrade with 401. `?stream=` subscribes at once; then the client sends
`{"type": "subscribe" | "unsubscribe", "stream": …, "tag": …, "list": …}`. Each event is
`{"stream": [name, tag or list id], "event": …, "payload": "<JSON text>"}`; errors are
`{"error": …, "status": …}`, only for real errors (masto.js throws on them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.websockets import WebSocket, WebSocketDisconnect

from web.context import AppContext
from web.responses import JSONResponse
from web.streaming.channels import ChannelError, channel_named
from web.streaming.connection import Listener, StreamClosed, settle, shared_statuses, stream_viewer, token_from

log = logging.getLogger("rounds.streaming")
CLOSE_SECONDS = 1.0
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


async def _refuse(websocket: WebSocket, status: int, message: str) -> None:
    """Answer the upgrade with an HTTP error where the server can, else close before accepting."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse({"error": message}, status_code=status))
    else:
        await websocket.close(code=POLICY_VIOLATION)


class SocketStream:
    def __init__(self, websocket: WebSocket, listener: Listener) -> None:
        self.websocket = websocket
        self.listener = listener
        self._sending = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self._sending:
            await self.websocket.send_text(json.dumps(message, separators=(",", ":"), ensure_ascii=False))

    async def run(self) -> None:
        writer = asyncio.create_task(self._write())
        reader = asyncio.create_task(self._read())
        behind = asyncio.create_task(self.listener.subscription.overflowed.wait())
        done, pending = await asyncio.wait({writer, reader, behind}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        settle(done)
        if reader in done:
            return  # the client left
        code = TRY_AGAIN_LATER if behind in done else POLICY_VIOLATION
        with contextlib.suppress(TimeoutError, OSError, RuntimeError):
            await asyncio.wait_for(self.websocket.close(code=code), CLOSE_SECONDS)

    async def _write(self) -> None:
        try:
            while True:
                messages = await self.listener.next_messages()
                for message in messages or ():
                    await self.send(message.websocket_frame())
        except StreamClosed as closed:
            log.info("stream of %s closed: %s", self.listener.viewer.actor.username, closed)

    async def _read(self) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                text = await self.websocket.receive_text()
                await self.handle(text)

    async def handle(self, text: str) -> None:
        try:
            request = json.loads(text)
        except ValueError:
            await self.send({"error": "Invalid JSON", "status": 400})
            return
        if not isinstance(request, dict) or request.get("type") not in ("subscribe", "unsubscribe"):
            return  # Mastodon ignores what it does not know
        params = {key: str(value) for key, value in request.items() if isinstance(value, str | int)}
        try:
            channel = channel_named(params.get("stream", ""), params)
            if request["type"] == "subscribe":
                await self.listener.check(channel)
                self.listener.add(channel)
            else:
                self.listener.remove(channel)
        except ChannelError as error:
            await self.send({"error": error.message, "status": error.status})


async def streaming_socket(websocket: WebSocket) -> None:
    ctx: AppContext = websocket.app.state.ctx
    try:
        viewer = await stream_viewer(ctx, token_from(websocket.headers, websocket.query_params, websocket=True))
    except HTTPException as error:
        await _refuse(websocket, error.status_code, error.detail)
        return
    listener = await Listener.open(ctx, viewer, shared_statuses(websocket.app))
    try:
        if websocket.query_params.get("stream"):
            try:
                channel = channel_named(websocket.query_params["stream"], websocket.query_params)
                await listener.check(channel)
            except ChannelError as error:
                await _refuse(websocket, error.status, error.message)
                return
            listener.add(channel)
        offered = websocket.headers.get("sec-websocket-protocol", "").split(",")[0].strip()
        await websocket.accept(subprotocol=offered or None)
        await SocketStream(websocket, listener).run()
    finally:
        listener.close()
