"""PostgreSQL restarted under a running `rounds serve`: 503s while it is down, then everything resumes.

The instance runs on a PostgreSQL cluster of this test's own (tests/support/private_postgres.py;
the machine's shared server is never touched), which is really shut down ("fast": sessions
ended, server gone) and started again on the same port. A loopback peer plays the remote
follower `bob`: it holds his inbox and the post his reply answers until the database is down,
so a delivery and an inbox activity are both in the middle of their work when it goes.

While the database is down, the client API and the inbox answer 503 with a JSON error and
Retry-After, promptly, and the process lives on. Once it is back, without restarting `rounds`:
requests succeed, and the workers finish what the outage interrupted (the claims come back
when their 30 s leases end) and take new work at once. What was refused stored nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.accounts import create_local_account
from federation.httpsig import sign_cavage
from storage.tables import Actor, Delivery, Follow, InboxItem, Status
from tests.support.private_postgres import ENABLE_HINT, PrivatePostgres, find_binaries
from tests.support.processes import Instance
from tests.support.waiting import within
from web.auth import issue_token
from web.context import AppContext
from web.errors import DATABASE_UNAVAILABLE
from web.oauth import OOB, create_app_row
from web.settings import Settings

pytestmark = pytest.mark.e2e
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
ANSWER_BOUND = 20.0  # seconds: an answer during the outage is prompt, not a hang (connects are refused)


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    binaries = find_binaries()
    if binaries is None:
        if os.environ.get("CI") == "true":
            pytest.fail(ENABLE_HINT)
        pytest.skip(ENABLE_HINT)
    cluster = PrivatePostgres(binaries)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@dataclass
class Peer:
    """bob's host: his inbox and the post his reply answers, both held until `outage` is set."""

    port: int
    outage: asyncio.Event = field(default_factory=asyncio.Event)
    held: set[str] = field(default_factory=set)  # what arrived and waits for the outage
    arrivals: list[tuple[str, bool]] = field(default_factory=list)  # (activity id, answered 2xx)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def inbox(self, request: Request) -> Response:
        activity = json.loads(await request.body())["id"]
        if not self.arrivals:
            # The first delivery waits for the outage, then fails: sending it again is the worker's job.
            self.held.add("delivery")
            self.arrivals.append((activity, False))
            await self.outage.wait()
            return Response("try later", status_code=503)
        self.arrivals.append((activity, True))
        return Response(status_code=202)

    async def parent(self, _request: Request) -> Response:
        self.held.add("parent")
        await self.outage.wait()
        return Response(status_code=404)

    def delivered(self, activity: str) -> bool:
        return (activity, True) in self.arrivals


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    listener = socket.create_server(("127.0.0.1", 0))
    bob = Peer(port=listener.getsockname()[1])
    app = Starlette(routes=[Route("/users/bob/inbox", bob.inbox, methods=["POST"]),
                            Route("/users/bob/statuses/parent", bob.parent)])
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    yield bob
    bob.outage.set()  # let anything still held go
    server.should_exit = True
    await task


def create_note(bob_uri: str, note_id: str, text: str, to: str, **extra: object) -> bytes:
    """bob's post, addressed to `to` as well as the public (or nobody here would keep it)."""
    note = {"id": note_id, "type": "Note", "attributedTo": bob_uri, "content": f"<p>{text}</p>",
            "to": [PUBLIC], "cc": [to], "published": datetime.now(UTC).isoformat()} | extra
    return json.dumps({"@context": "https://www.w3.org/ns/activitystreams", "id": f"{note_id}/activity",
                       "type": "Create", "actor": bob_uri, "to": [PUBLIC], "cc": [to], "object": note}).encode()


