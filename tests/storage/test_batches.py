"""`storage.batches.GroupWriter`: writes that come together go in one statement, each caller gets its own answer."""

import asyncio

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from storage.batches import GroupWriter
from storage.engine import Database
from storage.tables import Host
from tests.support.statements import statements_sent


def inserting(database: Database, batches: list[list[str]]):
    async def write_all(hosts: list[str]) -> list[str]:
        batches.append(list(hosts))
        await database.write_once(insert(Host).values([{"host": host, "consecutive_failures": 0} for host in hosts]))
        return [f"stored {host}" for host in hosts]

    return write_all


async def stored(database: Database) -> list[str]:
    async with database.session() as session:
        return sorted((await session.exec(select(Host.host))).all())


async def test_writes_that_come_together_share_a_statement_and_each_gets_its_own_result(database: Database):
    batches: list[list[str]] = []
    writer = GroupWriter(inserting(database, batches))
    with statements_sent(database, "INSERT") as statements:
        first = [asyncio.create_task(writer.write(host)) for host in ("a.test", "b.test", "c.test")]
        await asyncio.sleep(0)  # the three have joined one batch; it is written before the next two join
        second = [asyncio.create_task(writer.write(host)) for host in ("d.test", "e.test")]
        assert await asyncio.gather(*first) == ["stored a.test", "stored b.test", "stored c.test"]
        assert not any(task.done() for task in second)  # their batch is written after the first
        assert await asyncio.gather(*second) == ["stored d.test", "stored e.test"]
    assert batches == [["a.test", "b.test", "c.test"], ["d.test", "e.test"]]
    assert len(statements) == 2
    # Alone, a write goes at once: nothing waits for company.
    assert await writer.write("f.test") == "stored f.test" and batches[-1] == ["f.test"]
    assert await stored(database) == ["a.test", "b.test", "c.test", "d.test", "e.test", "f.test"]


async def test_a_failed_batch_raises_in_each_of_its_callers_stores_nothing_and_the_next_batch_goes_on(
        database: Database):
    writer = GroupWriter(inserting(database, []))
    await writer.write("taken.test")
    failing = [asyncio.create_task(writer.write(host)) for host in ("new.test", "taken.test")]
    await asyncio.sleep(0)
    after = asyncio.create_task(writer.write("later.test"))
    for task in failing:
        with pytest.raises(IntegrityError):
            await task
    assert await after == "stored later.test"
    assert await stored(database) == ["later.test", "taken.test"]  # new.test went down with its batch


async def test_a_caller_that_gives_up_waiting_leaves_its_batch_to_be_written(database: Database):
    writer = GroupWriter(inserting(database, []))
    impatient = asyncio.create_task(writer.write("a.test"))
    patient = asyncio.create_task(writer.write("b.test"))
    await asyncio.sleep(0)
    impatient.cancel()
    assert await patient == "stored b.test"
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert await stored(database) == ["a.test", "b.test"]


async def test_a_batch_holds_at_most_max_batch_writes_and_the_rest_follow_in_order(database: Database):
    # One statement must stay within the database's limit on bound parameters (PostgreSQL's is 65,535).
    batches: list[list[str]] = []
    writer = GroupWriter(inserting(database, batches), max_batch=2)
    hosts = [f"{letter}.test" for letter in "abcde"]
    tasks = [asyncio.create_task(writer.write(host)) for host in hosts]
    assert await asyncio.gather(*tasks) == [f"stored {host}" for host in hosts]
    assert batches == [["a.test", "b.test"], ["c.test", "d.test"], ["e.test"]]
    assert await stored(database) == hosts
    with pytest.raises(ValueError, match="max_batch"):
        GroupWriter(inserting(database, []), max_batch=0)
