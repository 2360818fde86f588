"""Telling "the database cannot be reached" apart from "this statement failed".

An outage (PostgreSQL restarting, the network to it down, every pooled connection busy) is
transient: a request answers 503 and the client tries again, a worker waits and resumes,
and nothing about the work itself is judged. Any other database error is a bug or bad data
and is treated as one. What counts as an outage:

- `DatabaseUnavailable`: opening a connection failed (refused, reset, timed out, the server
  starting up or shutting down). asyncpg raises these raw, not as DBAPI errors, so the
  engine's connect hook (`translate_connect_errors`) gives them this one name.
- a `DBAPIError` whose connection was invalidated: the connection died under a statement.
- `sqlalchemy.exc.TimeoutError`: no pooled connection came free in time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

# Seconds a worker waits after a pass failed for an outage: doubling from the first to the last.
OUTAGE_WAIT_FIRST = 0.5
OUTAGE_WAIT_CAP = 5.0


class DatabaseUnavailable(Exception):
    """No connection to the database could be opened; try again shortly."""


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` means the database could not be reached (see the module docstring)."""
    if isinstance(error, DatabaseUnavailable | PoolTimeout):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def describe(error: BaseException) -> str:
    """The driver's own words, without the statement and its parameters (they may hold what people wrote)."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    return f"{type(cause).__name__}: {cause}"


# SQLSTATEs of a server that will not take a connection now: class 08 (connection exception),
# too many connections, shutting down or starting up. By code, so SQLite never loads asyncpg.
_TRANSIENT_SQLSTATES = frozenset({"08000", "08001", "08003", "08004", "08006", "53300", "57P01", "57P02", "57P03"})


def _connect_failed(error: Exception) -> bool:
    return isinstance(error, OSError | TimeoutError) or getattr(error, "sqlstate", None) in _TRANSIENT_SQLSTATES


def translate_connect_errors(engine: AsyncEngine) -> None:
    """Make a failed connect (PostgreSQL) raise `DatabaseUnavailable` instead of a raw OSError or asyncpg error."""

    def connect(dialect: Any, _record: Any, cargs: tuple, cparams: dict) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as error:
            if not _connect_failed(error):
                raise
            raise DatabaseUnavailable(f"cannot connect to the database: {type(error).__name__}: {error}") from error

    event.listen(engine.sync_engine, "do_connect", connect)


class OutageWait:
    """A worker's pause after a pass failed for an outage: growing from `OUTAGE_WAIT_FIRST` to
    `OUTAGE_WAIT_CAP`, so a long outage costs a query every few seconds and a short one is
    over soon after the database is back. Logs one warning per outage, not one per pass."""

    def __init__(self, log: logging.Logger, worker: str) -> None:
        self._log = log
        self._worker = worker
        self._next = 0.0

    @property
    def in_outage(self) -> bool:
        return self._next > 0

    def failed(self, error: BaseException) -> float:
        """Seconds to wait before the next pass."""
        if not self.in_outage:
            self._log.warning("the database is unavailable; the %s waits and retries (%s)", self._worker,
                              describe(error))
            self._next = OUTAGE_WAIT_FIRST
        wait, self._next = self._next, min(OUTAGE_WAIT_CAP, self._next * 2)
        return wait

    def succeeded(self) -> None:
        if self.in_outage:
            self._log.warning("the database is reachable again; the %s resumes", self._worker)
            self._next = 0.0

    async def pause(self, stop: asyncio.Event, error: BaseException) -> None:
        """Wait after a failed pass, or until `stop` is set."""
        try:
            await asyncio.wait_for(stop.wait(), timeout=self.failed(error))
        except TimeoutError:
            pass
