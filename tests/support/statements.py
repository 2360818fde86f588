"""Counting the SQL statements a piece of code sends (to show what is done in one statement)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from storage.engine import Database


@contextmanager
def statements_sent(database: Database, starting: str = "") -> Iterator[list[str]]:
    """The statements `database` sends inside the block, those starting with `starting` (case aside)."""
    sent: list[str] = []
    prefix = starting.upper()

    def seen(_connection, _cursor, statement: str, *_rest) -> None:
        if statement.lstrip().upper().startswith(prefix):
            sent.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)
