"""The inbox-ingest baseline: the least an inbox can do, on the same machine and database.

A bare Starlette endpoint that checks the same HTTP signature with the same code Rounds uses
(`federation.httpsig`), against keys it already holds (no fetching, no cache to miss), and
inserts the raw body into one table through the same database layer (`storage.engine`).
Rounds' inbox does that and more (origin checks, the actor's cache, dedup, the queue row);
the ratio of the two is the price of the more.

`python -m bench.baseline KEYS_DIR DATABASE_URL HOST PORT`
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from federation.httpsig import SignatureError, SignedRequest, load_public_key_pem, parse_signature, verify_signature
from storage.engine import Database
from web.responses import JSONResponse

RAW = sa.Table("bench_raw_inbox", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
               sa.Column("body", sa.Text, nullable=False))


def build(keys_dir: Path, database_url: str) -> Starlette:
    keys = [load_public_key_pem(path.read_text()) for path in sorted(keys_dir.glob("*.pub.pem"))]
    database = Database(database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with database.engine.begin() as connection:
            await connection.run_sync(RAW.metadata.drop_all)
            await connection.run_sync(RAW.metadata.create_all)
        yield
        await database.dispose()

    async def inbox(request: Request) -> Response:
        body = await request.body()
        signed = SignedRequest(method="POST", url=str(request.url), headers=dict(request.headers), body=body)
        try:
            parsed = parse_signature(signed, now=datetime.now(UTC))
            number = int(parsed.key_id.rsplit("/a", 1)[1].split("#", 1)[0])
            verify_signature(parsed, keys[number % len(keys)])
        except (SignatureError, ValueError, IndexError) as error:
            return JSONResponse({"error": str(error)}, status_code=401)
        await database.write_once(RAW.insert().values(body=body.decode()))
        return Response(status_code=202)

    return Starlette(routes=[Route("/inbox", inbox, methods=["POST"])], lifespan=lifespan)


if __name__ == "__main__":
    directory, url, host, port = sys.argv[1:5]
    uvicorn.run(build(Path(directory), url), host=host, port=int(port), log_level="warning", access_log=False)
