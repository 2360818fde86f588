"""The delivery worker: claim due deliveries, sign at send time, POST, record the outcome.

- 2xx: delivered. 5xx, 429 (honouring Retry-After), timeouts and connection errors: retried
  with exponential backoff and jitter until `max_age` (two days and an hour), then given up.
  Any other 4xx: given up at once.
- A host that keeps failing is parked: its rows are not claimed until `parked_until`, so a
  dead host cannot hold workers; it resumes then (one probe), or at once when it contacts us
  (`unpark_host`).
- Signature scheme per host: RFC 9421 first on a host we have not talked to, draft-cavage on
  a 4xx answer to it; the answer is remembered in `hosts.accepts_rfc9421`.
- Claims are leases: a killed worker's rows come back when the lease ends. A crash between a
  2xx and recording it may send that row once more; receivers dedupe by activity id.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from actors.keys import KeyRing
from federation.fetch import parse_retry_after
from federation.httpsig import sign_cavage, sign_rfc9421
from storage.engine import Database
from storage.tables import Actor, Delivery, Host, LocalKey

log = logging.getLogger("rounds.delivery")

BACKOFF_BASE = 30.0
BACKOFF_CAP = 6 * 3600.0
PARK_AFTER_FAILURES = 5
PARK_BASE = timedelta(minutes=5)
PARK_CAP = timedelta(hours=6)


def backoff(attempts: int) -> float:
    """Seconds before retry number `attempts` (1-based): exponential, capped, with full jitter."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempts - 1))
    return random.uniform(ceiling / 2, ceiling)


async def claim_due(database: Database, *, limit: int, now: datetime, lease: timedelta) -> list[Delivery]:
    """Claim up to `limit` due rows of unparked hosts; several workers never get the same row."""
    parked = select(Host.host).where(Host.parked_until > now)
    due = (
        select(Delivery.id)
        .where(Delivery.state == "pending", Delivery.next_attempt_at <= now,
               or_(Delivery.claimed_until.is_(None), Delivery.claimed_until <= now),
               Delivery.host.not_in(parked))
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    )
    if not database.is_sqlite:
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()),
               or_(Delivery.claimed_until.is_(None), Delivery.claimed_until <= now))
        .values(claimed_until=now + lease)
        .returning(Delivery)
    )
    async with database.transaction() as session:
        rows = (await session.execute(statement)).scalars().all()
    return list(rows)


async def unpark_host(database: Database, host: str) -> None:
    """The host contacted us: it is alive, so make its waiting deliveries due now."""
    now = datetime.now(UTC)
    async with database.transaction() as session:
        result = await session.execute(
            update(Host).where(Host.host == host, Host.parked_until.is_not(None))
            .values(parked_until=None, consecutive_failures=0))
        if result.rowcount:
            await session.execute(
                update(Delivery).where(Delivery.host == host, Delivery.state == "pending")
                .values(next_attempt_at=now))