async def test_postgresql_restart_answers_503_then_requests_and_workers_resume_and_nothing_is_lost(
        postgres, peer, tmp_path):
    mayo = Instance(name="mayo", database_url=postgres.url, directory=tmp_path,
                    extra={"ROUNDS_ALLOW_PRIVATE_ADDRESSES": "true"})
    ctx = AppContext.build(Settings.from_env(mayo.env))
    try:
        await asyncio.to_thread(mayo.start)  # the peer shares this event loop
        # ann, with a token; bob, on the peer, follows her (his key is known: his deliveries need no fetch).
        bob_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        bob_uri = f"http://{peer.host}/users/bob"
        async with ctx.database.transaction() as session:
            account = await create_local_account(session, ctx.keyring, ctx.urls, username="ann",
                                                 email="ann@mayo.test", password="correct horse battery")
            ann = account.actor
            app = await create_app_row(session, "outage test", [OOB], ("read", "write"))
            token, _row = await issue_token(session, app, account.user.id, ("read", "write"))
            bob = Actor(uri=bob_uri, username="bob", username_key="bob", domain=peer.host,
                        inbox_uri=f"{bob_uri}/inbox", key_id=f"{bob_uri}#main-key",
                        public_key_pem=bob_key.public_key().public_bytes(
                            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
            session.add(bob)
            await session.flush()
            session.add(Follow(follower_id=bob.id, followee_id=ann.id, state="accepted"))
        await ctx.database.dispose()  # this test's own connections play no part in the outage
        auth = {"Authorization": f"Bearer {token}"}

        async def deliver_from_bob(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
            url = f"{mayo.base_url}/users/ann/inbox"
            headers = sign_cavage(method="POST", url=url, body=body, key_id=f"{bob_uri}#main-key",
                                  private_key=bob_key, now=datetime.now(UTC))
            headers["Content-Type"] = "application/activity+json"
            return await client.post(url, content=body, headers=headers)

        ann_uri = f"{mayo.base_url}/users/ann"

        async with httpx.AsyncClient(base_url=mayo.base_url, timeout=ANSWER_BOUND) as client:
            assert (await client.get("/api/v1/timelines/public")).status_code == 200

            # Both held by the peer until the database is down: bob's reply (its parent is being
            # fetched) and ann's post (its delivery to bob is being sent).
            reply = f"{bob_uri}/statuses/reply"
            answer = await deliver_from_bob(client, create_note(
                bob_uri, reply, "Thanks, see you in the new wing", ann_uri, inReplyTo=f"{bob_uri}/statuses/parent"))
            assert answer.status_code == 202, answer.text
            posted = await client.post("/api/v1/statuses", headers=auth,
                                       json={"status": "The clinic moves on Monday", "visibility": "public"})
            assert posted.status_code == 200, posted.text
            before_uri = posted.json()["uri"]

            async def both_held() -> bool:
                return peer.held == {"delivery", "parent"}

            await within(30, both_held, "the delivery and the parent fetch to reach the peer")

            await asyncio.to_thread(postgres.stop)
            peer.outage.set()

            # --- the database is down ------------------------------------------------------
            during = f"{bob_uri}/statuses/during"
            attempts = {
                "public timeline": lambda: client.get("/api/v1/timelines/public"),
                "verify_credentials": lambda: client.get("/api/v1/accounts/verify_credentials", headers=auth),
                "post a status": lambda: client.post(
                    "/api/v1/statuses", headers=auth, json={"status": "Posted during the outage",
                                                            "visibility": "public"}),
                "inbox": lambda: deliver_from_bob(
                    client, create_note(bob_uri, during, "Sent during the outage", ann_uri)),
            }
            for what, attempt in attempts.items():
                answer = await attempt()
                assert answer.status_code == 503, f"{what}: {answer.status_code} {answer.text}"
                assert answer.json() == {"error": DATABASE_UNAVAILABLE}, what
                assert int(answer.headers["retry-after"]) > 0, what
            assert mayo.process is not None and mayo.process.poll() is None, "rounds died in the outage"

            async def workers_noticed() -> bool:
                log = mayo.read_log()
                return "the inbox worker waits and retries" in log and "retried when its claim ends" in log

            await within(20, workers_noticed, "the workers to meet the outage")

            await asyncio.to_thread(postgres.start)

            # --- back: the same process answers at once ------------------------------------
            assert (await client.get("/api/v1/timelines/public")).status_code == 200
            me = await client.get("/api/v1/accounts/verify_credentials", headers=auth)
            assert me.status_code == 200 and me.json()["username"] == "ann"
            after = await client.post("/api/v1/statuses", headers=auth,
                                      json={"status": "Back to normal", "visibility": "public"})
            assert after.status_code == 200, after.text
            after_uri = after.json()["uri"]
            latest = f"{bob_uri}/statuses/after"
            answer = await deliver_from_bob(client, create_note(bob_uri, latest, "Glad it is back", ann_uri))
            assert answer.status_code == 202, answer.text

            async def stored(uri: str) -> bool:
                async with ctx.database.session() as session:
                    return (await session.exec(select(Status.id).where(Status.uri == uri))).first() is not None

            async def resumed() -> bool:
                return peer.delivered(f"{after_uri}/activity") and await stored(latest)

            # New work does not wait for the leases of what the outage interrupted.
            await within(20, resumed, "the workers to take new work after the restart")

            async def interrupted_work_done() -> bool:
                return peer.delivered(f"{before_uri}/activity") and await stored(reply)

            # The interrupted claims come back when their 30 s leases end.
            await within(60, interrupted_work_done, "the delivery and the reply interrupted by the outage")
        assert mayo.process is not None and mayo.process.poll() is None

        async with ctx.database.session() as session:
            contents = (await session.exec(select(Status.content).where(Status.actor_id == ann.id))).all()
            refused_inbox = (await session.exec(select(InboxItem).where(InboxItem.activity_id == f"{during}/activity")
                                                )).all()
            items = dict((await session.exec(select(InboxItem.activity_id, InboxItem.state))).all())
            deliveries = dict((await session.exec(select(Delivery.activity_uri, Delivery.state))).all())
        assert sorted(contents) == ["<p>Back to normal</p>", "<p>The clinic moves on Monday</p>"]
        assert refused_inbox == [] and not await stored(during)
        assert items == {f"{reply}/activity": "done", f"{latest}/activity": "done"}
        assert deliveries == {f"{before_uri}/activity": "delivered", f"{after_uri}/activity": "delivered"}
        # The delivery held through the outage was answered 503 once, then delivered once.
        assert peer.arrivals.count((f"{before_uri}/activity", True)) == 1
        log = mayo.read_log()
        assert "the inbox worker resumes" in log
        assert "Traceback" not in log, log  # an outage is logged as one, not as a bug
    finally:
        await ctx.database.dispose()
        await asyncio.to_thread(mayo.stop)
