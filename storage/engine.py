"""The database: an async engine and its sessions, on SQLite (WAL) or PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Executable, Result, event
from sqlalchemy.dialects import registry
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.availability import translate_connect_errors
from storage.events import HUB_KEY, EventHub, StreamingSession

# `storage.sqlite_driver`, loaded by SQLAlchemy when the first SQLite engine is made: a process
# on PostgreSQL never imports sqlite3 or aiosqlite.
DRIVER = "sqlite+roundsqlite"
registry.register("sqlite.roundsqlite", "storage.sqlite_driver", "OneTripDialect")
# An execution option: commit in the same trip as the statement runs (`Database.write_once`).
COMMIT_AT_ONCE = "rounds_commit_at_once"

ASYNC_DRIVERS = {"sqlite": DRIVER, "postgresql": "postgresql+asyncpg",
                 "postgres": "postgresql+asyncpg"}
# asyncpg waits a minute by default for a server that does not answer; a request should not.
CONNECT_TIMEOUT = 10.0


def async_url(url: str) -> str:
    """`sqlite:///x.db` → `sqlite+roundsqlite:///x.db` (`storage.sqlite_driver`); `postgresql://…` → `postgresql+asyncpg://…`."""
    parsed = make_url(url)
    backend = parsed.drivername.split("+", 1)[0]
    if backend not in ASYNC_DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.set(drivername=ASYNC_DRIVERS[backend]).render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never wait for the writer. NORMAL is durable across application
    # crashes (kill -9); only an OS crash may lose the last transactions.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """One engine and its session factory; made once at start and passed down.

    `events` is this process's stream event hub: what sessions publish reaches it (through
    PostgreSQL LISTEN/NOTIFY, or in process on SQLite)."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = async_url(url)
        if make_url(self.url).get_backend_name() == "postgresql":
            engine_options.setdefault("connect_args", {"timeout": CONNECT_TIMEOUT})
        self.engine: AsyncEngine = create_async_engine(self.url, **engine_options)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            # A failed connect raises DatabaseUnavailable. A pooled connection the server dropped needs
            # no ping per checkout: the first error on it invalidates the whole pool.
            translate_connect_errors(self.engine)
        self.events = EventHub(listen_url=None if self.is_sqlite else self.url)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False,
            sync_session_class=StreamingSession, info={HUB_KEY: self.events},
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits at the end of the block, or rolls back on error."""
        async with self._sessions() as session, session.begin():
            yield session

    async def write_once(self, statement: Executable) -> Result[Any]:
        """`statement` in a transaction of its own. On SQLite it commits in the same trip to the
        connection's thread as it runs, so the database's one write lock is held only while it
        runs, not until the event loop, busy with other requests, comes round to the COMMIT
        (other writers wait meanwhile, sleeping in SQLite's busy handler)."""
        async with self.transaction() as session:
            return await session.execute(statement.execution_options(**{COMMIT_AT_ONCE: True}))

    async def dispose(self) -> None:
        await self.events.close()
        await self.engine.dispose()
