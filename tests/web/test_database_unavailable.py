"""The database out of reach answers 503 with Retry-After; any other database error stays a 500.

Tiny real apps with the instance's exception handlers, each route running a real statement:
on a PostgreSQL address where nothing listens (the connect is refused: an outage), and on a
SQLite database without the table asked for (a bug, although SQLite calls it OperationalError).
The whole outage, with a real PostgreSQL stopped and started, is tests/faults/test_database_outage.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from storage.engine import Database
from tests.support.processes import free_port
from web.errors import DATABASE_UNAVAILABLE, EXCEPTION_HANDLERS


def app_on(database: Database, statement: str) -> Starlette:
    async def query(_request: Request) -> JSONResponse:
        async with database.transaction() as session:
            rows = (await session.exec(text(statement))).all()  # type: ignore[call-overload]
        return JSONResponse({"rows": len(rows)})

    return Starlette(routes=[Route("/query", query)], exception_handlers=EXCEPTION_HANDLERS)


@pytest.fixture
async def unreachable() -> AsyncIterator[Database]:
    database = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/rounds")  # nothing listens there
    yield database
    await database.dispose()


async def test_a_request_while_the_database_refuses_connections_answers_503_with_retry_after(unreachable):
    app = app_on(unreachable, "SELECT 1")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mayo.test") as client:
        answer = await client.get("/query")
        page = await client.get("/query", headers={"Accept": "text/html"})
    assert answer.status_code == 503
    assert answer.json() == {"error": DATABASE_UNAVAILABLE}
    assert int(answer.headers["retry-after"]) > 0
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert DATABASE_UNAVAILABLE in page.text and "retry-after" in page.headers


async def test_a_failing_statement_on_a_working_database_is_still_a_500(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'rounds.db'}")
    try:
        answers = []
        for statement in ("SELECT 1", "SELECT * FROM no_such_table"):  # SQLite: an OperationalError
            transport = httpx.ASGITransport(app=app_on(database, statement), raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://mayo.test") as client:
                answers.append(await client.get("/query"))
    finally:
        await database.dispose()
    working, failing = answers
    assert working.status_code == 200 and working.json() == {"rows": 1}
    assert failing.status_code == 500
    assert DATABASE_UNAVAILABLE not in failing.text and "retry-after" not in failing.headers
