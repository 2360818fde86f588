"""The delivery worker: claim due deliveries, sign each at send time, POST it, record the outcome.

Rows of `deliveries` are written in the transaction that made their activity; this module
sends them. What an answer leads to:

- 2xx: delivered.
- 5xx, 408, 429, timeouts and connection errors: retried after an exponential backoff with
  jitter (30 s doubling to 6 h), or after Retry-After when that is longer. A failure after
  `max_age` (two days and an hour) gives up instead.
- any other answer (400, 401 to both signature schemes, 403, 404, 410, 422, redirects):
  given up at once; so are rows we can never send (no signing key, an address the guarded
  client refuses).

Hosts, as remembered in `hosts`:

- Signature scheme: RFC 9421 first to a host we have not talked to; a 4xx other than 429 is
  retried at once with draft-cavage (Mastodon answers 401 to RFC 9421), and when that changes
  the answer the host is marked `accepts_rfc9421=False`. A 2xx to RFC 9421 marks it True; a
  host marked True that answers 401 is tried with cavage the same way (it may have changed).
- Parking: after `PARK_AFTER_FAILURES` failures in a row a host is parked (5 min, doubling
  to 6 h), and a Retry-After parks it until then. Parked hosts' rows are not claimed, so a
  dead host cannot hold workers. When parking ends the worker sends that host one request
  at a time until one gets an answer; when the host contacts us, `unpark_host` resumes it at
  once. Rows of a host that is parked again are given up once older than `max_age`.

Claims are leases (`claimed_until`, 30 s, renewed every 10 s while `run()` holds the rows):
a killed worker's rows come back within half a minute, and a worker records an outcome only
while its claim still stands. A row is marked delivered right after the 2xx (with the other
successes of that moment, in one statement), so a crash between the two may send that row
once more after a restart: delivery is at least once, and receivers dedupe by activity id.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from sqlalchemy import ColumnElement, Update, case, func, literal, or_, true, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.errors import KeyUnavailable
from actors.keys import KeyRing
from federation.fetch import AddressRefused, parse_retry_after
from federation.httpsig import sign_cavage, sign_rfc9421
from federation.vocab import ACTIVITY_JSON
from storage.availability import OutageWait, is_unavailable
from storage.batches import GroupWriter
from storage.engine import Database
from storage.tables import Actor, Delivery, Host, LocalKey

log = logging.getLogger("rounds.delivery")

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
RETRY_AFTER_CAP = timedelta(hours=6)
PARK_AFTER_FAILURES = 5
PARK_BASE = timedelta(minutes=5)
PARK_CAP = timedelta(hours=6)
LEASE = timedelta(seconds=30)
RENEW_EVERY = LEASE / 3
# The client's timeouts bound each read; this bounds a whole request against a peer that trickles.
SEND_DEADLINE = 60.0
IDLE_WAIT = 1.0
# A busy host's row is rewritten at most this often while all goes well (it is one hot row).
SUCCESS_STAMP_INTERVAL = timedelta(minutes=1)
EXCERPT_BYTES = 200
RETRYABLE_STATUSES = frozenset({408, 429})
# How many rows of one host the run loop holds at most, in units of the per-host limit: the
# ones being sent and one more round waiting. More would fill the batch with rows that only
# wait for a slow host, and starve every other host of the batch's room.
HOST_HOLD_ROUNDS = 2
# A healthy host's row is read again at most this often by one worker (failing hosts: every time).
HOST_STATE_TTL = 1.0
# A claim picks its rows among this many times as many of the earliest due rows.
CLAIM_LOOKAHEAD = 5


def retry_delay(attempt: int) -> timedelta:
    """How long to wait after failed attempt number `attempt` (1-based).

    Exponential and capped, with "equal jitter": half the step is fixed and half random, which
    spreads a crowd of retries while never coming back to a failing host sooner than half a step.
    """
    step = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(attempt - 1, 20))
    return step / 2 + step / 2 * random.random()


def park_interval(consecutive_failures: int) -> timedelta:
    return min(PARK_CAP, PARK_BASE * 2 ** min(consecutive_failures - PARK_AFTER_FAILURES, 20))


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(Delivery.claimed_until.is_(None), Delivery.claimed_until <= now)


def _update(model: type[SQLModel]) -> Update:
    # These statements touch no objects held in a session: nothing to synchronise.
    return update(model).execution_options(synchronize_session=False)


async def claim_due(database: Database, *, limit: int, now: datetime, lease: timedelta,
                    per_host: int | None = None, held: Mapping[str, int] | None = None) -> list[Delivery]:
    """Claim up to `limit` due rows of hosts not parked, until `now + lease`.

    With `per_host`, no host gets more than `per_host` rows less those it `held` already (hosts
    with none left are skipped); the rows are picked among the earliest due, `CLAIM_LOOKAHEAD`
    times `limit` of them, so a host with thousands of rows due cannot crowd the others out.

    One statement. On PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so workers in
    several processes each get different rows without waiting for one another; SQLite runs one
    writer at a time. The pick is materialised so it runs once even if the planner would rescan it.
    """
    if limit <= 0:
        return []
    parked = select(Host.host).where(Host.parked_until > now)
    conditions = [Delivery.state == "pending", Delivery.next_attempt_at <= now, _claimable(now),
                  Delivery.host.not_in(parked)]
    if per_host is not None:
        room = {host: per_host - count for host, count in (held or {}).items()}
        full = [host for host, left in room.items() if left <= 0]
        if full:
            conditions.append(Delivery.host.not_in(full))
        ahead = (select(Delivery.id, Delivery.host, Delivery.next_attempt_at).where(*conditions)
                 .order_by(Delivery.next_attempt_at).limit(limit * CLAIM_LOOKAHEAD).subquery("ahead"))
        place = func.row_number().over(partition_by=ahead.c.host, order_by=(ahead.c.next_attempt_at, ahead.c.id))
        ranked = select(ahead.c.id, ahead.c.host, place.label("place")).subquery("ranked")
        partly = {host: left for host, left in room.items() if left > 0}
        allowed = case(partly, value=ranked.c.host, else_=per_host) if partly else literal(per_host)
        # The conditions again: on PostgreSQL a row another worker claimed meanwhile fails them when locked.
        conditions.append(Delivery.id.in_(select(ranked.c.id).where(ranked.c.place <= allowed)))
    due = (
        select(Delivery.id)
        .where(*conditions)
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
        .with_for_update(of=Delivery, skip_locked=True)  # rendered on PostgreSQL only
        .cte("due")
        .prefix_with("MATERIALIZED")
    )
    claim = (_update(Delivery).where(Delivery.id.in_(select(due.c.id)))
             .values(claimed_until=now + lease).returning(Delivery))
    async with database.transaction() as session:
        return list((await session.execute(claim)).scalars().all())


async def unpark_host(database: Database, host: str, *, now: datetime | None = None) -> bool:
    """`host` contacted us, so it is up: clear its parking and failures, make its waiting rows due.

    Called for every inbound activity, so it reads first and writes only when there is
    something to undo. Returns whether it did.
    """
    now = now or datetime.now(UTC)
    async with database.session() as session:
        known = await session.get(Host, host)
    if known is None or (known.parked_until is None and known.consecutive_failures == 0):
        return False
    async with database.transaction() as session:
        # Host first, then its deliveries: the order every writer here takes them in.
        await session.execute(_update(Host).where(Host.host == host)
                              .values(parked_until=None, consecutive_failures=0))
        await session.execute(
            _update(Delivery)
            .where(Delivery.host == host, Delivery.state == "pending", Delivery.next_attempt_at > now)
            .values(next_attempt_at=now))
    return True


class HostRevivals:
    """The inbox's side of parking: every accepted activity tells us its host is up (`heard_from`).

    Busy hosts send many activities a second and are nearly always healthy, so a host found
    healthy is not read again for `HOST_STATE_TTL`; a host that fails in that second is unparked
    by the next activity it sends after it, as the delivery worker reads a healthy host's row.
    """

    def __init__(self, database: Database, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._database = database
        self._monotonic = monotonic
        self._healthy: dict[str, float] = {}  # host → when it was found healthy (monotonic)

    async def heard_from(self, host: str, *, now: datetime | None = None) -> bool:
        """Unpark `host` if it is parked or failing; returns whether it was."""
        seen = self._monotonic()
        found = self._healthy.get(host)
        if found is not None and seen - found < HOST_STATE_TTL:
            return False
        revived = await unpark_host(self._database, host, now=now)
        if len(self._healthy) >= 10_000:
            self._healthy = {h: t for h, t in self._healthy.items() if seen - t < HOST_STATE_TTL}
        self._healthy[host] = seen
        return revived


class Verdict(enum.Enum):
    DELIVERED = "delivered"  # 2xx
    REFUSED = "refused"  # the host answered and will not take it: give up
    UNAVAILABLE = "unavailable"  # no usable answer now: retry, and count it against the host
    LOCAL_RETRY = "local retry"  # our side failed for now (a key we cannot open): retry
    UNSENDABLE = "unsendable"  # can never be sent from here: give up, the host is not to blame


@dataclass(frozen=True)
class Outcome:
    """What one attempt at a row came to."""

    verdict: Verdict
    detail: str = ""  # for `last_error`
    retry_after: timedelta | None = None
    accepts_rfc9421: bool | None = None  # what the attempt taught us about the host, if anything


@dataclass(frozen=True)
class _Answer:
    status: int
    retry_after: str | None
    excerpt: str


@dataclass(frozen=True)
class _Signer:
    key_id: str
    private_key: PrivateKeyTypes


class _HostGate:
    """This process's traffic to one host: its share of the concurrency, and one probe at a time."""

    def __init__(self, limit: int) -> None:
        self.slots = asyncio.Semaphore(limit)
        self.probe = asyncio.Lock()
        self.users = 0


