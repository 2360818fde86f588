"""`storage.sqlite_driver`: SQLite statements in one trip to the connection's thread, and no trip
to commit or roll back when nothing was written; transactions behave as before."""

from collections.abc import AsyncIterator

import aiosqlite.core
import pytest
from sqlalchemy import exc, text

from storage.engine import Database
from storage.sqlite_driver import OneTripDialect


@pytest.fixture
async def sqlite(tmp_path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'driver.db'}")
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT UNIQUE NOT NULL)"))
    yield database
    await database.dispose()


@pytest.fixture
def trips(monkeypatch) -> list[str]:
    """The functions queued for aiosqlite's connection threads, in order."""
    queued: list[str] = []
    original = aiosqlite.core.Connection._execute

    async def counted(self, fn, *args, **kwargs):
        queued.append(fn.__name__)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)
    return queued


async def bodies(database: Database) -> list[str]:
    async with database.session() as session:
        return list((await session.execute(text("SELECT body FROM notes ORDER BY id"))).scalars())


async def test_an_engine_made_for_a_sqlite_url_uses_the_one_trip_dialect(sqlite: Database):
    assert isinstance(sqlite.engine.dialect, OneTripDialect)


async def test_a_session_that_reads_makes_one_trip_and_one_that_writes_commits(sqlite: Database, trips):
    async with sqlite.transaction() as session:
        await session.execute(text("INSERT INTO notes (body) VALUES ('ward round at 9')"))
    assert trips == ["_execute", "commit"]

    trips.clear()
    assert await bodies(sqlite) == ["ward round at 9"]
    assert trips == ["_execute"]  # the statement; no commit, no rollbacks


async def test_rows_counts_and_ids_come_back(sqlite: Database):
    async with sqlite.transaction() as session:
        inserted = await session.execute(text("INSERT INTO notes (body) VALUES ('a')"))
        assert inserted.lastrowid == 1
        await session.execute(text("INSERT INTO notes (body) VALUES (:body)"), [{"body": "b"}, {"body": "c"}])
        returned = await session.execute(text("INSERT INTO notes (body) VALUES ('d') RETURNING id, body"))
        assert returned.all() == [(4, "d")]
        changed = await session.execute(text("UPDATE notes SET body = body || '!' WHERE id > 1"))
        assert changed.rowcount == 3
    assert await bodies(sqlite) == ["a", "b!", "c!", "d!"]


async def test_a_failed_transaction_leaves_nothing_and_raises_the_databases_error(sqlite: Database):
    with pytest.raises(exc.IntegrityError):
        async with sqlite.transaction() as session:
            await session.execute(text("INSERT INTO notes (body) VALUES ('kept?')"))
            await session.execute(text("INSERT INTO notes (body) VALUES ('kept?')"))  # UNIQUE
    with pytest.raises(RuntimeError):
        async with sqlite.transaction() as session:
            await session.execute(text("INSERT INTO notes (body) VALUES ('rolled back')"))
            raise RuntimeError("the handler failed")
    assert await bodies(sqlite) == []
    async with sqlite.transaction() as session:  # the pooled connection is clean again
        await session.execute(text("INSERT INTO notes (body) VALUES ('after')"))
    assert await bodies(sqlite) == ["after"]


async def test_write_once_commits_in_the_same_trip_as_its_statement(sqlite: Database, trips):
    written = await sqlite.write_once(text("INSERT INTO notes (body) VALUES ('handover at 7')"))
    assert written.rowcount == 1
    assert trips == ["_execute"]  # the INSERT and its COMMIT together: the write lock is not held between trips
    assert await bodies(sqlite) == ["handover at 7"]

    trips.clear()
    with pytest.raises(exc.IntegrityError):
        await sqlite.write_once(text("INSERT INTO notes (body) VALUES ('handover at 7')"))
    assert trips == ["_execute", "rollback"]
    assert (await sqlite.write_once(text("UPDATE notes SET body = 'handover at 8'"))).rowcount == 1
    assert await bodies(sqlite) == ["handover at 8"]
