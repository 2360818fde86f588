"""Remote instances that reset connections, trickle bytes or hang, against the real delivery worker.

The peers are raw asyncio servers on loopback that speak HTTP/1.1 by hand, so they can fail
below HTTP: a reset (SO_LINGER 0, so the close sends RST) right after accepting, after
reading the request, halfway through the status line or through an error's body; an answer
that trickles one byte at a time, so no single read waits long enough for the client's
per-read timeout. In "accept" mode a peer checks the signature and answers 202.

The first tests drive the worker in-process with a fake clock (the schedule) and a short
send deadline (real time). The last one starts a real `rounds serve` that fans out to
followers on hanging, resetting and trickling hosts while its client API is being used.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import socket
import statistics
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from federation.fetch import make_client
from federation.httpsig import SignatureError, SignedRequest, load_public_key_pem, parse_signature, verify_signature
from outbox.delivery import BACKOFF_BASE, PARK_AFTER_FAILURES, PARK_BASE, SEND_DEADLINE, DeliveryWorker
from storage.tables import Actor, Delivery, Follow, Host
from tests.conftest import add_account
from tests.outbox.test_delivery import USER_AGENT, Clock, host_row, load, queue
from tests.support.api import bearer
from tests.support.processes import Instance
from tests.support.waiting import within
from web.context import AppContext
from web.settings import Settings

TRICKLE_INTERVAL = 0.1  # seconds between two trickled bytes
READ_TIMEOUT = 1.5  # the worker's client timeout in the in-process tests: fifteen trickle intervals
DEADLINE = 2.5  # the worker's whole-request deadline in the in-process tests: past READ_TIMEOUT
# make_client's default per-read timeout, as `rounds serve` uses it: the least time a request to a
# host that never answers stays open. An API request that waited for such a peer would take this long.
SERVE_READ_TIMEOUT = 10.0


# --- the peers ----------------------------------------------------------------------------------


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the kernel drops what is unsent and answers RST, not FIN."""
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def read_request(reader: asyncio.StreamReader) -> tuple[str, httpx.Headers, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
    _, target, _ = request_line.split(" ", 2)
    headers = httpx.Headers([tuple(part.strip() for part in line.split(":", 1)) for line in lines])
    return target, headers, await reader.readexactly(int(headers.get("content-length", "0")))


@dataclass
class RawPeer:
    """One remote host. `behaviour` names how it treats each connection (see `BEHAVIOURS`)."""

    host: str
    clock: Callable[[], datetime]
    behaviour: str = "accept"
    public_key_pem: str = ""
    port: int = 0
    connections: int = 0
    open_connections: int = 0
    opened_at: dict[int, float] = field(default_factory=dict)  # open connection → when (monotonic)
    arrivals: Counter[tuple[str, str]] = field(default_factory=Counter)  # (path, activity id) answered 2xx
    refused: list[str] = field(default_factory=list)
    trickled: int = 0  # bytes sent one at a time
    trickle_seconds: list[float] = field(default_factory=list)  # how long each trickle ran until the client hung up
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False
    _server: asyncio.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.netloc}{path}"

    def activities(self) -> Counter[str]:
        return Counter(activity for (_, activity), count in self.arrivals.items() for _ in range(count))

    def oldest_open(self) -> float | None:
        return min(self.opened_at.values(), default=None)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and reset every open connection (the worker's requests then end at once)."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            reset(writer)
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def until(self, condition: Callable[[], bool], seconds: float = 10) -> None:
        """Wait until the condition holds after some change here; a safety timeout, not a sleep."""
        async with asyncio.timeout(seconds):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        number = self.connections
        self.connections += 1
        self.open_connections += 1
        self.opened_at[number] = time.monotonic()
        self._handlers.add(handler)
        self._writers.add(writer)
        self.changed.set()
        try:
            await BEHAVIOURS[self.behaviour](self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the worker hung up first
        finally:
            self.open_connections -= 1
            del self.opened_at[number]
            self._handlers.discard(handler)
            self._writers.discard(writer)
            if not writer.is_closing():
                writer.close()
            self.changed.set()

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        target, headers, body = await read_request(reader)
        try:
            parsed = parse_signature(SignedRequest("POST", self.url(target), headers, body), now=self.clock())
            verify_signature(parsed, load_public_key_pem(self.public_key_pem))
        except SignatureError as error:
            self.refused.append(error.reason)
            writer.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        else:
            self.arrivals[(target, json.loads(body)["id"])] += 1
            writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()

    async def trickle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, at_once: bytes = b"",
                      slowly: bytes = b"") -> None:
        """Send `at_once`, then `slowly` and endless filler one byte every TRICKLE_INTERVAL, until the client
        hangs up."""
        writer.write(at_once)
        started = time.monotonic()
        hung_up = asyncio.ensure_future(reader.read())  # b"" once the client closes its end
        try:
            for byte in itertools.chain((slowly[i:i + 1] for i in range(len(slowly))), itertools.repeat(b"a")):
                writer.write(byte)
                await writer.drain()
                self.trickled += 1
                self.changed.set()
                await asyncio.wait({hung_up}, timeout=TRICKLE_INTERVAL)
                if hung_up.done():
                    break
        except ConnectionError:
            pass
        finally:
            hung_up.cancel()
        if not self.closing:
            self.trickle_seconds.append(time.monotonic() - started)


Behaviour = Callable[[RawPeer, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _reset_on_accept(peer: RawPeer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    reset(writer)


def _reset_after(partial: bytes) -> Behaviour:
    """Read the request, send `partial` of an answer, then reset."""
    async def behave(peer: RawPeer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        if partial:
            writer.write(partial)
            await writer.drain()
            await asyncio.sleep(0.05)  # let the partial answer leave first: an RST drops unsent bytes
        reset(writer)
    return behave


def _trickle(*, at_once: bytes = b"", slowly: bytes = b"", accepted: bool = False) -> Behaviour:
    async def behave(peer: RawPeer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        target, _, body = await read_request(reader)
        if accepted:
            peer.arrivals[(target, json.loads(body)["id"])] += 1
        await peer.trickle(reader, writer, at_once=at_once, slowly=slowly)
    return behave


async def _hang(peer: RawPeer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await reader.read()  # until the client gives up


BEHAVIOURS: dict[str, Behaviour] = {
    "accept": RawPeer.accept,
    "hang": _hang,
    "reset_on_accept": _reset_on_accept,
    "reset_after_request": _reset_after(b""),
    "reset_mid_status_line": _reset_after(b"HTTP/1.1 202 Acc"),
    "reset_mid_error_body": _reset_after(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                                         b"Content-Length: 1000\r\n\r\nThe database is"),
    # The head never ends: the status line a byte at a time, then a header value that keeps growing.
    "trickle_headers": _trickle(slowly=b"HTTP/1.1 202 Accepted\r\nX-Trickle: "),
    # A 503 head at once, then its body a byte at a time (the worker reads the start of an error's body).
    "trickle_error_body": _trickle(at_once=b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100000\r\n\r\n"),
    # Taken (202 at once), then a body that never ends: the worker needs no body from a 2xx.
    "accept_then_trickle_body": _trickle(at_once=b"HTTP/1.1 202 Accepted\r\nContent-Length: 100000\r\n\r\n",
                                         accepted=True),
}


# --- in-process: the worker, its schedule and its deadline ----------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def peers(clock: Clock) -> AsyncIterator[list[RawPeer]]:
    """Three peers, on 127.0.0.1, .2 and .3, accepting until a test says otherwise."""
    started = [RawPeer(host=host, clock=clock) for host in ("127.0.0.1", "127.0.0.2", "127.0.0.3")]
    try:
        for peer in started:
            await peer.start()
        yield started
    finally:
        await asyncio.gather(*(peer.close() for peer in started))


@pytest.fixture
async def signer(ctx, peers: list[RawPeer]) -> Actor:
    account = await add_account(ctx, "dr_ann", role="staff")
    for peer in peers:
        peer.public_key_pem = account.actor.public_key_pem
    return account.actor


@pytest.fixture
async def new_worker(ctx, clock: Clock) -> AsyncIterator[Callable[..., DeliveryWorker]]:
    clients: list[httpx.AsyncClient] = []

    def build(**options: object) -> DeliveryWorker:
        client = make_client(allow_private_addresses=True, user_agent=USER_AGENT, timeout=READ_TIMEOUT)
        clients.append(client)
        options = {"send_deadline": DEADLINE} | options
        return DeliveryWorker(ctx.database, ctx.keyring, client, clock=clock, **options)  # type: ignore[arg-type]

    yield build
    for client in clients:
        await client.aclose()


def assert_waits_its_backoff(row: Delivery, now: datetime) -> None:
    """The next attempt is `retry_delay(attempts)` away: between half a step and a whole one."""
    step = BACKOFF_BASE * 2 ** (row.attempts - 1)
    assert step / 2 <= row.next_attempt_at - now <= step, (row.attempts, row.next_attempt_at - now)


RESETS = ["reset_on_accept", "reset_after_request", "reset_mid_status_line", "reset_mid_error_body"]


async def test_host_resetting_connections_is_retried_on_schedule_parked_then_gets_each_post_once(
        ctx, signer, peers, new_worker, clock, caplog):
    flaky, healthy, _ = peers
    worker = new_worker()
    first = await queue(ctx, signer, flaky, "/inbox", clock)
    for attempt, way in enumerate(itertools.islice(itertools.cycle(RESETS), PARK_AFTER_FAILURES), start=1):
        flaky.behaviour = way
        served = await queue(ctx, signer, healthy, "/inbox", clock)
        assert await worker.run_once() == 2, way  # both attempted and settled: nothing was left claimed
        assert (await load(ctx, served)).state == "delivered", way  # the other host is not held back
        waiting = await load(ctx, first)
        assert (waiting.state, waiting.attempts, waiting.claimed_until) == ("pending", attempt, None), way
        assert waiting.last_error.startswith("connection failed"), (way, waiting.last_error)
        assert_waits_its_backoff(waiting, clock())
        assert (await host_row(ctx, flaky)).consecutive_failures == attempt, way
        assert flaky.connections == attempt, way  # one connection per attempt: no hidden retries
        if attempt < PARK_AFTER_FAILURES:
            clock.set(waiting.next_attempt_at - timedelta(microseconds=1))
            assert await worker.run_once() == 0  # not a moment before its time
            clock.set(waiting.next_attempt_at)

    assert (await host_row(ctx, flaky)).parked_until == clock() + PARK_BASE
    later = [await queue(ctx, signer, flaky, "/inbox", clock) for _ in range(3)]  # posts while it is parked
    served = await queue(ctx, signer, healthy, "/inbox", clock)
    assert await worker.run_once() == 1
    assert (await load(ctx, served)).state == "delivered"
    assert flaky.connections == PARK_AFTER_FAILURES

    flaky.behaviour = "accept"  # the host is back
    clock.advance(hours=1)  # past its parking and the first row's backoff
    assert await worker.run_once() == 4
    rows = [await load(ctx, row_id) for row_id in (first, *later)]
    assert [row.state for row in rows] == ["delivered"] * 4
    assert flaky.activities() == Counter({row.activity_uri: 1 for row in rows})
    host = await host_row(ctx, flaky)
    assert (host.consecutive_failures, host.parked_until) == (0, None)
    clock.advance(days=3)
    assert await worker.run_once() == 0
    assert sum(flaky.arrivals.values()) == 4 and flaky.refused == healthy.refused == []
    assert [record for record in caplog.records if record.levelname == "ERROR"] == []  # no crash on any path


async def test_trickling_hosts_are_cut_off_by_the_send_deadline_and_retried_while_a_healthy_host_is_served(
        ctx, signer, peers, new_worker, clock):
    slow_head, slow_body, healthy = peers
    slow_head.behaviour, slow_body.behaviour = "trickle_headers", "trickle_error_body"
    slow = [slow_head, slow_body]
    worker = new_worker()
    stop = asyncio.Event()
    row_ids = [await queue(ctx, signer, peer, "/inbox", clock) for peer in slow]
    running = asyncio.create_task(worker.run(stop))
    try:
        for peer in slow:
            await peer.until(lambda peer=peer: peer.trickled >= 3)
        fresh = [await queue(ctx, signer, healthy, "/inbox", clock) for _ in range(3)]
        worker.notify()
        await healthy.until(lambda: len(healthy.arrivals) == 3)
        # Served while both trickles go on.
        assert [(peer.open_connections, peer.trickle_seconds) for peer in slow] == [(1, [])] * 2
        for peer in slow:
            await peer.until(lambda peer=peer: len(peer.trickle_seconds) == 1, seconds=10 * DEADLINE)
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)
    assert [(await load(ctx, fresh_id)).state for fresh_id in fresh] == ["delivered"] * 3
    waiting = [await load(ctx, row_id) for row_id in row_ids]
    for peer, row in zip(slow, waiting, strict=True):
        # Bytes kept coming for longer than the client's per-read timeout: only the deadline could end it.
        assert peer.trickle_seconds[0] >= READ_TIMEOUT, peer.behaviour
        assert (row.state, row.attempts, row.claimed_until) == ("pending", 1, None), peer.behaviour
        assert row.last_error == "no answer in time", peer.behaviour
        assert_waits_its_backoff(row, clock())
        assert (await host_row(ctx, peer)).consecutive_failures == 1, peer.behaviour
        peer.behaviour = "accept"

    clock.set(max(row.next_attempt_at for row in waiting))
    assert await worker.run_once() == 2
    assert [(await load(ctx, row_id)).state for row_id in row_ids] == ["delivered"] * 2
    for peer, row in zip(slow, waiting, strict=True):
        assert peer.activities() == Counter({row.activity_uri: 1})
        assert peer.connections == 2 and peer.refused == []


async def test_host_that_accepts_then_trickles_its_body_is_delivered_without_waiting_for_the_body(
        ctx, signer, peers, new_worker, clock):
    peer = peers[0]
    peer.behaviour = "accept_then_trickle_body"
    worker = new_worker(send_deadline=SEND_DEADLINE)  # the production deadline: reaching it would fail the row
    row_id = await queue(ctx, signer, peer, "/inbox", clock)
    async with asyncio.timeout(30):
        assert await worker.run_once() == 1
    delivered = await load(ctx, row_id)
    assert (delivered.state, delivered.last_error) == ("delivered", "")
    await peer.until(lambda: len(peer.trickle_seconds) == 1)  # the worker hung up on the endless body
    assert peer.activities() == Counter({delivered.activity_uri: 1})


# --- a real `rounds serve`: its client API while it fans out to failing hosts -------------------


FOLLOWERS_PER_HOST = 12  # three times the worker's per-host limit: each failing host keeps failing a while
API_PATHS = ("/api/v1/timelines/public", "/api/v1/instance")
API_ROUNDS = 10


async def timed_requests(api: httpx.AsyncClient, rounds: int) -> list[tuple[str, int, float]]:
    """(path, status, seconds) of each request, one after the other."""
    measured = []
    for _ in range(rounds):
        for path in API_PATHS:
            started = time.perf_counter()
            response = await api.get(path)
            measured.append((path, response.status_code, time.perf_counter() - started))
    return measured


def summary(measured: list[tuple[str, int, float]]) -> tuple[float, float]:
    seconds = sorted(took for _, _, took in measured)
    return statistics.median(seconds), seconds[int(0.95 * (len(seconds) - 1))]


@pytest.mark.e2e
async def test_client_api_answers_promptly_while_followers_hosts_hang_reset_and_trickle(new_database_url, tmp_path):
    now = functools.partial(datetime.now, UTC)
    hanging, resetting, trickling = (RawPeer(host="127.0.0.1", clock=now, behaviour=behaviour)
                                     for behaviour in ("hang", "reset_after_request", "trickle_headers"))
    healthy = RawPeer(host="127.0.0.2", clock=now)
    failing = [hanging, resetting, trickling]
    sender = Instance(name="mayo", database_url=new_database_url(empty=True), directory=tmp_path,
                      extra={"ROUNDS_ALLOW_PRIVATE_ADDRESSES": "true", "ROUNDS_API_RATE_LIMIT": "100000"})
    ctx: AppContext | None = None
    try:
        for peer in (*failing, healthy):
            await peer.start()
        await asyncio.to_thread(sender.start)
        ctx = AppContext.build(Settings.from_env(sender.env))
        account = await add_account(ctx, "dr_ann", role="staff")
        authorization = await bearer(ctx, account, ("read", "write:statuses"))
        ann = account.actor
        async with ctx.database.transaction() as session:
            for peer in (*failing, healthy):
                peer.public_key_pem = ann.public_key_pem
                for number in range(FOLLOWERS_PER_HOST):
                    # Followers without a shared inbox: one delivery each.
                    uri = peer.url(f"/users/f{number}")
                    follower = Actor(uri=uri, username=f"f{number}", username_key=f"f{number}",
                                     domain=peer.netloc, inbox_uri=f"{uri}/inbox")
                    session.add(follower)
                    await session.flush()
                    session.add(Follow(follower_id=follower.id, followee_id=ann.id, state="accepted"))

        async with httpx.AsyncClient(base_url=sender.base_url, timeout=60, headers=authorization) as api:
            quiet = await timed_requests(api, API_ROUNDS)  # nothing to deliver yet

            posted = await api.post("/api/v1/statuses", json={"status": "The clinic moves on Monday",
                                                              "visibility": "public"})
            assert posted.status_code == 200, posted.text

            async def failing_now() -> bool:
                return hanging.open_connections > 0 and trickling.open_connections > 0 and resetting.connections > 0

            await within(30, failing_now, "the fan-out to reach every failing host")
            window_opened = time.monotonic()
            busy = await timed_requests(api, API_ROUNDS)
            # A post is an API request too: it queues deliveries to the same failing hosts and answers.
            started = time.perf_counter()
            again = await api.post("/api/v1/statuses", json={"status": "Parking is in lot C", "visibility": "public"})
            busy.append(("/api/v1/statuses", again.status_code, time.perf_counter() - started))
            busy += await timed_requests(api, API_ROUNDS)
            # The trickling host held one request open through the whole window (the deadline is a minute);
            # the hanging one holds each for the client's read timeout, and was still holding one.
            held_since = trickling.oldest_open()
            assert held_since is not None and held_since <= window_opened
            assert hanging.open_connections > 0

        assert {status for _, status, _ in quiet + busy} == {200}, [m for m in busy if m[1] != 200]
        # None of them waited for a peer: that would take at least the client's read timeout.
        slowest = max(took for _, _, took in busy)
        assert slowest < SERVE_READ_TIMEOUT / 2, busy

        async def outcomes_recorded() -> bool:
            async with ctx.database.session() as session:
                host = await session.get(Host, resetting.netloc)
            return (len(healthy.activities()) == 2 and sum(healthy.arrivals.values()) == 2 * FOLLOWERS_PER_HOST
                    and host is not None and host.parked_until is not None)

        # Meanwhile the healthy host got both posts, once per follower, and the resetting one was parked.
        await within(30, outcomes_recorded, "the healthy host's deliveries and the resetting host's parking")
        async with ctx.database.session() as session:
            errors = Counter((row.host, row.last_error.split(":")[0]) for row in (await session.exec(
                select(Delivery).where(Delivery.state == "pending", Delivery.attempts > 0))).all())
        assert {host for host, _ in errors} <= {peer.netloc for peer in failing}
        assert {error for host, error in errors if host == resetting.netloc} == {"connection failed"}
        assert set(healthy.arrivals.values()) == {1} and healthy.refused == []
        assert sender.process is not None and sender.process.poll() is None
        assert "Traceback" not in sender.read_log()

        (quiet_median, quiet_p95), (busy_median, busy_p95) = summary(quiet), summary(busy)
        print(f"\nclient API while peers fail: median {busy_median * 1000:.1f} ms vs {quiet_median * 1000:.1f} ms "
              f"quiet (x{busy_median / quiet_median:.2f}); p95 {busy_p95 * 1000:.1f} ms vs "
              f"{quiet_p95 * 1000:.1f} ms (x{busy_p95 / quiet_p95:.2f}); slowest {slowest * 1000:.1f} ms")
    finally:
        # Peers first: their open requests end at once, so the instance stops without waiting for them.
        await asyncio.gather(*(peer.close() for peer in (*failing, healthy)))
        await asyncio.to_thread(sender.stop)
        if ctx is not None:
            await ctx.database.dispose()
