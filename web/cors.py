"""CORS for browser clients (Elk, Phanpy, masto.js): a plain ASGI middleware.

Like Mastodon's `config/initializers/cors.rb`: any origin, no credentials (tokens travel in
the Authorization header, never cookies), on the client API, the OAuth token and revoke
endpoints, discovery and NodeInfo. `Link` and the rate-limit headers are exposed so that
paging works from a browser. Preflights are answered here, before routing.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIXES = ("/api/", "/.well-known/", "/nodeinfo/")
EXACT = frozenset({"/oauth/token", "/oauth/revoke"})
ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
EXPOSE_HEADERS = "Link, X-RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining, X-Request-Id"
DEFAULT_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, Accept"
MAX_AGE = "86400"


def covered(path: str) -> bool:
    return path.startswith(PREFIXES) or path.rstrip("/") in EXACT


class CORS:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not covered(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(headers, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in (
                    (b"access-control-allow-origin", b"*"),
                    (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
                ) if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, headers: Headers, send: Send) -> None:
        # `*` in Allow-Headers does not cover Authorization, so echo what the browser asks for.
        asked = headers.get("access-control-request-headers", "").strip()
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"access-control-allow-origin", b"*"),
            (b"access-control-allow-methods", ALLOW_METHODS.encode()),
            (b"access-control-allow-headers", (asked or DEFAULT_ALLOW_HEADERS).encode("latin-1")),
            (b"access-control-max-age", MAX_AGE.encode()),
            (b"content-length", b"0"),
        ]})
        await send({"type": "http.response.body", "body": b""})
