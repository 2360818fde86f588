"""Server-sent events, framed as Mastodon's streaming server frames them.

`:)` at once, `:thump` every 15 s without events, and each event as `event: <name>` and
`data: <payload>` on one line each (Mastodon.py requires the space after the colon and one
line of JSON). `filters_changed` carries `data: null`: older Mastodon.py crashes on the
`undefined` Mastodon sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.types import Receive, Scope, Send

from web.streaming.connection import Listener, StreamClosed, settle
from web.streaming.render import Message

log = logging.getLogger("rounds.streaming")
HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"private, no-store"),
           (b"x-accel-buffering", b"no")]
FINISH_SECONDS = 1.0


def frame(message: Message) -> str:
    return f"event: {message.event}\ndata: {message.payload if message.payload is not None else 'null'}\n\n"


class EventStream:
    """The response of an SSE stream: an ASGI app that runs until the client leaves, the token
    is revoked, or the client falls too far behind (then the connection is dropped)."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            await send({"type": "http.response.body", "body": b":)\n", "more_body": True})
            writer = asyncio.create_task(self._write(send))
            gone = asyncio.create_task(self._until_disconnect(receive))
            behind = asyncio.create_task(self.listener.subscription.overflowed.wait())
            done, pending = await asyncio.wait({writer, gone, behind}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            settle(done)
        finally:
            self.listener.close()
        if gone in done:
            return
        if behind in done:
            log.info("stream of %s dropped: the client fell behind", self.listener.viewer.actor.username)
        # Revoked, or behind: end the response; a client that reads nothing never gets it.
        with contextlib.suppress(TimeoutError, OSError):
            await asyncio.wait_for(send({"type": "http.response.body", "body": b"", "more_body": False}),
                                   FINISH_SECONDS)

    async def _write(self, send: Send) -> None:
        try:
            while True:
                messages = await self.listener.next_messages()
                chunk = ":thump\n\n" if messages is None else "".join(frame(message) for message in messages)
                if chunk:
                    await send({"type": "http.response.body", "body": chunk.encode("utf-8"), "more_body": True})
        except StreamClosed as closed:
            log.info("stream of %s closed: %s", self.listener.viewer.actor.username, closed)

    @staticmethod
    async def _until_disconnect(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
