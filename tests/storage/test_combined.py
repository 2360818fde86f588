"""`storage.combined`: several lookups as one statement, each part's rows apart, values typed."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, null
from sqlmodel import select

from storage.combined import Combined, combined
from storage.engine import Database
from storage.prepared import many
from storage.tables import Status
from tests.conftest import add_account
from tests.support.statements import statements_sent


async def test_each_part_gets_its_own_rows_typed_from_one_statement(ctx, database: Database):
    ann = await add_account(ctx, "ann")
    lee = await add_account(ctx, "lee")
    written = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    async with database.transaction() as session:
        rows = [Status(uri=f"https://mayo.test/statuses/{n}", actor_id=author.actor.id, local=True,
                       visibility=visibility, content=f"<p>{n}</p>", created_at=written)
                for n, (author, visibility) in enumerate([(ann, "public"), (ann, "private"), (lee, "public")])]
        session.add_all(rows)
        await session.flush()
        ids = [row.id for row in rows]

    with statements_sent(database) as statements:
        async with database.session() as session:
            found = await combined(session, {
                "latest": select(Status.actor_id, func.count(), func.max(Status.created_at))
                .group_by(Status.actor_id),
                "public": select(Status.actor_id, Status.id, null()).where(Status.visibility == "public"),
                "none": select(Status.actor_id, Status.id, null()).where(Status.visibility == "direct"),
            })

    assert len(statements) == 1
    assert sorted(found["latest"]) == sorted([(ann.actor.id, 2, written), (lee.actor.id, 1, written)])
    assert all(row[2].tzinfo is not None for row in found["latest"])  # read back as the column's type
    assert sorted(found["public"]) == sorted([(ann.actor.id, ids[0], None), (lee.actor.id, ids[2], None)])
    assert found["none"] == []


async def test_one_part_and_no_parts(ctx, database: Database):
    ann = await add_account(ctx, "ann")
    async with database.session() as session:
        assert await combined(session, {}) == {}
        found = await combined(session, {"ids": select(Status.actor_id).where(Status.actor_id == ann.actor.id)})
    assert found == {"ids": []}


async def test_a_combined_statement_built_once_runs_with_each_calls_values(ctx, database: Database):
    ann = await add_account(ctx, "ann")
    lee = await add_account(ctx, "lee")
    async with database.transaction() as session:
        for author, visibility in [(ann, "public"), (ann, "direct"), (lee, "public")]:
            session.add(Status(uri=f"https://mayo.test/statuses/{author.actor.username}-{visibility}",
                               actor_id=author.actor.id, local=True, visibility=visibility, content="<p>hi</p>"))
    lookups = Combined({
        "counted": select(Status.actor_id, func.count()).where(Status.actor_id.in_(many("authors")))
        .group_by(Status.actor_id),
        "direct": select(Status.actor_id, null()).where(Status.actor_id.in_(many("authors")),
                                                        Status.visibility == "direct"),
    })
    with statements_sent(database) as statements:
        async with database.session() as session:
            both = await lookups.run(session, {"authors": [ann.actor.id, lee.actor.id]})
            lee_only = await lookups.run(session, {"authors": [lee.actor.id]})
            nobody = await lookups.run(session, {"authors": []})
    assert len(statements) == 3
    assert sorted(both["counted"]) == sorted([(ann.actor.id, 2), (lee.actor.id, 1)])
    assert both["direct"] == [(ann.actor.id, None)]
    assert lee_only == {"counted": [(lee.actor.id, 1)], "direct": []}
    assert nobody == {"counted": [], "direct": []}
    with pytest.raises(ValueError, match="at least one part"):
        Combined({})