def _refusal(status: int) -> bool:
    return not 200 <= status < 300 and status < 500 and status not in RETRYABLE_STATUSES


def _parked(host: Host | None, now: datetime) -> bool:
    return host is not None and host.parked_until is not None and host.parked_until > now


def _failing(host: Host | None) -> bool:
    return host is not None and host.consecutive_failures >= PARK_AFTER_FAILURES


def _address_refused(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, AddressRefused):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def _excerpt(response: httpx.Response) -> str:
    """The start of an error answer, on one printable line, for admins reading `last_error`."""
    data = b""
    async for chunk in response.aiter_raw():
        data += chunk
        if len(data) >= EXCERPT_BYTES:
            break
    text = data[:EXCERPT_BYTES].decode("utf-8", "replace")
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


class _Deliveries:
    """Marks rows delivered, the successes of the moment in one statement (`storage.batches`).

    `delivered` returns only once its row is written, and the caller holds its sending slots
    until then, so a `kill -9` still costs at most the requests in flight a second delivery.
    """

    def __init__(self, database: Database, clock: Callable[[], datetime]) -> None:
        self._database = database
        self._clock = clock
        self._batches: GroupWriter[int, None] = GroupWriter(self._mark)

    async def delivered(self, row_id: int) -> None:
        await self._batches.write(row_id)

    async def _mark(self, ids: list[int]) -> list[None]:
        # Written whatever became of the claim: the inbox has the activity either way.
        await self._database.write_once(
            _update(Delivery).where(Delivery.id.in_(ids))
            .values(state="delivered", delivered_at=self._clock(), last_error="", claimed_until=None,
                    attempts=Delivery.attempts + 1))
        return [None] * len(ids)


