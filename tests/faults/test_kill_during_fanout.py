"""`kill -9` of a real `rounds serve` in the middle of a large fan-out, then a restart.

The sender is a real process on its own database; the receiving inboxes are a loopback
server that verifies every signature, answers slowly (so the fan-out is still under way
when the sender dies), and records what arrives. After the restart every inbox must have
the post. A request the receiver answered just as the sender died may arrive a second time
(delivery is at least once; receivers dedupe by activity id), so at most the requests that
were in flight at the kill may repeat.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import uvicorn
from sqlalchemy import func
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.accounts import find_local_account
from federation.httpsig import SignatureError, SignedRequest, load_public_key_pem, parse_signature, verify_signature
from storage.tables import Actor, Delivery, Follow
from tests.support.processes import Instance
from tests.support.waiting import within
from web.context import AppContext
from web.services import build_federation
from web.settings import Settings

pytestmark = pytest.mark.e2e
FOLLOWERS = 240
PER_HOST_LIMIT = 4  # the delivery worker's default: at most this many requests in flight to the receiver
ANSWER_DELAY = 0.04


@dataclass
class CountingInboxes:
    """Every `/users/{name}/inbox` on one loopback host; verifies signatures, counts arrivals."""

    public_key_pem: str = ""
    port: int = 0
    arrivals: Counter[tuple[str, str]] = field(default_factory=Counter)
    refused: list[str] = field(default_factory=list)

    async def inbox(self, request: Request) -> Response:
        body = await request.body()
        try:
            parsed = parse_signature(SignedRequest("POST", str(request.url), request.headers, body),
                                     now=datetime.now(UTC))
            verify_signature(parsed, load_public_key_pem(self.public_key_pem))
        except SignatureError as error:
            self.refused.append(error.reason)
            return Response(error.reason, status_code=401)
        await asyncio.sleep(ANSWER_DELAY)
        self.arrivals[(request.path_params["name"], json.loads(body)["id"])] += 1
        return Response(status_code=202)


@pytest.fixture
async def inboxes() -> AsyncIterator[CountingInboxes]:
    listener = socket.create_server(("127.0.0.1", 0))
    receiver = CountingInboxes(port=listener.getsockname()[1])
    app = Starlette(routes=[Route("/users/{name}/inbox", receiver.inbox, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    yield receiver
    server.should_exit = True
    await task


async def test_kill_9_during_a_large_fanout_then_restart_delivers_to_every_inbox(
        new_database_url, tmp_path, inboxes):
    sender = Instance(name="mayo", database_url=new_database_url(empty=True), directory=tmp_path,
                      extra={"ROUNDS_ALLOW_PRIVATE_ADDRESSES": "true"})
    sender.start()
    try:
        assert sender.cli("accounts", "create", "dr_ann", "--email", "ann@mayo.test",
                          "--role", "staff").returncode == 0
        ctx = AppContext.build(Settings.from_env(sender.env))
        federation = await build_federation(ctx)
        try:
            receiver_host = f"127.0.0.1:{inboxes.port}"
            async with ctx.database.transaction() as session:
                ann = (await find_local_account(session, "dr_ann")).actor
                inboxes.public_key_pem = ann.public_key_pem
                for number in range(FOLLOWERS):
                    # Followers without a shared inbox: one delivery each.
                    uri = f"http://{receiver_host}/users/f{number}"
                    follower = Actor(uri=uri, username=f"f{number}", username_key=f"f{number}",
                                     domain=receiver_host, inbox_uri=f"{uri}/inbox")
                    session.add(follower)
                    await session.flush()
                    session.add(Follow(follower_id=follower.id, followee_id=ann.id, state="accepted"))
                status = await federation.outbox.post_status(
                    session, ann, content_html="<p>The clinic moves to the new wing on Monday</p>",
                    visibility="public")
            activity_id = f"{status.uri}/activity"

            async def some_arrived() -> bool:
                return len(inboxes.arrivals) >= FOLLOWERS // 4

            await within(60, some_arrived, "the fan-out to get under way")
            sender.stop(kill=True)
            arrived_before = len(inboxes.arrivals)
            assert arrived_before < FOLLOWERS, "the fan-out finished before the kill; make it larger"

            await asyncio.to_thread(sender.start)  # the receiver shares this event loop

            async def delivery_states() -> dict[str, int]:
                async with ctx.database.session() as session:
                    return dict((await session.exec(
                        select(Delivery.state, func.count()).group_by(Delivery.state))).all())

            async def all_delivered() -> bool:
                return await delivery_states() == {"delivered": FOLLOWERS}

            # Rows the dead process had claimed come back when their 30 s lease ends.
            await within(120, all_delivered, "every delivery to be recorded after the restart")
        finally:
            await federation.client.aclose()
            await ctx.database.dispose()
    finally:
        sender.stop()
    assert {name for name, _ in inboxes.arrivals} == {f"f{number}" for number in range(FOLLOWERS)}
    assert {activity for _, activity in inboxes.arrivals} == {activity_id}
    repeats = sum(count - 1 for count in inboxes.arrivals.values())
    assert repeats <= PER_HOST_LIMIT, f"{repeats} inboxes got the post twice"
    assert inboxes.refused == []
