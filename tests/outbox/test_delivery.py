"""The delivery worker against real receiving servers on 127.0.0.1 and 127.0.0.2.

Each receiver is a small Starlette app under uvicorn that checks every request's signature
with `federation.httpsig` against the signer's public key and records what arrived. The
worker is driven with `run_once()` and a fake clock; requests that hang are held by the
receiver until the test lets them go.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.accounts import LocalAccount
from federation.fetch import make_client
from federation.httpsig import (
    SignatureError,
    SignedRequest,
    load_public_key_pem,
    parse_signature,
    verify_signature,
)
from moderation.policy import DomainPolicy
from outbox.actions import Outbox
from outbox.delivery import (
    BACKOFF_CAP,
    HOST_STATE_TTL,
    LEASE,
    PARK_AFTER_FAILURES,
    PARK_BASE,
    DeliveryWorker,
    HostRevivals,
    _Deliveries,
    claim_due,
    retry_delay,
    unpark_host,
)
from storage.tables import Actor, Delivery, Host
from tests.conftest import add_account, add_remote_actor
from tests.support.statements import statements_sent

USER_AGENT = "Rounds-test/1.0 (+http://mayo.test/)"
MAX_AGE = timedelta(days=2, hours=1)


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self.now = moment


@dataclass(frozen=True)
class Arrival:
    path: str
    scheme: str
    key_id: str
    created: datetime
    activity_id: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """One inbox server. Paths: `/hold` waits until `let_go`, `/cavage-only` answers 401 to RFC 9421,
    any other path answers `answers[path]` (202 by default) with `retry_after[path]` if set."""

    host: str
    clock: Clock
    public_key_pem: str = ""
    port: int = 0
    arrivals: list[Arrival] = field(default_factory=list)
    refused_signatures: list[str] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)
    retry_after: dict[str, str] = field(default_factory=dict)
    open_requests: int = 0
    most_open: int = 0
    held: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(0))
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.netloc}{path}"

    def schemes(self) -> list[str]:
        return [arrival.scheme for arrival in self.arrivals]

    def let_go(self, count: int = 1) -> None:
        for _ in range(count):
            self.held.release()

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait until the condition holds after some request; a safety timeout, not a sleep."""
        async with asyncio.timeout(10):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    async def inbox(self, request: Request) -> Response:
        body = await request.body()
        try:
            parsed = parse_signature(SignedRequest("POST", str(request.url), request.headers, body),
                                     now=self.clock())
            verify_signature(parsed, load_public_key_pem(self.public_key_pem))
        except SignatureError as error:
            self.refused_signatures.append(error.reason)
            return Response(error.reason, status_code=401)
        path = request.url.path
        self.arrivals.append(Arrival(path, parsed.scheme, parsed.key_id, parsed.created,
                                     json.loads(body)["id"], dict(request.headers), body))
        self.open_requests += 1
        self.most_open = max(self.most_open, self.open_requests)
        self.changed.set()
        try:
            if path == "/hold":
                await self.held.acquire()
            if path == "/cavage-only" and parsed.scheme == "rfc9421":
                return Response("RFC 9421 signatures are not supported", status_code=401)
            headers = {"Retry-After": self.retry_after[path]} if path in self.retry_after else {}
            return Response(status_code=self.answers.get(path, 202), headers=headers)
        finally:
            self.open_requests -= 1
            self.changed.set()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def receivers(clock: Clock) -> AsyncIterator[list[Receiver]]:
    """Two receivers, on 127.0.0.1 and 127.0.0.2, each on a port of its own."""
    started: list[tuple[Receiver, uvicorn.Server, asyncio.Task[None]]] = []
    for host in ("127.0.0.1", "127.0.0.2"):
        # Listening before uvicorn runs: connections wait in the backlog, so there is no start-up race.
        listener = socket.create_server((host, 0))
        receiver = Receiver(host=host, clock=clock, port=listener.getsockname()[1])
        app = Starlette(routes=[Route("/{name}", receiver.inbox, methods=["POST"])])
        server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
        started.append((receiver, server, asyncio.create_task(server.serve(sockets=[listener]))))
    yield [receiver for receiver, _, _ in started]
    for receiver, server, _ in started:
        receiver.let_go(1000)
        server.should_exit = True
    await asyncio.gather(*(task for _, _, task in started))


@pytest.fixture
async def signer(ctx, receivers: list[Receiver]) -> Actor:
    account: LocalAccount = await add_account(ctx, "dr_ann", role="staff")
    for receiver in receivers:
        receiver.public_key_pem = account.actor.public_key_pem
    return account.actor


