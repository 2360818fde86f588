"""`kill -9` of a real `rounds serve` while its inbox worker applies a large backlog, then a restart.

The sender is a loopback peer: remote actors whose documents and public keys the instance
fetches, each POST signed with `federation.httpsig.sign_cavage`. It sends a local account a
shuffled mix of activities (Follows, each accepted with an Accept queued for delivery; Likes
of her posts; Creates of notes that mention her), several at a time, and like any server
resends what got no answer. A first burst is sent; once a quarter of all the activities has
been applied the second burst starts, and the instance is killed while it is under way: the
requests in flight then, and those sent while it is down, fail and are resent after the
restart. In the end every activity is answered 202 and applied exactly once: one inbox item
each, applied in one attempt; one status per note, one favourite per like, one follow and one
queued Accept per follower, one notification per activity. The items the dead worker had
claimed come back when their lease (`inbox.process.LEASE`, 30 s) ends.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func
from sqlmodel import col, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from actors.accounts import find_local_account
from federation.httpsig import sign_cavage
from storage.tables import Actor, Delivery, Favourite, Follow, InboxItem, Notification, Status
from tests.support.processes import Instance
from tests.support.waiting import within
from web.context import AppContext
from web.services import build_federation
from web.settings import Settings

pytestmark = pytest.mark.e2e
AS = "https://www.w3.org/ns/activitystreams"
ACTIVITY_JSON = "application/activity+json"
ACTORS = 8
POSTS = 3  # local posts, each liked by every remote actor
NOTES = 24  # notes per remote actor, each mentioning the local account
TOTAL = ACTORS * (1 + POSTS + NOTES)
FIRST_BURST = TOTAL * 2 // 3  # sent before the kill; the rest is being sent when it comes
SENDERS = 8  # requests in flight at once
RESEND_AFTER = 0.2


@pytest.fixture(scope="module")
def keys() -> list[rsa.RSAPrivateKey]:
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(ACTORS)]


@dataclass
class RemotePeer:
    """Actors `/users/a{n}` on one loopback host, with their public keys; inboxes that take anything."""

    keys: list[rsa.RSAPrivateKey]
    port: int = 0
    accepts: Counter[str] = field(default_factory=Counter)  # Accepts of their follows, per actor

    def actor_uri(self, number: int) -> str:
        return f"http://127.0.0.1:{self.port}/users/a{number}"

    async def actor(self, request: Request) -> Response:
        name = request.path_params["name"]
        if not name.startswith("a") or not name[1:].isdigit() or int(name[1:]) >= len(self.keys):
            return JSONResponse({"error": "no such actor"}, status_code=404)
        uri = self.actor_uri(int(name[1:]))
        public_key = self.keys[int(name[1:])].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        document = {
            "@context": [AS, "https://w3id.org/security/v1"], "id": uri, "type": "Person",
            "preferredUsername": name, "inbox": f"{uri}/inbox", "outbox": f"{uri}/outbox",
            "followers": f"{uri}/followers",
            "publicKey": {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": public_key},
        }
        return JSONResponse(document, media_type=ACTIVITY_JSON)

    async def inbox(self, request: Request) -> Response:
        if json.loads(await request.body()).get("type") == "Accept":
            self.accepts[request.path_params["name"]] += 1
        return Response(status_code=202)


@pytest.fixture
async def peer(keys) -> AsyncIterator[RemotePeer]:
    listener = socket.create_server(("127.0.0.1", 0))
    remote = RemotePeer(keys=keys, port=listener.getsockname()[1])
    app = Starlette(routes=[Route("/users/{name}", remote.actor),
                            Route("/users/{name}/inbox", remote.inbox, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    yield remote
    server.should_exit = True
    await task


@dataclass
class Outgoing:
    activity_id: str
    actor: int
    body: bytes


def activities(peer: RemotePeer, ann_uri: str, post_uris: list[str]) -> list[Outgoing]:
    """Every actor follows Ann, likes each of her posts and mentions her in NOTES notes; shuffled."""
    made = []
    for number in range(ACTORS):
        actor = peer.actor_uri(number)
        documents: list[dict[str, Any]] = [
            {"id": f"{actor}/follows/1", "type": "Follow", "actor": actor, "object": ann_uri}]
        documents += [{"id": f"{actor}/likes/{index}", "type": "Like", "actor": actor, "object": uri}
                      for index, uri in enumerate(post_uris)]
        for index in range(NOTES):
            note_id = f"{actor}/notes/{index}"
            note = {"id": note_id, "type": "Note", "attributedTo": actor, "to": [f"{AS}#Public"], "cc": [ann_uri],
                    "content": f"<p>Shift note {index}: bed {number} needs a new drip</p>",
                    "tag": [{"type": "Mention", "href": ann_uri}]}
            documents.append({"id": f"{note_id}/activity", "type": "Create", "actor": actor,
                              "to": note["to"], "cc": note["cc"], "object": note})
        made += [Outgoing(document["id"], number, json.dumps({"@context": AS} | document).encode())
                 for document in documents]
    random.Random(7).shuffle(made)
    return made


@dataclass
class Sender:
    """Sends each activity until it is answered 202, resending after any failure, as servers do."""

    peer: RemotePeer
    inbox: str
    answered: Counter[str] = field(default_factory=Counter)  # activity id → 202 answers
    failures: Counter[str] = field(default_factory=Counter)  # transport errors, by kind
    refusals: list[tuple[int, str]] = field(default_factory=list)
    marked: asyncio.Event = field(default_factory=asyncio.Event)  # see `send_all`
    _mark: int = 0

    async def send_all(self, outgoing: list[Outgoing], deadline: float, *, mark: int = 0) -> None:
        """Send all of `outgoing`; `marked` is set once `mark` of them are answered."""
        self.marked.clear()
        self._mark = len(self.answered) + mark if mark else 0
        queue = iter(outgoing)
        async with httpx.AsyncClient(timeout=30) as client:
            await asyncio.gather(*(self._sender(client, queue, deadline) for _ in range(SENDERS)))

    async def _sender(self, client: httpx.AsyncClient, queue: Iterator[Outgoing], deadline: float) -> None:
        for item in queue:
            while not await self._send(client, item):
                if time.monotonic() > deadline:
                    raise AssertionError(f"{item.activity_id} was never answered 202")
                await asyncio.sleep(RESEND_AFTER)

    async def _send(self, client: httpx.AsyncClient, item: Outgoing) -> bool:
        headers = sign_cavage(method="POST", url=self.inbox, body=item.body,
                              key_id=f"{self.peer.actor_uri(item.actor)}#main-key",
                              private_key=self.peer.keys[item.actor], now=datetime.now(UTC),
                              extra_headers={"Content-Type": ACTIVITY_JSON})
        try:
            response = await client.post(self.inbox, content=item.body, headers=headers)
        except httpx.TransportError as error:
            self.failures[type(error).__name__] += 1
            return False
        if response.status_code != 202:
            self.refusals.append((response.status_code, response.text))
            return False
        self.answered[item.activity_id] += 1
        if self._mark and len(self.answered) >= self._mark:
            self.marked.set()
        return True


async def test_kill_9_while_applying_a_large_inbox_backlog_then_restart_applies_each_activity_once(
        new_database_url, tmp_path, peer):
    instance = Instance(name="mayo", database_url=new_database_url(empty=True), directory=tmp_path,
                        extra={"ROUNDS_ALLOW_PRIVATE_ADDRESSES": "true"})
    instance.start()
    sending: asyncio.Task[None] | None = None
    try:
        assert instance.cli("accounts", "create", "dr_ann", "--email", "ann@mayo.test",
                            "--role", "staff").returncode == 0
        ctx = AppContext.build(Settings.from_env(instance.env))
        federation = await build_federation(ctx)
        try:
            async with ctx.database.transaction() as session:
                ann = (await find_local_account(session, "dr_ann")).actor
                posts = [await federation.outbox.post_status(
                    session, ann, content_html=f"<p>Ward round {number} moves to 8 am</p>", visibility="public")
                    for number in range(POSTS)]
            outgoing = activities(peer, ann.uri, [post.uri for post in posts])
            first_burst, second_burst = outgoing[:FIRST_BURST], outgoing[FIRST_BURST:]
            sender = Sender(peer, f"{instance.base_url}/users/dr_ann/inbox")
            deadline = time.monotonic() + 150

            async def states() -> dict[str, int]:
                async with ctx.database.session() as session:
                    return dict((await session.exec(
                        select(InboxItem.state, func.count()).group_by(InboxItem.state))).all())

            async def a_quarter_applied() -> bool:
                return (await states()).get("done", 0) >= TOTAL // 4

            await sender.send_all(first_burst, deadline)
            await within(60, a_quarter_applied, "the inbox worker to get under way")
            # The worker is busy with the first burst; kill it while the second one is being sent.
            sending = asyncio.create_task(sender.send_all(second_burst, deadline, mark=SENDERS))
            await asyncio.wait_for(sender.marked.wait(), 60)
            instance.stop(kill=True)
            answered_before = set(sender.answered)
            at_kill = await states()
            applied_before = at_kill.get("done", 0)
            assert applied_before < len(answered_before), "the backlog was applied before the kill; make it larger"
            assert len(answered_before) < TOTAL, "the sender had finished before the kill"
            async with ctx.database.session() as session:
                stored = set((await session.exec(select(InboxItem.activity_id))).all())
            assert answered_before <= stored, "an activity answered 202 was not stored"

            await asyncio.to_thread(instance.start)  # the peer shares this event loop

            async def accept_deliveries() -> dict[str, int]:
                async with ctx.database.session() as session:
                    return dict((await session.exec(
                        select(Delivery.state, func.count()).where(Delivery.signer_id == ann.id)
                        .group_by(Delivery.state))).all())

            async def all_applied() -> bool:
                return (sending.done() and await states() == {"done": TOTAL}
                        and await accept_deliveries() == {"delivered": ACTORS})

            # Items the dead worker had claimed come back when their 30 s lease ends.
            await within(150, all_applied, "every activity to be applied after the restart")
            await sending  # raises if the sender gave up
            async with ctx.database.session() as session:
                items = (await session.exec(select(InboxItem))).all()
                notes = (await session.exec(select(Status.uri).where(col(Status.local).is_(False)))).all()
                favourites = (await session.exec(select(Favourite.actor_id, Favourite.status_id))).all()
                follows = (await session.exec(select(Follow.follower_id, Follow.state)
                                              .where(Follow.followee_id == ann.id))).all()
                accepts = (await session.exec(select(Delivery.inbox_uri).where(
                    Delivery.signer_id == ann.id, col(Delivery.activity_uri).contains("#accept/")))).all()
                notifications = (await session.exec(select(Notification.kind, Notification.key)
                                                    .where(Notification.recipient_id == ann.id))).all()
                remote_actors = (await session.exec(select(Actor.id).where(col(Actor.domain).is_not(None)))).all()
        finally:
            await federation.client.aclose()
            await ctx.database.dispose()
    finally:
        if sending is not None and not sending.done():
            sending.cancel()
        instance.stop()
    print(f"\nat the kill: {applied_before} of {TOTAL} applied, {len(answered_before)} answered 202, "
          f"{len(stored - answered_before)} stored but not yet answered; sender failures {dict(sender.failures)}")

    # Nothing accepted is lost; what got no answer was resent and is accepted now.
    everything = {item.activity_id for item in outgoing}
    assert set(sender.answered) == everything
    assert sender.refusals == []
    assert sum(sender.failures.values()) > 0, "no request failed at the kill"
    # One inbox item per activity, applied in a single attempt.
    assert len(items) == TOTAL and {item.activity_id for item in items} == everything
    assert Counter((item.state, item.attempts) for item in items) == {("done", 1): TOTAL}, \
        Counter((item.state, item.attempts, item.outcome) for item in items)
    # Each effect exactly once.
    assert len(remote_actors) == ACTORS
    assert sorted(notes) == sorted({f"{peer.actor_uri(n)}/notes/{i}" for n in range(ACTORS) for i in range(NOTES)})
    assert len(favourites) == len(set(favourites)) == ACTORS * POSTS
    assert sorted(state for _, state in follows) == ["accepted"] * ACTORS
    assert len({follower for follower, _ in follows}) == ACTORS
    assert sorted(accepts) == sorted(f"{peer.actor_uri(n)}/inbox" for n in range(ACTORS))
    assert len(notifications) == len(set(notifications))
    assert Counter(kind for kind, _ in notifications) == {"mention": ACTORS * NOTES, "favourite": ACTORS * POSTS,
                                                         "follow": ACTORS}
    assert set(peer.accepts) == {f"a{n}" for n in range(ACTORS)}
