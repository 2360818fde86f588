"""The home-timeline baseline: one indexed SELECT, on the same machine and database.

A bare Starlette endpoint answering `GET /home?reader=ID[&max_id=ID]` with the twenty newest
statuses by the accounts the reader follows (`actor_id IN (their accepted follows) ORDER BY id
DESC LIMIT 20`), as bare JSON, and the same `Link: next` paging Rounds gives, through the same
database layer (`storage.engine`). No token, no visibility rules, no rendering: Rounds' home
timeline does all that besides; the ratio of the two is the price of it. Counted by the same
`bench.counting` middleware (it should say one statement a request).

`python -m bench.timeline_baseline DATABASE_URL HOST PORT`
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.counting import CountQueries, listen
from storage.engine import Database
from web.responses import JSONResponse

PAGE = 20
NEWEST = (1 << 63) - 1
HOME = sa.text("SELECT id, uri, actor_id, content, created_at FROM statuses "
               "WHERE actor_id IN (SELECT followee_id FROM follows WHERE follower_id = :reader "
               "AND state = 'accepted') AND id < :max_id ORDER BY id DESC LIMIT :limit")


def build(database_url: str) -> Starlette:
    database = Database(database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await database.dispose()

    async def home(request: Request) -> Response:
        reader = int(request.query_params["reader"])
        max_id = int(request.query_params.get("max_id") or NEWEST)
        async with database.engine.connect() as connection:
            rows = (await connection.execute(HOME, {"reader": reader, "max_id": max_id, "limit": PAGE})).all()
        entities = [{"id": str(row.id), "uri": row.uri, "account_id": str(row.actor_id), "content": row.content,
                     "created_at": str(row.created_at)} for row in rows]
        headers = {"Link": f'<{request.url.include_query_params(max_id=rows[-1].id)}>; rel="next"'} if rows else {}
        return JSONResponse(entities, headers=headers)

    listen()
    return Starlette(routes=[Route("/home", home)], middleware=[Middleware(CountQueries)], lifespan=lifespan)


if __name__ == "__main__":
    url, host, port = sys.argv[1:4]
    uvicorn.run(build(url), host=host, port=int(port), log_level="warning", access_log=False)