@pytest.fixture
async def new_worker(ctx, clock: Clock) -> AsyncIterator[Callable[..., DeliveryWorker]]:
    """Workers on the test database and clock; `timeout` is the client's, in seconds."""
    clients = []

    def build(timeout: float = 1.0, **options: object) -> DeliveryWorker:
        client = make_client(allow_private_addresses=True, user_agent=USER_AGENT, timeout=timeout)
        clients.append(client)
        return DeliveryWorker(ctx.database, ctx.keyring, client, clock=clock, **options)

    yield build
    for client in clients:
        await client.aclose()


@pytest.fixture
def worker(new_worker: Callable[..., DeliveryWorker]) -> DeliveryWorker:
    return new_worker()


_numbers = itertools.count(1)


async def queue(ctx, signer: Actor, receiver: Receiver, path: str, clock: Clock, *,
                created_at: datetime | None = None, next_attempt_at: datetime | None = None) -> int:
    """A delivery row as the outbox writes it; returns its id."""
    activity_id = f"http://mayo.test/users/dr_ann/statuses/{next(_numbers)}/activity"
    body = json.dumps({"@context": "https://www.w3.org/ns/activitystreams", "id": activity_id,
                       "type": "Create", "actor": signer.uri})
    row = Delivery(activity_uri=activity_id, inbox_uri=receiver.url(path), host=receiver.netloc,
                   signer_id=signer.id, body=body, created_at=created_at or clock(),
                   next_attempt_at=next_attempt_at or clock())
    async with ctx.database.transaction() as session:
        session.add(row)
    return row.id


async def load(ctx, row_id: int) -> Delivery:
    async with ctx.database.session() as session:
        row = await session.get(Delivery, row_id)
    assert row is not None
    return row


async def host_row(ctx, receiver: Receiver) -> Host | None:
    async with ctx.database.session() as session:
        return await session.get(Host, receiver.netloc)


async def set_host(ctx, receiver: Receiver, **values: object) -> None:
    async with ctx.database.transaction() as session:
        session.add(Host(host=receiver.netloc, **values))


# --- delivered, and signed as the host wants it -------------------------------------------------


