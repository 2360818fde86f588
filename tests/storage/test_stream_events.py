"""Stream events on a real database: published at commit and never for a rollback, in process
on SQLite, and on PostgreSQL through LISTEN/NOTIFY from any connection to the database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlmodel import select

from storage.engine import Database
from storage.events import Ended, Overflowed, StreamEvent, publish
from storage.tables import OAuthAccessToken, Status
from tests.conftest import add_account
from tests.support.api import bearer, post
from web.context import AppContext

WAIT = 10.0


async def next_event(subscription) -> StreamEvent:
    return await asyncio.wait_for(subscription.get(), WAIT)


async def test_a_status_is_announced_at_commit_and_a_rolled_back_one_never(ctx: AppContext):
    ann = await add_account(ctx, "ann")
    subscription = await ctx.database.events.subscribe(16)
    with pytest.raises(RuntimeError):
        async with ctx.database.transaction() as session:
            session.add(Status(uri="https://mayo.test/users/ann/statuses/never", actor_id=ann.actor.id))
            await session.flush()
            raise RuntimeError("rolled back")
    status = await post(ctx, ann.actor, "kept")
    assert await next_event(subscription) == StreamEvent("status.created", status.id)


async def test_edits_deletions_and_revocations_are_announced(ctx: AppContext):
    ann = await add_account(ctx, "ann")
    await bearer(ctx, ann)
    status = await post(ctx, ann.actor, "first")
    subscription = await ctx.database.events.subscribe(16)
    async with ctx.database.transaction() as session:
        row = await session.get(Status, status.id)
        row.content = "<p>second</p>"
        session.add(row)
    async with ctx.database.transaction() as session:
        row = await session.get(Status, status.id)
        row.deleted_at = row.created_at
        session.add(row)
    async with ctx.database.transaction() as session:
        token = (await session.exec(select(OAuthAccessToken))).one()
        token.revoked_at = row.created_at
        session.add(token)
    assert [await next_event(subscription) for _ in range(3)] == [
        StreamEvent("status.updated", status.id), StreamEvent("status.deleted", status.id),
        StreamEvent("token.revoked", token.id)]


async def test_explicit_events_wait_for_the_commit(ctx: AppContext):
    subscription = await ctx.database.events.subscribe(16)
    async with ctx.database.transaction() as session:
        await publish(session, StreamEvent("notification", 1, 2))
        assert subscription._queue.empty()  # not before the commit
    assert await next_event(subscription) == StreamEvent("notification", 1, 2)


async def test_a_subscriber_that_falls_behind_is_told_and_dropped(ctx: AppContext):
    slow = await ctx.database.events.subscribe(2)
    keeping_up = await ctx.database.events.subscribe(16)
    for number in range(3):
        ctx.database.events.deliver(StreamEvent("status.created", number))
    assert slow.overflowed.is_set()
    with pytest.raises(Overflowed):
        await slow.get()
    assert [(await keeping_up.get()).id for _ in range(3)] == [0, 1, 2]
    assert ctx.database.events.subscriber_count == 1


async def test_postgresql_carries_events_from_another_connection(ctx: AppContext, engine_name: str):
    """As a `rounds worker` process would: a second engine on the same database publishes."""
    if engine_name != "postgresql":
        pytest.skip("SQLite events stay in the process that wrote them")
    ann = await add_account(ctx, "ann")
    subscription = await ctx.database.events.subscribe(16)
    elsewhere = Database(ctx.settings.database_url)
    try:
        other = AppContext.build(ctx.settings, elsewhere)
        status = await post(other, ann.actor, "from another process")
    finally:
        await elsewhere.dispose()
    assert await next_event(subscription) == StreamEvent("status.created", status.id)


async def test_a_lost_listen_connection_ends_streams_and_listening_resumes(ctx: AppContext, engine_name: str):
    """Events committed while the LISTEN connection is down are lost: the streams end (clients
    reconnect and catch up), and new subscriptions wait for LISTEN to be back."""
    if engine_name != "postgresql":
        pytest.skip("only PostgreSQL listens")
    ann = await add_account(ctx, "ann")
    first = await ctx.database.events.subscribe(16)
    async with ctx.database.session() as session:
        await session.exec(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "  # type: ignore[call-overload]
                                "WHERE query LIKE 'LISTEN%' AND datname = current_database()"))
    with pytest.raises(Ended):
        await next_event(first)
    second = await ctx.database.events.subscribe(16)
    status = await post(ctx, ann.actor, "after the reconnection")
    assert await next_event(second) == StreamEvent("status.created", status.id)