class DeliveryWorker:
    """Sends claimed deliveries through `client` (the guarded client; its timeouts bound each read, and
    `send_deadline`, in seconds, each request whole)."""

    def __init__(self, database: Database, keyring: KeyRing, client: httpx.AsyncClient, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), per_host_limit: int = 4,
                 concurrency: int = 64, batch: int = 200, max_age: timedelta = timedelta(days=2, hours=1),
                 lease: timedelta = LEASE, send_deadline: float = SEND_DEADLINE) -> None:
        self._database = database
        self._keyring = keyring
        self._client = client
        self._clock = clock
        self._per_host_limit = per_host_limit
        self._slots = asyncio.Semaphore(concurrency)
        self._batch = batch
        self._max_age = max_age
        self._lease = lease
        self._send_deadline = send_deadline
        self._gates: dict[str, _HostGate] = {}
        self._held: dict[int, Delivery] = {}  # claimed by run() and not yet settled
        self._signers: dict[int, _Signer] = {}
        self._wake = asyncio.Event()
        self._outage = OutageWait(log, "delivery worker")
        self._stopping = False
        self._healthy_hosts: dict[str, tuple[float, Host]] = {}  # host → (read at, monotonic; its row)
        self._deliveries = _Deliveries(database, clock)

    def notify(self) -> None:
        """New deliveries were committed: claim now rather than at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """Claim one batch and settle it; returns how many rows were attempted (not handed back)."""
        rows = await claim_due(self._database, limit=self._batch, now=self._clock(), lease=self._lease)
        return sum(await asyncio.gather(*(self._deliver(row) for row in rows)))

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, keeping up to `batch` rows in flight.

        No host holds more than `HOST_HOLD_ROUNDS × per_host_limit` rows (the ones being sent and
        one round waiting), so a slow host with thousands of rows due never fills the batch and
        healthy hosts keep being served. After a claim the loop claims again once a quarter of the
        batch is free if the claim filled the batch, or once a quarter of the rows in flight have
        finished if hosts were held back at their limit; otherwise (all that was due is taken)
        after `IDLE_WAIT` or at `notify()`. On stop, rows not yet sent are handed back.
        """
        in_flight: set[asyncio.Task[bool]] = set()
        refill_at = self._batch - max(1, self._batch // 4)  # claim when at most this many rows are in flight
        claim_at: int | None = None  # claim again when in flight drops to this; None: when woken or idle
        renewed_at = self._clock()
        try:
            while not stop.is_set():
                self._wake.clear()
                if len(in_flight) <= refill_at:
                    room = self._batch - len(in_flight)
                    rows, held_back = await self._claim(room)
                    in_flight.update(asyncio.create_task(self._deliver_held(row)) for row in rows)
                    if len(rows) == room:
                        claim_at = refill_at
                    elif held_back:
                        claim_at = len(in_flight) - max(1, len(in_flight) // 4)
                    else:
                        claim_at = None
                if await self._pause(stop, in_flight, claim_at) and claim_at is None:
                    claim_at = refill_at  # new rows: claim as soon as there is room
                in_flight = {task for task in in_flight if not task.done()}
                if self._clock() - renewed_at >= RENEW_EVERY:
                    await self._renew()
                    renewed_at = self._clock()
        finally:
            self._stopping = True
            try:
                await asyncio.gather(*in_flight)
            finally:
                self._stopping = False

    async def _claim(self, limit: int) -> tuple[list[Delivery], bool]:
        """Claim for the run loop, at most `HOST_HOLD_ROUNDS × per_host_limit` rows held per host;
        also says whether a host was held back at that limit (it may have more rows due)."""
        cap = HOST_HOLD_ROUNDS * self._per_host_limit
        held = Counter(row.host for row in self._held.values())
        try:
            rows = await claim_due(self._database, limit=limit, now=self._clock(), lease=self._lease,
                                   per_host=cap, held=held)
        except Exception as error:
            if is_unavailable(error):
                self._outage.failed(error)  # logged once per outage; the run loop's pause paces the retries
            else:
                log.exception("claiming deliveries failed; trying again shortly")
            return [], False
        self._outage.succeeded()
        for row in rows:
            held[row.host] += 1
            self._held[row.id] = row  # counted from the claim on, not from when its task starts
        return rows, any(count >= cap for count in held.values())

    async def _deliver_held(self, row: Delivery) -> bool:
        self._held[row.id] = row
        try:
            return await self._deliver(row)
        finally:
            self._held.pop(row.id, None)

    async def _renew(self) -> None:
        """Extend the leases of the rows still held, so a long wait for a slow host keeps them ours.

        Rows claimed together share one `claimed_until`; a row whose claim changed meanwhile (it
        was settled, or the lease ran out and another worker took it) is left alone.
        """
        by_lease: dict[datetime, list[Delivery]] = {}
        for row in self._held.values():
            if row.claimed_until is not None:
                by_lease.setdefault(row.claimed_until, []).append(row)
        until = self._clock() + self._lease
        for old, rows in by_lease.items():
            try:
                async with self._database.transaction() as session:
                    kept = (await session.execute(
                        _update(Delivery)
                        .where(Delivery.id.in_([row.id for row in rows]), Delivery.claimed_until == old,
                               Delivery.state == "pending")
                        .values(claimed_until=until).returning(Delivery.id))).scalars().all()
            except Exception as error:
                if is_unavailable(error):
                    self._outage.failed(error)
                else:
                    log.exception("renewing delivery claims failed; trying again shortly")
                return
            for row in rows:
                if row.id in kept and row.claimed_until == old:
                    row.claimed_until = until

    async def _pause(self, stop: asyncio.Event, in_flight: set[asyncio.Task[bool]], claim_at: int | None) -> bool:
        """Wait up to `IDLE_WAIT` until at most `claim_at` rows are in flight (if given), `notify()`
        or `stop`; returns whether `notify()` woke it."""
        woken = asyncio.create_task(self._wake.wait())
        waiters = {woken, asyncio.create_task(stop.wait())}
        deadline = time.monotonic() + IDLE_WAIT
        try:
            while True:
                busy = {task for task in in_flight if not task.done()} if claim_at is not None else set()
                left = deadline - time.monotonic()
                if (claim_at is not None and len(busy) <= claim_at) or left <= 0:
                    return False
                done, _ = await asyncio.wait(waiters | busy, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                if done & waiters:
                    return woken in done
        finally:
            for waiter in waiters:
                waiter.cancel()

    # --- one row ----------------------------------------------------------------------------

    async def _deliver(self, row: Delivery) -> bool:
        """Send one claimed row and record what came of it; False when it was handed back unsent."""
        try:
            async with self._host_gate(row.host) as gate:
                host = await self._host_state(row.host)
                if _failing(host):
                    # Just out of parking: one request at a time until the host answers again.
                    async with gate.probe:
                        host = await self._host_state(row.host)
                        if _failing(host):
                            return await self._attempt(row, host)
                return await self._attempt(row, host)
        except Exception as error:
            if is_unavailable(error):
                log.warning("delivery %s to %s: the database is unavailable; retried when its claim ends",
                            row.id, row.inbox_uri)
            else:
                log.exception("delivery %s to %s failed; retried when its claim ends", row.id, row.inbox_uri)
            return False

    @asynccontextmanager
    async def _host_gate(self, host: str) -> AsyncIterator[_HostGate]:
        gate = self._gates.setdefault(host, _HostGate(self._per_host_limit))
        gate.users += 1
        try:
            async with gate.slots:
                yield gate
        finally:
            gate.users -= 1
            if not gate.users:
                del self._gates[host]

    async def _host_state(self, host: str) -> Host | None:
        """The host's row; a healthy host's as read up to `HOST_STATE_TTL` ago by this worker (it
        is read before every request, and only a failure, which is always read fresh, changes it)."""
        cached = self._healthy_hosts.get(host)
        if cached is not None and time.monotonic() - cached[0] < HOST_STATE_TTL:
            return cached[1]
        async with self._database.session() as session:
            row = await session.get(Host, host)
        if row is not None and row.consecutive_failures == 0 and row.parked_until is None:
            self._healthy_hosts[host] = (time.monotonic(), row)
        else:
            self._healthy_hosts.pop(host, None)
        return row

    async def _attempt(self, row: Delivery, host: Host | None) -> bool:
        async with self._slots:  # taken after the host's slot: rows waiting for their host hold none
            now = self._clock()
            assert row.claimed_until is not None
            if now >= row.claimed_until:
                return False  # the lease ran out while waiting: the row may be another worker's now
            # `host` was read after taking the host's slot: at most `per_host_limit - 1` requests
            # may still go out after another one parked the host.
            if self._stopping or _parked(host, now):
                await self._hand_back(row)
                return False
            outcome = await self._send(row, host.accepts_rfc9421 if host else None)
            await self._record(row, outcome, host_known=host is not None)
            return True

    async def _signer(self, actor_id: int) -> _Signer | None:
        signer = self._signers.get(actor_id)
        if signer is None:
            async with self._database.session() as session:
                found = (await session.exec(
                    select(Actor.key_id, LocalKey.private_key_encrypted)
                    .join(LocalKey, LocalKey.actor_id == Actor.id).where(Actor.id == actor_id))).first()
            if found is None or not found[0]:
                return None
            key_id, sealed = found
            signer = self._signers[actor_id] = _Signer(key_id, self._keyring.open(actor_id, sealed))
        return signer

    async def _send(self, row: Delivery, accepts_rfc9421: bool | None) -> Outcome:
        try:
            signer = await self._signer(row.signer_id)
        except KeyUnavailable as error:
            return Outcome(Verdict.LOCAL_RETRY, str(error))
        if signer is None:
            return Outcome(Verdict.UNSENDABLE, f"actor {row.signer_id} has no key to sign with")
        body = row.body.encode("utf-8")
        try:
            if accepts_rfc9421 is False:
                return self._outcome(await self._post(row, body, signer, rfc9421=False))
            first = await self._post(row, body, signer, rfc9421=True)
            # A host that took RFC 9421 before gets cavage again only on a 401: it may have changed software.
            if _refusal(first.status) and (accepts_rfc9421 is None or first.status == 401):
                second = await self._post(row, body, signer, rfc9421=False)
                # Only the scheme changed: a different answer means the scheme mattered.
                return self._outcome(second, learned=False if second.status != first.status else None)
            learned = True if accepts_rfc9421 is None and 200 <= first.status < 300 else None
            return self._outcome(first, learned=learned)
        except (httpx.TimeoutException, TimeoutError):
            return Outcome(Verdict.UNAVAILABLE, "no answer in time")
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
            return Outcome(Verdict.UNSENDABLE, f"cannot send to this inbox: {error}")
        except httpx.TransportError as error:
            if _address_refused(error):
                return Outcome(Verdict.UNSENDABLE, f"the inbox address is refused: {error}")
            return Outcome(Verdict.UNAVAILABLE, f"connection failed: {type(error).__name__} {error}".strip())
        except ValueError as error:  # the signers refuse what cannot be written into a header
            return Outcome(Verdict.UNSENDABLE, f"cannot sign this request: {error}")

    async def _post(self, row: Delivery, body: bytes, signer: _Signer, *, rfc9421: bool) -> _Answer:
        sign = sign_rfc9421 if rfc9421 else sign_cavage
        headers = {"Content-Type": ACTIVITY_JSON, "Accept": ACTIVITY_JSON}
        headers.update(sign(method="POST", url=row.inbox_uri, body=body, key_id=signer.key_id,
                            private_key=signer.private_key, now=self._clock()))
        # Streamed: the answer's body is never read whole, only the start of an error's.
        async with (asyncio.timeout(self._send_deadline),
                    self._client.stream("POST", row.inbox_uri, content=body, headers=headers) as response):
            excerpt = "" if response.is_success else await _excerpt(response)
            return _Answer(response.status_code, response.headers.get("retry-after"), excerpt)

    def _outcome(self, answer: _Answer, *, learned: bool | None = None) -> Outcome:
        if 200 <= answer.status < 300:
            return Outcome(Verdict.DELIVERED, accepts_rfc9421=learned)
        detail = f"answered {answer.status}" + (f": {answer.excerpt}" if answer.excerpt else "")
        if _refusal(answer.status):
            return Outcome(Verdict.REFUSED, detail, accepts_rfc9421=learned)
        seconds = parse_retry_after(answer.retry_after, now=self._clock().timestamp())
        retry_after = min(RETRY_AFTER_CAP, timedelta(seconds=seconds)) if seconds else None
        return Outcome(Verdict.UNAVAILABLE, detail, retry_after=retry_after, accepts_rfc9421=learned)

    # --- recording --------------------------------------------------------------------------

    async def _hand_back(self, row: Delivery) -> None:
        """Let go of a claimed row unsent."""
        try:
            await self._database.write_once(_update(Delivery)
                                            .where(Delivery.id == row.id, Delivery.claimed_until == row.claimed_until)
                                            .values(claimed_until=None))
        except Exception as error:
            if is_unavailable(error):
                log.warning("handing back delivery %s: the database is unavailable; it returns when its claim ends",
                            row.id)
            else:
                log.exception("handing back delivery %s failed; it returns when its claim ends", row.id)

    async def _record(self, row: Delivery, outcome: Outcome, *, host_known: bool) -> None:
        """Record the row's outcome and the host's, in one small transaction (host first, then row).

        A plain success to a healthy host, stamped recently, leaves the host's row alone and is
        written with the other successes of the moment (`_Deliveries`); this returns once it is,
        as a `kill -9` must cost at most the requests in flight a second delivery (tests/faults).
        """
        now = self._clock()
        if (outcome.verdict is Verdict.DELIVERED and outcome.accepts_rfc9421 is None
                and self._stamped(row.host, now)):
            await self._deliveries.delivered(row.id)
            return
        self._healthy_hosts.pop(row.host, None)
        # A success is recorded whatever became of the claim; anything else only while our claim
        # stands, so a worker whose lease ran out cannot overwrite the next worker's claim.
        ours = true() if outcome.verdict is Verdict.DELIVERED else Delivery.claimed_until == row.claimed_until
        changes = self._row_changes(row, outcome, now)
        row_changes = _update(Delivery).where(Delivery.id == row.id, ours).values(**changes)
        async with self._database.transaction() as session:
            if outcome.verdict not in (Verdict.LOCAL_RETRY, Verdict.UNSENDABLE):
                if not host_known:
                    insert = sqlite_insert if self._database.is_sqlite else postgresql_insert
                    await session.execute(insert(Host).values(host=row.host, consecutive_failures=0)
                                          .on_conflict_do_nothing(index_elements=["host"]))
                await self._record_host(session, row.host, outcome, now)
            await session.execute(row_changes)

    def _stamped(self, host: str, now: datetime) -> bool:
        cached = self._healthy_hosts.get(host)
        stamp = cached[1].last_success_at if cached is not None else None
        return stamp is not None and now - stamp < SUCCESS_STAMP_INTERVAL

    def _row_changes(self, row: Delivery, outcome: Outcome, now: datetime) -> dict[str, object]:
        changes: dict[str, object] = {"claimed_until": None, "attempts": row.attempts + 1}
        if outcome.verdict is Verdict.DELIVERED:
            changes.update(state="delivered", delivered_at=now, last_error="")
        elif outcome.verdict in (Verdict.REFUSED, Verdict.UNSENDABLE):
            changes.update(state="gave_up", last_error=outcome.detail)
        elif now - row.created_at >= self._max_age:
            changes.update(state="gave_up", last_error=f"gave up after {self._max_age}: {outcome.detail}")
        else:
            delay = max(retry_delay(row.attempts + 1), outcome.retry_after or timedelta())
            changes.update(next_attempt_at=now + delay, last_error=outcome.detail)
        return changes

    async def _record_host(self, session: AsyncSession, host: str, outcome: Outcome, now: datetime) -> None:
        if outcome.accepts_rfc9421 is not None:
            await session.execute(_update(Host).where(Host.host == host)
                                  .values(accepts_rfc9421=outcome.accepts_rfc9421))
        if outcome.verdict is Verdict.UNAVAILABLE:
            await self._count_failure(session, host, outcome, now)
            return
        # The host answered: it is up. A success also stamps it, at most once a minute.
        changed = or_(Host.consecutive_failures != 0, Host.parked_until.is_not(None))
        values: dict[str, object] = {"consecutive_failures": 0, "parked_until": None}
        if outcome.verdict is Verdict.DELIVERED:
            changed = or_(changed, Host.last_success_at.is_(None),
                          Host.last_success_at < now - SUCCESS_STAMP_INTERVAL)
            values["last_success_at"] = now
        await session.execute(_update(Host).where(Host.host == host, changed).values(**values))

    async def _count_failure(self, session: AsyncSession, host: str, outcome: Outcome, now: datetime) -> None:
        # Failures of requests sent before the host was parked do not count again.
        counted = (await session.execute(
            _update(Host).where(Host.host == host, or_(Host.parked_until.is_(None), Host.parked_until <= now))
            .values(consecutive_failures=Host.consecutive_failures + 1, last_failure_at=now)
            .returning(Host.consecutive_failures))).scalar_one_or_none()
        until = None
        if counted is not None and counted >= PARK_AFTER_FAILURES:
            until = now + park_interval(counted)
            log.info("host %s parked until %s after %d failures", host, until.isoformat(), counted)
            # A host that stays down does not keep its rows forever (checklist R5).
            await session.execute(
                _update(Delivery)
                .where(Delivery.host == host, Delivery.state == "pending",
                       Delivery.created_at <= now - self._max_age, _claimable(now))
                .values(state="gave_up", claimed_until=None,
                        last_error=f"gave up after {self._max_age}: {host} is parked ({outcome.detail})"))
        if outcome.retry_after:  # the host said when to come back: all its rows wait, not only this one
            until = max(until or now, now + outcome.retry_after)
        if until is not None:
            later = or_(Host.parked_until.is_(None), Host.parked_until < until)
            await session.execute(_update(Host).where(Host.host == host, later).values(parked_until=until))
