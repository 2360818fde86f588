"""The delivery worker against real receiving servers on loopback, driven with a fake clock."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from federation.fetch import make_client
from federation.httpsig import SignatureError, SignedRequest, load_public_key_pem, parse_signature, verify_signature
from outbox.delivery import PARK_AFTER_FAILURES, DeliveryWorker, claim_due, unpark_host
from storage.tables import Delivery, Host
from tests.conftest import add_account
from tests.support.processes import free_port


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Receiver:
    """A real HTTP server that records what arrives and answers as each path says."""

    host: str
    clock: Clock
    public_key_pem: str = ""
    received: list[tuple[str, str, str]] = field(default_factory=list)  # (path, scheme, activity id)
    answers: dict[str, int] = field(default_factory=dict)
    port: int = 0

    async def inbox(self, request: Request) -> Response:
        path = request.url.path
        body = await request.body()
        signed = SignedRequest("POST", str(request.url), request.headers, body)
        try:
            parsed = parse_signature(signed, now=self.clock())
            verify_signature(parsed, load_public_key_pem(self.public_key_pem))
        except SignatureError as error:
            return Response(error.reason, status_code=401)
        self.received.append((path, parsed.scheme, json.loads(body)["id"]))
        if path == "/hang":
            await asyncio.sleep(5)
        if path == "/cavage-only" and parsed.scheme == "rfc9421":
            return Response("unsupported signature", status_code=401)
        status = self.answers.get(path, 202)
        headers = {"Retry-After": "120"} if status == 429 else {}
        return Response(status_code=status, headers=headers)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def receivers(clock):
    started, servers, tasks = [], [], []
    for host in ("127.0.0.1", "127.0.0.2"):
        receiver = Receiver(host=host, clock=clock, port=free_port(host))
        app = Starlette(routes=[Route("/{name}", receiver.inbox, methods=["POST"])])
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=receiver.port, log_level="error", lifespan="off"))
        tasks.append(asyncio.create_task(server.serve()))
        while not server.started:  # noqa: ASYNC110 (uvicorn exposes only a flag)
            await asyncio.sleep(0.01)
        started.append(receiver)
        servers.append(server)
    yield started
    for server in servers:
        server.should_exit = True
    await asyncio.gather(*tasks)


@pytest.fixture
async def signer(ctx, receivers):
    account = await add_account(ctx, "dr_bo", role="staff")
    for receiver in receivers:
        receiver.public_key_pem = account.actor.public_key_pem
    return account.actor


@pytest.fixture
async def worker(ctx, clock):
    client = make_client(allow_private_addresses=True, user_agent="rounds-test", timeout=1.0)
    yield DeliveryWorker(ctx.database, ctx.keyring, client, clock=clock)
    await client.aclose()


async def queue(ctx, signer, receiver: Receiver, path: str, number: int, clock: Clock) -> int:
    activity_id = f"https://mayo.test/users/dr_bo/statuses/{number}/activity"
    row = Delivery(activity_uri=activity_id, inbox_uri=f"{receiver.base}{path}",
                   host=f"{receiver.host}:{receiver.port}", signer_id=signer.id,
                   body=json.dumps({"id": activity_id, "type": "Create"}), created_at=clock(), next_attempt_at=clock())
    async with ctx.database.transaction() as session:
        session.add(row)
    return row.id


async def row(ctx, row_id: int) -> Delivery:
    async with ctx.database.session() as session:
        return await session.get(Delivery, row_id)


async def host(ctx, receiver: Receiver) -> Host | None:
    async with ctx.database.session() as session:
        return await session.get(Host, f"{receiver.host}:{receiver.port}")


async def test_delivered_once_signed_with_rfc9421_first_and_the_host_remembered(ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    first = await queue(ctx, signer, receiver, "/inbox", 1, clock)
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0  # nothing left: delivered rows are never sent again
    assert receiver.received == [("/inbox", "rfc9421", "https://mayo.test/users/dr_bo/statuses/1/activity")]
    delivered = await row(ctx, first)
    assert delivered.state == "delivered" and delivered.delivered_at == clock() and delivered.attempts == 1
    assert (await host(ctx, receiver)).accepts_rfc9421 is True


async def test_host_refusing_rfc9421_gets_cavage_at_once_and_from_then_on(ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    first = await queue(ctx, signer, receiver, "/cavage-only", 1, clock)
    await worker.run_once()
    assert [scheme for _, scheme, _ in receiver.received] == ["rfc9421", "cavage"]
    assert (await row(ctx, first)).state == "delivered"
    assert (await host(ctx, receiver)).accepts_rfc9421 is False
    await queue(ctx, signer, receiver, "/cavage-only", 2, clock)
    await worker.run_once()
    assert [scheme for _, scheme, _ in receiver.received] == ["rfc9421", "cavage", "cavage"]


async def test_server_error_is_retried_after_the_backoff_and_then_delivered(ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    receiver.answers["/inbox"] = 500
    row_id = await queue(ctx, signer, receiver, "/inbox", 1, clock)
    await worker.run_once()
    waiting = await row(ctx, row_id)
    assert waiting.state == "pending" and waiting.attempts == 1 and "500" in waiting.last_error
    assert timedelta(seconds=15) <= waiting.next_attempt_at - clock() <= timedelta(seconds=30)
    assert await worker.run_once() == 0  # not before its time
    receiver.answers["/inbox"] = 202
    clock.advance(seconds=31)
    assert await worker.run_once() == 1
    assert (await row(ctx, row_id)).state == "delivered"
    assert len(receiver.received) == 2


async def test_too_many_requests_waits_at_least_retry_after(ctx, signer, receivers, worker, clock):
    receivers[0].answers["/inbox"] = 429
    row_id = await queue(ctx, signer, receivers[0], "/inbox", 1, clock)
    await worker.run_once()
    waiting = await row(ctx, row_id)
    assert waiting.state == "pending" and waiting.next_attempt_at - clock() >= timedelta(seconds=120)


@pytest.mark.parametrize("status", [400, 403, 404, 410, 422])
async def test_other_client_errors_give_up_at_once(ctx, signer, receivers, worker, clock, status):
    receivers[0].answers["/inbox"] = status
    row_id = await queue(ctx, signer, receivers[0], "/inbox", 1, clock)
    await worker.run_once()
    given_up = await row(ctx, row_id)
    assert given_up.state == "gave_up" and str(status) in given_up.last_error
    clock.advance(days=3)
    assert await worker.run_once() == 0


async def test_a_hanging_host_does_not_hold_back_a_healthy_one(ctx, signer, receivers, worker, clock):
    slow, healthy = receivers
    hanging = await queue(ctx, signer, slow, "/hang", 1, clock)
    fine = [await queue(ctx, signer, healthy, "/inbox", number, clock) for number in range(2, 6)]
    assert await worker.run_once() == 5
    assert [(await row(ctx, row_id)).state for row_id in fine] == ["delivered"] * 4
    timed_out = await row(ctx, hanging)
    assert timed_out.state == "pending" and timed_out.last_error


async def test_a_host_that_keeps_failing_is_parked_until_it_contacts_us(ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    receiver.answers["/inbox"] = 503
    row_id = await queue(ctx, signer, receiver, "/inbox", 1, clock)
    for _ in range(PARK_AFTER_FAILURES):
        clock.advance(hours=7)  # past any backoff
        assert await worker.run_once() == 1
    parked = await host(ctx, receiver)
    assert parked.consecutive_failures == PARK_AFTER_FAILURES and parked.parked_until > clock()
    other = await queue(ctx, signer, receiver, "/inbox", 2, clock)
    assert await worker.run_once() == 0  # new rows for a parked host wait too
    receiver.answers["/inbox"] = 202
    await unpark_host(ctx.database, f"{receiver.host}:{receiver.port}")
    clock.advance(seconds=1)
    assert await worker.run_once() == 2
    assert {(await row(ctx, row_id)).state, (await row(ctx, other)).state} == {"delivered"}


async def test_deliveries_older_than_the_retry_window_give_up(ctx, signer, receivers, worker, clock):
    receivers[0].answers["/inbox"] = 500
    row_id = await queue(ctx, signer, receivers[0], "/inbox", 1, clock)
    clock.advance(days=2, hours=2)
    await worker.run_once()
    old = await row(ctx, row_id)
    assert old.state == "gave_up" and "gave up after" in old.last_error


async def test_concurrent_claims_never_share_a_row_and_expired_claims_come_back(ctx, signer, receivers, clock):
    ids = {await queue(ctx, signer, receivers[0], "/inbox", number, clock) for number in range(30)}
    lease = timedelta(minutes=5)
    batches = await asyncio.gather(*(claim_due(ctx.database, limit=10, now=clock(), lease=lease) for _ in range(4)))
    claimed = [delivery.id for batch in batches for delivery in batch]
    assert len(claimed) == len(set(claimed)) == 30 and set(claimed) == ids
    assert await claim_due(ctx.database, limit=50, now=clock(), lease=lease) == []
    clock.advance(minutes=6)  # the claimer died: its lease ends and the rows are claimable again
    again = await claim_due(ctx.database, limit=50, now=clock(), lease=lease)
    assert {delivery.id for delivery in again} == ids
    async with ctx.database.session() as session:
        assert len((await session.exec(select(Delivery))).all()) == 30