async def test_delivery_is_posted_once_signed_by_its_author_at_send_time(
        ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    row_id = await queue(ctx, signer, receiver, "/inbox", clock)
    queued = await load(ctx, row_id)
    clock.advance(seconds=42)  # the signature carries the time of sending, not of queueing

    assert await worker.run_once() == 1
    assert await worker.run_once() == 0

    [arrival] = receiver.arrivals
    assert receiver.refused_signatures == []
    assert (arrival.path, arrival.activity_id) == ("/inbox", queued.activity_uri)
    assert arrival.key_id == signer.key_id
    assert arrival.body == queued.body.encode()
    assert arrival.created == clock()
    assert arrival.headers["content-type"] == "application/activity+json"
    assert arrival.headers["accept"] == "application/activity+json"
    assert arrival.headers["user-agent"] == USER_AGENT
    delivered = await load(ctx, row_id)
    assert (delivered.state, delivered.delivered_at, delivered.attempts) == ("delivered", clock(), 1)
    assert delivered.claimed_until is None and delivered.last_error == ""
    host = await host_row(ctx, receiver)
    assert (host.accepts_rfc9421, host.consecutive_failures, host.last_success_at) == (True, 0, clock())


async def test_host_refusing_rfc9421_gets_cavage_at_once_and_from_then_on(
        ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    first = await queue(ctx, signer, receiver, "/cavage-only", clock)
    assert await worker.run_once() == 1
    assert receiver.schemes() == ["rfc9421", "cavage"]
    assert (await load(ctx, first)).state == "delivered"
    assert (await host_row(ctx, receiver)).accepts_rfc9421 is False

    second = await queue(ctx, signer, receiver, "/cavage-only", clock)
    assert await worker.run_once() == 1
    assert receiver.schemes() == ["rfc9421", "cavage", "cavage"]
    assert (await load(ctx, second)).state == "delivered"


async def test_host_accepting_rfc9421_keeps_getting_it(ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    for _ in range(3):
        await queue(ctx, signer, receiver, "/inbox", clock)
        assert await worker.run_once() == 1
    assert receiver.schemes() == ["rfc9421"] * 3
    assert (await host_row(ctx, receiver)).accepts_rfc9421 is True


async def test_host_that_took_rfc9421_and_now_answers_401_is_switched_to_cavage(
        ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    await set_host(ctx, receiver, accepts_rfc9421=True, consecutive_failures=0)
    row_id = await queue(ctx, signer, receiver, "/cavage-only", clock)
    assert await worker.run_once() == 1
    assert receiver.schemes() == ["rfc9421", "cavage"]
    assert (await load(ctx, row_id)).state == "delivered"
    assert (await host_row(ctx, receiver)).accepts_rfc9421 is False


async def test_host_known_to_take_rfc9421_gets_no_cavage_retry_for_other_refusals(
        ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    receiver.answers["/gone"] = 410
    await set_host(ctx, receiver, accepts_rfc9421=True, consecutive_failures=0)
    row_id = await queue(ctx, signer, receiver, "/gone", clock)
    assert await worker.run_once() == 1
    assert receiver.schemes() == ["rfc9421"]
    assert (await load(ctx, row_id)).state == "gave_up"
    assert (await host_row(ctx, receiver)).accepts_rfc9421 is True


async def test_401_to_both_schemes_gives_up_and_learns_nothing_about_the_scheme(
        ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    receiver.answers["/locked"] = 401
    row_id = await queue(ctx, signer, receiver, "/locked", clock)
    assert await worker.run_once() == 1
    assert receiver.schemes() == ["rfc9421", "cavage"]
    given_up = await load(ctx, row_id)
    assert given_up.state == "gave_up" and "401" in given_up.last_error
    assert (await host_row(ctx, receiver)).accepts_rfc9421 is None


# --- retried later ------------------------------------------------------------------------------


async def test_server_error_is_retried_after_the_backoff_with_a_fresh_signature(
        ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    receiver.answers["/inbox"] = 500
    row_id = await queue(ctx, signer, receiver, "/inbox", clock)
    assert await worker.run_once() == 1

    waiting = await load(ctx, row_id)
    assert (waiting.state, waiting.attempts, waiting.claimed_until) == ("pending", 1, None)
    assert "500" in waiting.last_error
    assert timedelta(seconds=15) <= waiting.next_attempt_at - clock() <= timedelta(seconds=30)
    assert (await host_row(ctx, receiver)).consecutive_failures == 1

    clock.set(waiting.next_attempt_at - timedelta(microseconds=1))
    assert await worker.run_once() == 0  # not a moment before its time
    assert len(receiver.arrivals) == 1

    receiver.answers["/inbox"] = 202
    clock.set(waiting.next_attempt_at)
    assert await worker.run_once() == 1
    assert [arrival.created for arrival in receiver.arrivals][1] == clock().replace(microsecond=0)
    delivered = await load(ctx, row_id)
    assert (delivered.state, delivered.attempts, delivered.last_error) == ("delivered", 2, "")
    assert (await host_row(ctx, receiver)).consecutive_failures == 0


def test_backoff_doubles_with_jitter_up_to_six_hours():
    for attempt, step in [(1, 30), (2, 60), (3, 120), (8, 3840)]:
        delays = {retry_delay(attempt) for _ in range(50)}
        assert all(timedelta(seconds=step / 2) <= delay <= timedelta(seconds=step) for delay in delays)
        assert len(delays) > 1  # jittered: a crowd of retries does not come back together
    assert all(BACKOFF_CAP / 2 <= retry_delay(attempt) <= BACKOFF_CAP for attempt in (11, 30, 1000))


@pytest.mark.parametrize("retry_after", ["120", "http-date"])
async def test_too_many_requests_waits_for_retry_after_with_all_the_hosts_rows(
        ctx, signer, receivers, worker, clock, retry_after):
    receiver = receivers[0]
    receiver.answers["/inbox"] = 429
    if retry_after == "http-date":
        receiver.retry_after["/inbox"] = format_datetime(clock() + timedelta(seconds=120), usegmt=True)
    else:
        receiver.retry_after["/inbox"] = retry_after
    row_id = await queue(ctx, signer, receiver, "/inbox", clock)
    assert await worker.run_once() == 1
    waiting = await load(ctx, row_id)
    assert waiting.state == "pending" and "429" in waiting.last_error
    assert waiting.next_attempt_at - clock() >= timedelta(seconds=120)
    assert (await host_row(ctx, receiver)).parked_until == clock() + timedelta(seconds=120)

    later = await queue(ctx, signer, receiver, "/inbox", clock)  # due now, but the host asked for a pause
    assert await worker.run_once() == 0
    receiver.answers["/inbox"] = 202
    clock.set(max(waiting.next_attempt_at, clock() + timedelta(seconds=120)))
    assert await worker.run_once() == 2
    assert {(await load(ctx, row_id)).state, (await load(ctx, later)).state} == {"delivered"}
    assert len(receiver.arrivals) == 3


@pytest.mark.parametrize("status", [410, 400, 403, 404, 422])
async def test_gone_and_other_client_errors_give_up_at_once(ctx, signer, receivers, worker, clock, status):
    receiver = receivers[0]
    receiver.answers["/inbox"] = status
    row_id = await queue(ctx, signer, receiver, "/inbox", clock)
    assert await worker.run_once() == 1
    given_up = await load(ctx, row_id)
    assert (given_up.state, given_up.attempts, given_up.claimed_until) == ("gave_up", 1, None)
    assert str(status) in given_up.last_error
    clock.advance(days=3)
    assert await worker.run_once() == 0
    assert len(receiver.arrivals) == 2  # RFC 9421, then cavage, once; never again
    assert (await host_row(ctx, receiver)).consecutive_failures == 0  # the host answered: it is up


async def test_hanging_host_is_retried_and_the_healthy_host_is_served_in_the_same_pass(
        ctx, signer, receivers, worker, clock):
    slow, healthy = receivers
    hanging = await queue(ctx, signer, slow, "/hold", clock)
    fine = [await queue(ctx, signer, healthy, "/inbox", clock) for _ in range(4)]
    assert await worker.run_once() == 5
    assert [(await load(ctx, row_id)).state for row_id in fine] == ["delivered"] * 4
    timed_out = await load(ctx, hanging)
    assert (timed_out.state, timed_out.attempts, timed_out.claimed_until) == ("pending", 1, None)
    assert timed_out.last_error == "no answer in time" and timed_out.next_attempt_at > clock()
    assert (await host_row(ctx, slow)).consecutive_failures == 1


async def test_one_host_gets_at_most_per_host_limit_requests_at_once(
        ctx, signer, receivers, new_worker, clock):
    receiver = receivers[0]
    worker = new_worker(timeout=10, per_host_limit=2)
    rows = [await queue(ctx, signer, receiver, "/hold", clock) for _ in range(5)]
    run = asyncio.create_task(worker.run_once())
    for arrived in range(2, 6):
        await receiver.until(lambda arrived=arrived: len(receiver.arrivals) == arrived)
        assert receiver.open_requests == 2
        receiver.let_go()
    receiver.let_go()
    assert await run == 5
    assert receiver.most_open == 2
    assert [(await load(ctx, row_id)).state for row_id in rows] == ["delivered"] * 5


# --- parking ------------------------------------------------------------------------------------


async def test_host_failing_repeatedly_is_parked_and_its_rows_are_not_claimed(
        ctx, signer, receivers, worker, clock):
    down, healthy = receivers
    down.answers["/inbox"] = 503
    first = await queue(ctx, signer, down, "/inbox", clock)
    for _ in range(PARK_AFTER_FAILURES):
        clock.advance(hours=7)  # past any backoff
        assert await worker.run_once() == 1
    parked = await host_row(ctx, down)
    assert parked.consecutive_failures == PARK_AFTER_FAILURES
    assert parked.parked_until == clock() + PARK_BASE

    second = await queue(ctx, signer, down, "/inbox", clock)  # due now, but its host is parked
    served = await queue(ctx, signer, healthy, "/inbox", clock)
    assert await worker.run_once() == 1
    assert (await load(ctx, served)).state == "delivered"
    clock.advance(seconds=PARK_BASE.total_seconds() - 1)  # the first row is due again too
    assert await worker.run_once() == 0
    assert [(await load(ctx, row_id)).attempts for row_id in (first, second)] == [PARK_AFTER_FAILURES, 0]
    assert len(down.arrivals) == PARK_AFTER_FAILURES


async def test_parked_host_gets_a_single_probe_when_parking_ends_and_is_parked_longer_if_it_fails(
        ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    receiver.answers["/inbox"] = 503
    await set_host(ctx, receiver, consecutive_failures=PARK_AFTER_FAILURES, parked_until=clock())
    rows = [await queue(ctx, signer, receiver, "/inbox", clock) for _ in range(3)]
    assert await worker.run_once() == 1
    assert len(receiver.arrivals) == 1
    host = await host_row(ctx, receiver)
    assert host.consecutive_failures == PARK_AFTER_FAILURES + 1
    assert host.parked_until == clock() + 2 * PARK_BASE
    states = [await load(ctx, row_id) for row_id in rows]
    assert sorted(row.attempts for row in states) == [0, 0, 1]
    assert all(row.state == "pending" and row.claimed_until is None for row in states)  # handed back
    assert await worker.run_once() == 0


async def test_parked_host_that_answers_the_probe_gets_all_its_rows(ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    await set_host(ctx, receiver, consecutive_failures=PARK_AFTER_FAILURES + 3, parked_until=clock())
    rows = [await queue(ctx, signer, receiver, "/inbox", clock) for _ in range(3)]
    assert await worker.run_once() == 3
    assert [(await load(ctx, row_id)).state for row_id in rows] == ["delivered"] * 3
    host = await host_row(ctx, receiver)
    assert (host.consecutive_failures, host.parked_until) == (0, None)


async def test_unpark_host_makes_its_rows_due_at_once(ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    await set_host(ctx, receiver, consecutive_failures=9, parked_until=clock() + timedelta(hours=6))
    rows = [await queue(ctx, signer, receiver, "/inbox", clock, next_attempt_at=clock() + timedelta(hours=3))
            for _ in range(2)]
    assert await worker.run_once() == 0

    assert await unpark_host(ctx.database, receiver.netloc, now=clock()) is True
    host = await host_row(ctx, receiver)
    assert (host.consecutive_failures, host.parked_until) == (0, None)
    assert [(await load(ctx, row_id)).next_attempt_at for row_id in rows] == [clock(), clock()]
    assert await worker.run_once() == 2
    assert [(await load(ctx, row_id)).state for row_id in rows] == ["delivered"] * 2


async def test_unpark_host_leaves_a_healthy_host_and_its_schedule_alone(ctx, signer, receivers, clock):
    receiver = receivers[0]
    await set_host(ctx, receiver, consecutive_failures=0)
    later = clock() + timedelta(hours=1)
    row_id = await queue(ctx, signer, receiver, "/inbox", clock, next_attempt_at=later)
    assert await unpark_host(ctx.database, receiver.netloc, now=clock()) is False
    assert await unpark_host(ctx.database, "unknown.example", now=clock()) is False
    assert (await load(ctx, row_id)).next_attempt_at == later


async def test_revivals_read_a_healthy_host_once_a_second_and_a_failing_one_each_time(ctx, signer, receivers, clock):
    receiver = receivers[0]
    await set_host(ctx, receiver, consecutive_failures=0)
    ticks = [100.0]
    revivals = HostRevivals(ctx.database, monotonic=lambda: ticks[0])
    assert await revivals.heard_from(receiver.netloc, now=clock()) is False  # healthy: remembered

    async with ctx.database.transaction() as session:  # it fails within the second...
        (await session.get(Host, receiver.netloc)).consecutive_failures = 3
    row_id = await queue(ctx, signer, receiver, "/inbox", clock, next_attempt_at=clock() + timedelta(hours=1))
    assert await revivals.heard_from(receiver.netloc, now=clock()) is False  # ...unseen for that second
    assert (await host_row(ctx, receiver)).consecutive_failures == 3

    ticks[0] += HOST_STATE_TTL  # the next activity after it revives the host
    assert await revivals.heard_from(receiver.netloc, now=clock()) is True
    host = await host_row(ctx, receiver)
    assert (host.consecutive_failures, host.parked_until) == (0, None)
    assert (await load(ctx, row_id)).next_attempt_at == clock()
    assert await revivals.heard_from(receiver.netloc, now=clock()) is False


# --- giving up ----------------------------------------------------------------------------------


async def test_deliveries_older_than_max_age_give_up_after_a_last_attempt(
        ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    receiver.answers["/inbox"] = 500
    old = await queue(ctx, signer, receiver, "/inbox", clock,
                      created_at=clock() - MAX_AGE - timedelta(minutes=1))
    young = await queue(ctx, signer, receiver, "/inbox", clock,
                        created_at=clock() - MAX_AGE + timedelta(hours=1))
    assert await worker.run_once() == 2
    assert len(receiver.arrivals) == 2
    expired = await load(ctx, old)
    assert expired.state == "gave_up"
    assert "gave up after" in expired.last_error and "500" in expired.last_error
    assert (await load(ctx, young)).state == "pending"
    clock.advance(days=1)
    assert await worker.run_once() == 1  # only the young one is tried again


async def test_parking_a_host_gives_up_its_rows_older_than_max_age(ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    receiver.answers["/inbox"] = 503
    await set_host(ctx, receiver, consecutive_failures=PARK_AFTER_FAILURES - 1)
    failing = await queue(ctx, signer, receiver, "/inbox", clock)
    far = clock() + timedelta(days=30)
    stale = await queue(ctx, signer, receiver, "/inbox", clock, created_at=clock() - timedelta(days=3),
                        next_attempt_at=far)
    recent = await queue(ctx, signer, receiver, "/inbox", clock, next_attempt_at=far)
    assert await worker.run_once() == 1
    assert (await host_row(ctx, receiver)).parked_until == clock() + PARK_BASE
    swept = await load(ctx, stale)
    assert (swept.state, swept.attempts) == ("gave_up", 0) and "parked" in swept.last_error
    assert [(await load(ctx, row_id)).state for row_id in (failing, recent)] == ["pending", "pending"]


async def test_row_without_a_signing_key_gives_up_and_the_host_is_not_blamed(
        ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    stranger = await add_remote_actor(ctx, "someone")  # no private key of theirs here
    row_id = await queue(ctx, stranger, receiver, "/inbox", clock)
    assert await worker.run_once() == 1
    unsendable = await load(ctx, row_id)
    assert unsendable.state == "gave_up" and "no key" in unsendable.last_error
    assert receiver.arrivals == [] and await host_row(ctx, receiver) is None


# --- claims -------------------------------------------------------------------------------------


async def test_concurrent_claims_never_return_the_same_row(ctx, signer, receivers, clock):
    ids = {await queue(ctx, signer, receivers[number % 2], "/inbox", clock) for number in range(40)}
    batches = await asyncio.gather(*(claim_due(ctx.database, limit=15, now=clock(), lease=LEASE)
                                     for _ in range(4)))
    claimed = [row.id for batch in batches for row in batch]
    assert len(claimed) == len(set(claimed)) == 40 and set(claimed) == ids
    assert all(row.claimed_until == clock() + LEASE for batch in batches for row in batch)
    assert await claim_due(ctx.database, limit=100, now=clock(), lease=LEASE) == []


async def test_claims_give_each_host_at_most_its_room_and_concurrent_ones_never_the_same_row(
        ctx, signer, receivers, clock):
    busy, quiet = receivers
    ids = {await queue(ctx, signer, host, "/inbox", clock) for host in (busy, quiet) for _ in range(12)}
    # The worker holds four of the busy host's rows already: one more fits, and five of the quiet one's.
    first = await claim_due(ctx.database, limit=10, now=clock(), lease=LEASE, per_host=5, held={busy.netloc: 4})
    assert sorted(row.host for row in first) == sorted([busy.netloc] + [quiet.netloc] * 5)
    assert await claim_due(ctx.database, limit=10, now=clock(), lease=LEASE, per_host=5,
                           held={busy.netloc: 5, quiet.netloc: 5}) == []  # no room left for either host
    # At once (on PostgreSQL, a claim skips rows another has locked, so it may get fewer than its room).
    batches = await asyncio.gather(*(claim_due(ctx.database, limit=10, now=clock(), lease=LEASE, per_host=3)
                                     for _ in range(3)))
    assert all(len([row for row in batch if row.host == host.netloc]) <= 3
               for batch in batches for host in (busy, quiet))
    rest = await claim_due(ctx.database, limit=100, now=clock(), lease=LEASE)
    claimed = [row.id for row in first + rest] + [row.id for batch in batches for row in batch]
    assert len(claimed) == len(set(claimed)) == len(ids) and set(claimed) == ids


async def test_run_claims_again_as_rows_finish_when_hosts_were_held_back(
        ctx, signer, receivers, new_worker, clock, monkeypatch):
    """Both hosts have more rows due than the worker may hold for them; it never idles waiting for them."""
    monkeypatch.setattr("outbox.delivery.IDLE_WAIT", 3600.0)  # an idle wait would outlast the safety timeout
    rows = [await queue(ctx, signer, receivers[number % 2], "/inbox", clock) for number in range(40)]
    worker = new_worker(per_host_limit=2, batch=50)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    for receiver in receivers:
        await receiver.until(lambda receiver=receiver: len(receiver.arrivals) == 20)
    stop.set()
    await asyncio.wait_for(running, timeout=10)
    assert {(await load(ctx, row_id)).state for row_id in rows} == {"delivered"}


async def test_successes_that_come_together_are_written_in_one_statement_and_each_waits_for_it(
        ctx, signer, receivers, clock):
    rows = [await queue(ctx, signer, receivers[0], "/inbox", clock) for _ in range(5)]
    deliveries = _Deliveries(ctx.database, clock)
    with statements_sent(ctx.database, "UPDATE deliveries") as updates:
        together = [asyncio.create_task(deliveries.delivered(row_id)) for row_id in rows[:3]]
        await asyncio.sleep(0)  # the three have joined one group; its write starts before the next two join
        later = [asyncio.create_task(deliveries.delivered(row_id)) for row_id in rows[3:]]
        await asyncio.gather(*together)
        assert not any(task.done() for task in later)  # the next group waits for its own write
        await asyncio.gather(*later)
    assert len(updates) == 2
    written = [await load(ctx, row_id) for row_id in rows]
    assert {(row.state, row.attempts, row.claimed_until, row.delivered_at) for row in written} == {
        ("delivered", 1, None, clock())}


async def test_two_workers_share_the_queue_and_send_no_row_twice(ctx, signer, receivers, new_worker, clock):
    rows = [await queue(ctx, signer, receivers[number % 2], "/inbox", clock) for number in range(120)]
    workers = [new_worker(batch=25), new_worker(batch=25)]
    while sum(await asyncio.gather(*(worker.run_once() for worker in workers))):
        pass
    arrived = [arrival.activity_id for receiver in receivers for arrival in receiver.arrivals]
    assert len(arrived) == len(set(arrived)) == 120
    assert {(await load(ctx, row_id)).state for row_id in rows} == {"delivered"}


async def test_claims_skip_parked_hosts_until_parking_ends(ctx, signer, receivers, clock):
    parked, open_host = receivers
    await set_host(ctx, parked, consecutive_failures=PARK_AFTER_FAILURES, parked_until=clock() + PARK_BASE)
    waiting = await queue(ctx, signer, parked, "/inbox", clock)
    ready = await queue(ctx, signer, open_host, "/inbox", clock)
    lease = timedelta(hours=1)
    assert [row.id for row in await claim_due(ctx.database, limit=10, now=clock(), lease=lease)] == [ready]
    clock.advance(seconds=PARK_BASE.total_seconds())
    assert [row.id for row in await claim_due(ctx.database, limit=10, now=clock(), lease=lease)] == [waiting]


async def test_expired_claim_is_claimable_again_and_a_dead_workers_rows_get_delivered(
        ctx, signer, receivers, worker, clock):
    receiver = receivers[0]
    row_id = await queue(ctx, signer, receiver, "/inbox", clock)
    [claimed] = await claim_due(ctx.database, limit=10, now=clock(), lease=LEASE)  # then the claimer dies
    assert claimed.id == row_id
    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert await worker.run_once() == 0 and receiver.arrivals == []
    clock.advance(seconds=1)
    assert await worker.run_once() == 1
    assert (await load(ctx, row_id)).state == "delivered" and len(receiver.arrivals) == 1


@pytest.mark.parametrize(("status", "state"), [(202, "delivered"), (500, "pending")])
async def test_worker_whose_lease_ran_out_records_a_success_but_no_failure_over_the_new_claim(
        ctx, signer, receivers, new_worker, clock, status, state):
    receiver = receivers[0]
    receiver.answers["/hold"] = status
    worker = new_worker(timeout=10, lease=timedelta(minutes=1))
    row_id = await queue(ctx, signer, receiver, "/hold", clock)
    run = asyncio.create_task(worker.run_once())
    await receiver.until(lambda: len(receiver.arrivals) == 1)
    clock.advance(minutes=2)
    [reclaimed] = await claim_due(ctx.database, limit=10, now=clock(), lease=LEASE)  # another worker
    receiver.let_go()
    assert await run == 1
    row = await load(ctx, row_id)
    assert row.state == state
    if state == "pending":  # the late failure changed nothing: the row is the other worker's
        assert (row.attempts, row.claimed_until, row.last_error) == (0, reclaimed.claimed_until, "")


# --- the loop -----------------------------------------------------------------------------------


async def test_run_serves_new_rows_while_a_slow_host_still_hangs(ctx, signer, receivers, new_worker, clock):
    slow, healthy = receivers
    worker = new_worker(timeout=10)
    stop = asyncio.Event()
    held = await queue(ctx, signer, slow, "/hold", clock)
    running = asyncio.create_task(worker.run(stop))
    await slow.until(lambda: slow.open_requests == 1)

    fresh = await queue(ctx, signer, healthy, "/inbox", clock)
    worker.notify()
    await healthy.until(lambda: len(healthy.arrivals) == 1)
    assert slow.open_requests == 1  # the slow request is still hanging

    slow.let_go()
    stop.set()
    await asyncio.wait_for(running, timeout=10)
    assert [(await load(ctx, row_id)).state for row_id in (held, fresh)] == ["delivered", "delivered"]


async def test_rows_queued_by_the_outbox_go_out_when_their_transaction_commits_not_at_the_next_poll(
        ctx, signer, receivers, new_worker, clock, monkeypatch):
    monkeypatch.setattr("outbox.delivery.IDLE_WAIT", 3600.0)  # the next poll would outlast the safety timeout
    receiver = receivers[0]
    worker = new_worker()
    woken: list[str] = []
    outbox = Outbox(urls=ctx.urls, policy=DomainPolicy(), queued=lambda: (woken.append("queued"), worker.notify()))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))

    async def post(number: int, *, fail: bool = False) -> None:
        document = {"id": f"http://mayo.test/users/dr_ann/statuses/q{number}/activity", "type": "Create",
                    "actor": signer.uri}
        async with ctx.database.transaction() as session:
            await outbox.enqueue(session, document, signer, [receiver.url("/inbox")])
            if fail:
                raise RuntimeError("the action failed after queueing")

    with pytest.raises(RuntimeError):
        await post(1, fail=True)
    assert woken == []  # rolled back: nothing to send, no one woken
    clock.advance(minutes=1)  # the outbox stamps rows due at the real time, a little after the test clock's
    await post(2)
    assert woken == ["queued"]
    await receiver.until(lambda: len(receiver.arrivals) == 1)
    assert receiver.arrivals[0].activity_id.endswith("/q2/activity")
    stop.set()
    await asyncio.wait_for(running, timeout=10)


async def test_a_slow_host_with_many_rows_never_fills_the_batch(ctx, signer, receivers, new_worker, clock):
    """Thirty rows for a hanging host were queued first; a batch of eight still serves the healthy host."""
    slow, healthy = receivers
    worker = new_worker(timeout=10, per_host_limit=2, batch=8)
    stop = asyncio.Event()
    held = [await queue(ctx, signer, slow, "/hold", clock) for _ in range(30)]
    fresh = [await queue(ctx, signer, healthy, "/inbox", clock) for _ in range(12)]
    running = asyncio.create_task(worker.run(stop))
    await healthy.until(lambda: len(healthy.arrivals) == 12)
    assert slow.open_requests == 2 and len(slow.arrivals) == 2  # the host's limit, and nothing more sent
    claimed = [row for row in [await load(ctx, row_id) for row_id in held] if row.claimed_until is not None]
    assert len(claimed) <= 4  # two sending, two waiting: the rest stay in the table for later claims

    slow.let_go(30)
    await slow.until(lambda: len(slow.arrivals) == 30 and slow.open_requests == 0)
    stop.set()
    await asyncio.wait_for(running, timeout=10)
    assert {(await load(ctx, row_id)).state for row_id in held + fresh} == {"delivered"}


async def test_stopping_hands_back_rows_not_yet_sent(ctx, signer, receivers, new_worker, clock):
    receiver = receivers[0]
    worker = new_worker(timeout=1, per_host_limit=1)
    stop = asyncio.Event()
    sent, waiting = [await queue(ctx, signer, receiver, "/hold", clock) for _ in range(2)]
    running = asyncio.create_task(worker.run(stop))
    await receiver.until(lambda: receiver.open_requests == 1)
    stop.set()  # the request under way runs to its end (here, the client's timeout); the other is not sent
    await asyncio.wait_for(running, timeout=10)
    first, second = await load(ctx, sent), await load(ctx, waiting)
    if receiver.arrivals[0].activity_id != first.activity_uri:
        first, second = second, first
    assert (first.state, first.attempts, first.last_error) == ("pending", 1, "no answer in time")
    assert (second.state, second.attempts, second.claimed_until) == ("pending", 0, None)
    assert len(receiver.arrivals) == 1


async def test_run_renews_the_lease_of_rows_waiting_on_a_slow_host_so_no_other_worker_takes_them(
        ctx, signer, receivers, new_worker, clock):
    receiver = receivers[0]
    worker = new_worker(timeout=30, per_host_limit=1)
    stop = asyncio.Event()
    rows = [await queue(ctx, signer, receiver, "/hold", clock) for _ in range(2)]
    running = asyncio.create_task(worker.run(stop))
    await receiver.until(lambda: receiver.open_requests == 1)
    first_lease = (await load(ctx, rows[1])).claimed_until
    # Past the original lease: the run loop (which wakes at least every second) renews it.
    clock.advance(seconds=LEASE.total_seconds() - 1)
    async with asyncio.timeout(10):
        while (await load(ctx, rows[1])).claimed_until == first_lease:  # noqa: ASYNC110 (a row another task writes)
            await asyncio.sleep(0.05)
    clock.advance(seconds=2)
    assert await claim_due(ctx.database, limit=10, now=clock(), lease=LEASE) == []  # still ours
    receiver.let_go(2)
    await receiver.until(lambda: len(receiver.arrivals) == 2 and receiver.open_requests == 0)
    stop.set()
    await asyncio.wait_for(running, timeout=10)
    assert [(await load(ctx, row_id)).state for row_id in rows] == ["delivered", "delivered"]
    assert len(receiver.arrivals) == 2
