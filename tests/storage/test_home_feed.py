"""`home_feed`: the database keeps each local person's home-timeline candidates (migration 0015).

The triggers are tested by writing `statuses` and `follows` directly, as any code path may: the
feed must hold every status the home timeline may show, or the timeline would miss it.
"""

from alembic import command
from sqlalchemy import delete, text, update
from sqlmodel import select

from storage.engine import Database
from storage.migrate import alembic_config
from storage.tables import Follow, HomeFeedEntry, Status
from tests.conftest import add_account, add_remote_actor


async def feed_of(database: Database, reader_id: int) -> set[int]:
    async with database.session() as session:
        return set((await session.exec(select(HomeFeedEntry.status_id)
                                       .where(HomeFeedEntry.reader_id == reader_id))).all())


async def add_status(database: Database, author_id: int, name: str) -> int:
    async with database.transaction() as session:
        status = Status(uri=f"https://somewhere.test/statuses/{name}", actor_id=author_id, content=f"<p>{name}</p>")
        session.add(status)
        await session.flush()
        return status.id


async def set_follow(database: Database, follower_id: int, followee_id: int, state: str) -> None:
    async with database.transaction() as session:
        found = (await session.exec(select(Follow).where(Follow.follower_id == follower_id,
                                                         Follow.followee_id == followee_id))).first()
        if found is None:
            session.add(Follow(follower_id=follower_id, followee_id=followee_id, state=state))
        else:
            await session.exec(update(Follow).where(Follow.id == found.id).values(state=state))  # type: ignore[call-overload]


async def test_a_local_persons_feed_follows_their_own_statuses_and_their_accepted_follows(ctx, database: Database):
    ann, bob = await add_account(ctx, "ann"), await add_account(ctx, "bob")
    rae = await add_remote_actor(ctx, "rae")
    cy = await add_remote_actor(ctx, "cy", "radboud.test")
    own = await add_status(database, ann.actor.id, "ann-1")
    rae_first = await add_status(database, rae.id, "rae-1")
    assert await feed_of(database, ann.actor.id) == {own}  # a local author's own status
    assert await feed_of(database, rae.id) == set()  # remote actors have no feed

    await set_follow(database, ann.actor.id, rae.id, "pending")
    assert await feed_of(database, ann.actor.id) == {own}  # a request brings nothing
    await set_follow(database, ann.actor.id, rae.id, "accepted")
    assert await feed_of(database, ann.actor.id) == {own, rae_first}  # accepted: the followee's earlier statuses
    rae_second = await add_status(database, rae.id, "rae-2")
    assert await feed_of(database, ann.actor.id) == {own, rae_first, rae_second}  # and each new one

    await set_follow(database, cy.id, ann.actor.id, "accepted")  # a remote follower
    await set_follow(database, bob.actor.id, ann.actor.id, "accepted")  # inserted accepted at once
    assert await feed_of(database, cy.id) == set()
    assert await feed_of(database, bob.actor.id) == {own}
    ann_second = await add_status(database, ann.actor.id, "ann-2")
    assert await feed_of(database, bob.actor.id) == {own, ann_second}

    await set_follow(database, ann.actor.id, rae.id, "pending")  # no longer accepted: taken out
    assert await feed_of(database, ann.actor.id) == {own, ann_second}
    await set_follow(database, ann.actor.id, rae.id, "accepted")
    async with database.transaction() as session:  # a bulk delete, as suspensions do
        await session.exec(delete(Follow).where(Follow.follower_id == ann.actor.id))  # type: ignore[call-overload]
    assert await feed_of(database, ann.actor.id) == {own, ann_second}
    assert await feed_of(database, bob.actor.id) == {own, ann_second}  # other readers keep theirs


async def test_upgrading_fills_the_feed_from_the_follows_and_statuses_already_there(ctx, database: Database):
    ann = await add_account(ctx, "ann")
    rae = await add_remote_actor(ctx, "rae")
    await set_follow(database, ann.actor.id, rae.id, "accepted")
    own, rae_post = await add_status(database, ann.actor.id, "ann-1"), await add_status(database, rae.id, "rae-1")

    def downgrade_and_upgrade(connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0014")
        assert connection.execute(text("SELECT count(*) FROM actors")).scalar() == 2  # only the feed went
        command.upgrade(config, "head")

    async with database.engine.begin() as connection:
        await connection.run_sync(downgrade_and_upgrade)
    assert await feed_of(database, ann.actor.id) == {own, rae_post}
    await add_status(database, rae.id, "rae-2")  # and the triggers are back
    assert len(await feed_of(database, ann.actor.id)) == 3