class DeliveryWorker:
    def __init__(self, database: Database, keyring: KeyRing, client: httpx.AsyncClient, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), per_host_limit: int = 4,
                 concurrency: int = 64, batch: int = 200, max_age: timedelta = timedelta(days=2, hours=1),
                 lease: timedelta = timedelta(minutes=5)) -> None:
        self._database = database
        self._keyring = keyring
        self._client = client
        self._clock = clock
        self._per_host_limit = per_host_limit
        self._concurrency = asyncio.Semaphore(concurrency)
        self._host_limits: dict[str, asyncio.Semaphore] = {}
        self._batch = batch
        self._max_age = max_age
        self._lease = lease
        self._signers: dict[int, str] = {}
        self._wake = asyncio.Event()

    def notify(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        rows = await claim_due(self._database, limit=self._batch, now=self._clock(), lease=self._lease)
        if rows:
            await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                worked = await self.run_once()
            except Exception:
                log.exception("delivery pass failed; retrying")
                worked = 0
            if worked:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            except TimeoutError:
                pass

    async def _signer(self, signer_id: int):
        async with self._database.session() as session:
            key_id = self._signers.get(signer_id)
            if key_id is None:
                actor = await session.get(Actor, signer_id)
                assert actor is not None and actor.key_id
                key_id = self._signers[signer_id] = actor.key_id
            sealed = await session.get(LocalKey, signer_id)
        assert sealed is not None
        return key_id, self._keyring.open(signer_id, sealed.private_key_encrypted)

    async def _accepts_rfc9421(self, host: str) -> bool | None:
        async with self._database.session() as session:
            known = await session.get(Host, host)
        return None if known is None else known.accepts_rfc9421

    async def _post(self, row: Delivery, key_id: str, private_key, rfc9421: bool) -> httpx.Response:
        body = row.body.encode("utf-8")
        sign = sign_rfc9421 if rfc9421 else sign_cavage
        headers = sign(method="POST", url=row.inbox_uri, body=body, key_id=key_id, private_key=private_key,
                       now=self._clock())
        headers.update({"Content-Type": "application/activity+json", "Accept": "application/activity+json"})
        return await self._client.post(row.inbox_uri, content=body, headers=headers)

    async def _deliver(self, row: Delivery) -> None:
        limit = self._host_limits.setdefault(row.host, asyncio.Semaphore(self._per_host_limit))
        async with self._concurrency, limit:
            scheme_learned: bool | None = None
            try:
                key_id, private_key = await self._signer(row.signer_id)
                accepts = await self._accepts_rfc9421(row.host)
                response = await self._post(row, key_id, private_key, rfc9421=accepts is not False)
                if accepts is None:
                    if 400 <= response.status_code < 500 and response.status_code != 429:
                        scheme_learned = False
                        response = await self._post(row, key_id, private_key, rfc9421=False)
                    elif response.is_success:
                        scheme_learned = True
                error = None
                retry_after = parse_retry_after(response.headers.get("retry-after"), now=self._clock().timestamp())
                status = response.status_code
            except httpx.TransportError as exc:
                error, retry_after, status = f"{type(exc).__name__}: {exc}", None, None
            except Exception as exc:  # a bug must not lose the row: it is retried later
                log.exception("delivery %s failed", row.id)
                error, retry_after, status = f"{type(exc).__name__}: {exc}", None, None
            await self._record(row, status, error, retry_after, scheme_learned)

    async def _record(self, row: Delivery, status: int | None, error: str | None, retry_after: float | None,
                      scheme_learned: bool | None) -> None:
        now = self._clock()
        delivered = status is not None and 200 <= status < 300
        retryable = status is None or status == 429 or status >= 500
        values: dict = {"claimed_until": None, "attempts": row.attempts + 1}
        if delivered:
            values.update(state="delivered", delivered_at=now, last_error="")
        elif not retryable:
            values.update(state="gave_up", last_error=f"answered {status}")
        elif now - row.created_at > self._max_age:
            values.update(state="gave_up", last_error=f"gave up after {self._max_age}: {error or status}")
        else:
            delay = max(backoff(row.attempts + 1), retry_after or 0.0)
            values.update(next_attempt_at=now + timedelta(seconds=delay), last_error=error or f"answered {status}")
        async with self._database.transaction() as session:
            await session.execute(update(Delivery).where(Delivery.id == row.id).values(**values))
            await self._record_host(session, row.host, now, healthy=delivered or not retryable,
                                    scheme_learned=scheme_learned)

    async def _record_host(self, session, host: str, now: datetime, *, healthy: bool,
                           scheme_learned: bool | None) -> None:
        insert = sqlite_insert if self._database.is_sqlite else postgresql_insert
        await session.execute(insert(Host).values(host=host, consecutive_failures=0)
                              .on_conflict_do_nothing(index_elements=["host"]))
        known = (await session.execute(select(Host).where(Host.host == host).with_for_update())).scalar_one()
        if scheme_learned is not None:
            known.accepts_rfc9421 = scheme_learned
        if healthy:
            known.consecutive_failures = 0
            known.parked_until = None
            known.last_success_at = now
        else:
            known.consecutive_failures += 1
            known.last_failure_at = now
            if known.consecutive_failures >= PARK_AFTER_FAILURES:
                steps = known.consecutive_failures - PARK_AFTER_FAILURES
                known.parked_until = now + min(PARK_CAP, PARK_BASE * 2 ** min(steps, 10))
        session.add(known)



