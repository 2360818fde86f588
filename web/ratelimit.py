"""The client API's rate limit, with the headers Mastodon sends.

Each caller may make `limit` requests to `/api/` in each five-minute window (windows are
aligned to the clock, as Rack::Attack's are in Mastodon, so they all reset together). A caller
is its bearer token when it sends one, otherwise its address (`X-Forwarded-For` from a
loopback proxy, as uvicorn reads it). Every counted response carries

    X-RateLimit-Limit: 300
    X-RateLimit-Remaining: 299
    X-RateLimit-Reset: 2026-11-29T23:10:00.000000Z

and a request over the limit is answered 429 `{"error": "Too many requests"}` with
`Retry-After`, without reaching the endpoint. Apps (Mastodon.py's default `wait`, Tusky,
Ivory) read these to slow down before they are refused.

Counts live in the process's memory: with several web processes each keeps its own, so the
effective limit is the limit times the processes. Tokens are counted by a digest, never kept.
Memory is bounded: the counts are dropped when the window turns, and once MAX_CALLERS are
counted in a window, a request with an unseen token counts against its address instead
(random tokens cannot grow the table). The streaming endpoints are not counted: one request
there is a connection that lasts.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WINDOW = 300  # seconds
MAX_CALLERS = 50_000
COUNTED = "/api/"
NOT_COUNTED = ("/api/v1/streaming",)


class RateLimit:
    def __init__(self, app: ASGIApp, limit: int, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.limit = limit  # 0: no limit, no headers
        self.clock = clock
        self._window = -1
        self._counts: dict[str, int] = {}

    def _caller(self, scope: Scope) -> str:
        authorization = Headers(scope=scope).get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        address = f"address:{scope['client'][0] if scope.get('client') else 'unknown'}"
        if scheme.lower() != "bearer" or not token.strip():
            return address
        caller = "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
        if caller not in self._counts and len(self._counts) >= MAX_CALLERS:
            return address
        return caller

    def _count(self, caller: str, now: float) -> tuple[int, float]:
        """Count one request; returns (requests so far in this window, when the window ends)."""
        window = int(now // WINDOW)
        if window != self._window:
            self._window, self._counts = window, {}
        self._counts[caller] = self._counts.get(caller, 0) + 1
        return self._counts[caller], (window + 1) * WINDOW

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (self.limit <= 0 or scope["type"] != "http" or scope.get("method") == "OPTIONS"
                or not path.startswith(COUNTED) or path.startswith(NOT_COUNTED)):
            await self.app(scope, receive, send)
            return
        now = self.clock()
        used, reset = self._count(self._caller(scope), now)
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.limit - used, 0)),
            "X-RateLimit-Reset": datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        if used > self.limit:
            await _too_many(send, headers | {"Retry-After": str(max(math.ceil(reset - now), 1))})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in headers.items():
                    response_headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _too_many(send: Send, headers: dict[str, str]) -> None:
    body = json.dumps({"error": "Too many requests"}).encode()
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    raw += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 429, "headers": raw})
    await send({"type": "http.response.body", "body": body})
