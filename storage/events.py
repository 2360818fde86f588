"""Stream events: small notices that something changed, published at commit, heard by every process.

An event says what changed, never what it looks like: `status.created 123`, `notification 456
for actor 7`. Each streaming connection renders it for its own viewer with the client API's
code, so a stream can carry nothing its viewer could not fetch.

    kind               id                    actor_id
    status.created     the status            -
    status.updated     the status            -
    status.deleted     the status            -
    notification       the notification      its recipient
    filters_changed    -                     the filters' owner
    token.revoked      the access token      -
    account.closed     -                     the local actor whose login was disabled

Where they travel:

- PostgreSQL: a `NOTIFY rounds_stream` issued inside the writing transaction, so it is
  delivered at commit, never for a transaction rolled back, to every process that LISTENs
  (the web processes holding streams), whichever process wrote it: a web process or a
  `rounds worker`. A process starts listening when its first stream opens.
- SQLite: kept on the session and handed to this process's hub after commit. One process.

Statuses, tokens, logins and filters are watched on flush (`StreamingSession`), so every
code path that changes them publishes without knowing about streams; notifications are
inserted with plain SQL and publish explicitly (`publish`).

Each subscriber has a bounded queue. A subscriber that falls behind is not waited for: its
queue is emptied and it is told it overflowed (`Overflowed`), and it should disconnect.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, inspect, select
from sqlalchemy.engine import make_url
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.tables import Filter, FilterKeyword, FilterStatus, OAuthAccessToken, Status, User

log = logging.getLogger("rounds.events")

CHANNEL = "rounds_stream"
HUB_KEY = "rounds.event_hub"
_PENDING_KEY = "rounds.pending_events"
_CALLBACKS_KEY = "rounds.after_commit"
LISTEN_READY_TIMEOUT = 10.0
RECONNECT_DELAY = 1.0


@dataclass(frozen=True)
class StreamEvent:
    kind: str
    id: int | None = None
    actor_id: int | None = None

    def encode(self) -> str:
        return json.dumps([self.kind, self.id, self.actor_id], separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> StreamEvent | None:
        try:
            kind, event_id, actor_id = json.loads(text)
        except (ValueError, TypeError):
            return None
        if not isinstance(kind, str):
            return None
        return cls(kind=kind, id=event_id, actor_id=actor_id)


class Overflowed(Exception):
    """The subscriber fell further behind than its buffer allows."""


class Ended(Exception):
    """The hub ended every subscription: the process is shutting down."""


_OVERFLOW = StreamEvent("overflow")
_END = StreamEvent("end")


class Subscription:
    """One stream's view of the hub: a bounded queue of events."""

    def __init__(self, hub: EventHub, limit: int) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[StreamEvent] = asyncio.Queue(maxsize=limit + 1)  # +1: room for the overflow mark
        self._limit = limit
        self.overflowed = asyncio.Event()

    def offer(self, item: StreamEvent) -> None:
        if self.overflowed.is_set():
            return
        if self._queue.qsize() >= self._limit:
            while not self._queue.empty():  # what it has not read is dropped, not kept
                self._queue.get_nowait()
            self._queue.put_nowait(_OVERFLOW)
            self.overflowed.set()
            self._hub.unsubscribe(self)
            return
        self._queue.put_nowait(item)

    def end(self) -> None:
        if self.overflowed.is_set():
            return
        while self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(_END)
        self._hub.unsubscribe(self)

    async def get(self) -> StreamEvent:
        """The next event; raises Overflowed once the subscriber fell behind, Ended once the
        hub ended it."""
        item = await self._queue.get()
        if item is _OVERFLOW:
            raise Overflowed()
        if item is _END:
            raise Ended()
        return item

    def close(self) -> None:
        self._hub.unsubscribe(self)


