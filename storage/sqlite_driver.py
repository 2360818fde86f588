"""SQLite for the async engine in one trip to the connection's thread per statement.

aiosqlite gives each connection a thread of its own, and SQLAlchemy's adapter for it makes
four trips there for every statement (make a cursor, execute, fetch the rows, close the
cursor): each a queue put, a thread wake-up and a call back into the event loop. Measured
here (`bench`, 2 cores): a one-row SELECT through a session cost about 1.1 ms, of which
sqlite3 itself took 9 µs; a page of the home timeline runs a dozen such statements. This
adapter does the four steps in one trip and keeps the rows, the description, the row count
and the last row id it brought back; everything else (connections, transactions, pooling,
the dialect's SQL) is SQLAlchemy's `sqlite+aiosqlite`, subclassed.

It reaches two private names of aiosqlite (`Connection._execute`, which queues a function for
the connection's thread, and `Connection._conn`, the sqlite3 connection, read in that thread),
so pyproject.toml pins aiosqlite below the next minor release; `tests/storage` checks that an
engine uses this dialect and that statements make one trip.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
    SQLiteExecutionContext_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT

from storage.engine import COMMIT_AT_ONCE

_Answer = tuple[Any, int, Any, list[Any]]  # description, rowcount, lastrowid, rows


def _execute(connection: Any, operation: str, parameters: Any, commit: bool) -> _Answer:
    """In the connection's thread: the whole of one statement, and its commit when asked."""
    cursor: sqlite3.Cursor = connection._conn.cursor()
    try:
        cursor.execute(operation, parameters if parameters is not None else ())
        rows = cursor.fetchall() if cursor.description else []
        answer = cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()
    if commit:
        connection._conn.commit()
    return answer


def _executemany(connection: Any, operation: str, seq_of_parameters: Any) -> _Answer:
    cursor: sqlite3.Cursor = connection._conn.cursor()
    try:
        cursor.executemany(operation, seq_of_parameters)
        return cursor.description, cursor.rowcount, cursor.lastrowid, []
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor that holds one statement's answer; it has no aiosqlite cursor behind it."""

    __slots__ = ("_description", "_rowcount", "_lastrowid", "commit_at_once")

    def __init__(self, adapt_connection: Any) -> None:  # no trip: the base class makes a cursor here
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: Any = None
        self.commit_at_once = False  # set by the execution context for `COMMIT_AT_ONCE` statements

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        pass

    def close(self) -> None:
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            answer = await self._connection._execute(_execute, self._connection, operation, parameters,
                                                     self.commit_at_once)
        self._description, self._rowcount, self._lastrowid, rows = answer
        self._rows = collections.deque(rows)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            answer = await self._connection._execute(_executemany, self._connection, operation, seq_of_parameters)
        self._description, self._rowcount, self._lastrowid, _ = answer
        self._rows = collections.deque()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """Commits and rolls back only when a transaction is open: sqlite3 does nothing otherwise,
    and a session that only read has none (sqlite3 begins one before the first write), yet
    closing it asks for two rollbacks (the session's and the pool's), each a trip."""

    __slots__ = ()
    _cursor_cls = OneTripCursor

    def _in_transaction(self) -> bool:
        # Read from the event loop's thread (hence check_same_thread=False below): the connection
        # is used by one task at a time, so nothing runs on it in its own thread meanwhile.
        raw = self._connection._connection
        return raw is not None and raw.in_transaction

    def rollback(self) -> None:
        if self._in_transaction():
            super().rollback()

    def commit(self) -> None:
        if self._in_transaction():
            super().commit()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        kw["check_same_thread"] = False
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


class OneTripExecutionContext(SQLiteExecutionContext_aiosqlite):
    def create_default_cursor(self) -> Any:
        cursor = super().create_default_cursor()
        if self.execution_options.get(COMMIT_AT_ONCE) and isinstance(cursor, OneTripCursor):
            cursor.commit_at_once = True
        return cursor


class OneTripDialect(SQLiteDialect_aiosqlite):
    driver = "roundsqlite"
    supports_statement_cache = True
    execution_ctx_cls = OneTripExecutionContext

    @classmethod
    def import_dbapi(cls) -> OneTripDBAPI:  # type: ignore[override]
        import aiosqlite

        return OneTripDBAPI(aiosqlite, sqlite3)

