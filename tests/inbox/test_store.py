"""`inbox.accept.InboxStore`: activities accepted together are inserted together, each once by id."""

import asyncio
from datetime import UTC, datetime

from sqlmodel import select

from inbox.accept import InboxStore
from storage.engine import Database
from storage.tables import InboxItem
from tests.support.statements import statements_sent

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def activity(number: int) -> tuple[str, str, str, bytes, datetime]:
    activity_id = f"https://inova.test/activities/{number}"
    body = f'{{"id": "{activity_id}", "type": "Like"}}'.encode()
    return activity_id, "Like", "https://inova.test/users/rae", body, NOW


async def test_activities_accepted_together_are_one_insert_and_a_repeated_id_is_stored_once(database: Database):
    store = InboxStore(database)
    await store.add(*activity(0))
    with statements_sent(database, "INSERT") as inserts:
        # Two new ones, one already stored, and one twice in the same batch.
        new = await asyncio.gather(*(store.add(*activity(number)) for number in (1, 2, 0, 3, 3)))
    assert new == [True, True, False, True, False]
    assert len(inserts) == 1
    async with database.session() as session:
        rows = (await session.exec(select(InboxItem).order_by(InboxItem.activity_id))).all()
    assert [row.activity_id for row in rows] == [activity(number)[0] for number in range(4)]
    assert {(row.state, row.attempts, row.actor_uri, row.received_at) for row in rows} == {
        ("pending", 0, "https://inova.test/users/rae", NOW)}
    assert rows[3].body == activity(3)[3].decode()
