"""`rounds serve`, counting each request's database queries into an `X-Bench-Queries` header.

    python -m bench.counting serve --host 127.0.0.1 --port 8001 [--no-workers]

The same command line, settings and app as `rounds serve` (this calls `web.cli.main`), with two
additions made here rather than in the application, so that nothing in Rounds carries benchmark
switches: a SQLAlchemy `before_cursor_execute` listener on every engine, and a plain ASGI
middleware, outermost, that gives each HTTP request a counter (a context variable: it reaches
the greenlet SQLAlchemy's asyncio layer runs the driver in) and puts the count in the response's
headers. Statements the workers run in the background belong to no request and are not counted;
an `executemany` counts once. The timeline baseline (`bench.timeline_baseline`) is wrapped in
the same middleware, so both sides are counted alike.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import web.cli

HEADER = "x-bench-queries"
_counter: ContextVar[list[int] | None] = ContextVar("bench_queries", default=None)


def _count(_connection: Any, _cursor: Any, _statement: str, _parameters: Any, _context: Any,
           _executemany: bool) -> None:
    counter = _counter.get()
    if counter is not None:
        counter[0] += 1


def listen() -> None:
    """Count the statements of every engine made in this process (idempotent)."""
    if not event.contains(Engine, "before_cursor_execute", _count):
        event.listen(Engine, "before_cursor_execute", _count)


class CountQueries:
    """The number of statements run while answering, in the `X-Bench-Queries` header (those run
    after the headers went out, while a body streams, are not in it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counter = [0]
        token = _counter.set(counter)

        async def send_counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (HEADER.encode(), str(counter[0]).encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            _counter.reset(token)


def main(argv: list[str]) -> int:
    listen()
    create_app = web.cli.create_app

    def counted_app(*args: Any, **kwargs: Any) -> Any:
        app = create_app(*args, **kwargs)
        app.add_middleware(CountQueries)  # the outermost layer: it sees the whole request
        return app

    web.cli.create_app = counted_app  # type: ignore[assignment]
    return web.cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