class EventHub:
    """This process's end of the event stream: fans events out to its subscribers.

    `listen_url` (PostgreSQL) makes it LISTEN on a connection of its own once someone subscribes.
    """

    def __init__(self, listen_url: str | None = None) -> None:
        self._listen_url = listen_url
        self._subscribers: set[Subscription] = set()
        self._listener: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def subscribe(self, limit: int) -> Subscription:
        """A new subscription. On PostgreSQL, returns once LISTEN is in force, so no event
        committed after this returns is missed (raises TimeoutError if it cannot listen)."""
        if self._listen_url is not None:
            await self._ensure_listening()
        subscription = Subscription(self, limit)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def end_all(self) -> None:
        """End every subscription (a server shutting down ends its streams, which never end
        by themselves)."""
        for subscription in list(self._subscribers):
            subscription.end()

    def deliver(self, item: StreamEvent) -> None:
        for subscription in list(self._subscribers):
            subscription.offer(item)

    async def _ensure_listening(self) -> None:
        if self._listener is None or self._listener.done():
            self._ready = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(self._ready))
        assert self._ready is not None
        await asyncio.wait_for(self._ready.wait(), LISTEN_READY_TIMEOUT)

    async def _listen(self, ready: asyncio.Event) -> None:
        """Hold a LISTEN connection, reconnecting when it drops."""
        import asyncpg  # only a PostgreSQL instance listens; SQLite ones never load the driver

        assert self._listen_url is not None
        url = make_url(self._listen_url).set(drivername="postgresql").render_as_string(hide_password=False)

        def heard(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
            item = StreamEvent.decode(payload)
            if item is not None:
                self.deliver(item)

        while not self._closed:
            lost = asyncio.Event()
            try:
                connection = await asyncpg.connect(url)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("cannot listen for stream events: %s", error)
                await asyncio.sleep(RECONNECT_DELAY)
                continue
            try:
                connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
                await connection.add_listener(CHANNEL, heard)
                ready.set()
                await lost.wait()
                # Events may have been missed: end the streams, so their clients reconnect and
                # catch up through the REST API (as Mastodon apps do) instead of silently missing some.
                log.warning("the stream events connection was lost; ending streams and reconnecting")
                ready.clear()
                self.end_all()
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("stream events connection failed: %s", error)
            finally:
                if not connection.is_closed():
                    await connection.close()
            await asyncio.sleep(RECONNECT_DELAY)

    async def close(self) -> None:
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing, whatever it died of
                pass
            self._listener = None


# --- publishing, from inside a transaction ---------------------------------------------------

def _emit(session: Session, items: Iterable[StreamEvent]) -> None:
    items = list(items)
    if not items or HUB_KEY not in session.info:
        return
    if session.get_bind().dialect.name == "postgresql":
        connection = session.connection()
        for item in items:
            connection.execute(select(func.pg_notify(CHANNEL, item.encode())))
    else:
        session.info.setdefault(_PENDING_KEY, []).extend(items)


async def publish(session: AsyncSession, *items: StreamEvent) -> None:
    """Publish `items` when (and only if) the session's transaction commits."""
    await session.run_sync(_emit, items)


def _changed(instance: Any, *names: str) -> bool:
    state = inspect(instance)
    return any(state.attrs[name].history.has_changes() for name in names)


def _watched(session: Session) -> list[StreamEvent]:
    """What this flush changed that streams care about."""
    found: list[StreamEvent] = []
    owners: set[int] = set()
    filter_ids: set[int] = set()
    for instance in session.new:
        if isinstance(instance, Status) and instance.deleted_at is None:
            found.append(StreamEvent("status.created", instance.id))
    for instance in session.dirty:
        if not session.is_modified(instance):
            continue
        if isinstance(instance, Status):
            if _changed(instance, "deleted_at") and instance.deleted_at is not None:
                found.append(StreamEvent("status.deleted", instance.id))
            elif instance.deleted_at is None and _changed(instance, "edited_at", "content", "summary", "sensitive"):
                found.append(StreamEvent("status.updated", instance.id))
        elif isinstance(instance, OAuthAccessToken) and instance.revoked_at is not None \
                and _changed(instance, "revoked_at"):
            found.append(StreamEvent("token.revoked", instance.id))
        elif isinstance(instance, User) and (instance.disabled or not instance.approved) \
                and _changed(instance, "disabled", "approved"):
            found.append(StreamEvent("account.closed", actor_id=instance.actor_id))
    for instance in [*session.new, *session.dirty, *session.deleted]:
        if isinstance(instance, Filter):
            owners.add(instance.actor_id)
        elif isinstance(instance, FilterKeyword | FilterStatus):
            filter_ids.add(instance.filter_id)
    for instance in session.deleted:
        if isinstance(instance, OAuthAccessToken):
            found.append(StreamEvent("token.revoked", instance.id))
    if filter_ids:
        rows = session.connection().execute(select(Filter.actor_id).where(Filter.id.in_(filter_ids)))  # type: ignore[attr-defined]
        owners.update(row[0] for row in rows)
    found.extend(StreamEvent("filters_changed", actor_id=owner) for owner in sorted(owners))
    return found


class StreamingSession(Session):
    """The sync session behind every `Database` session: publishes what its flushes change."""


@event.listens_for(StreamingSession, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    if HUB_KEY in session.info:
        _emit(session, _watched(session))


def call_after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Call `callback` in this process when (and only if) the session's transaction commits."""
    session.sync_session.info.setdefault(_CALLBACKS_KEY, {})[callback] = None


@event.listens_for(StreamingSession, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    hub = session.info.get(HUB_KEY)
    if pending and hub is not None:
        for item in pending:
            hub.deliver(item)
    for callback in session.info.pop(_CALLBACKS_KEY, {}):
        callback()


@event.listens_for(StreamingSession, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
    session.info.pop(_CALLBACKS_KEY, None)
