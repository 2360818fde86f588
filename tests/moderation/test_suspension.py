"""Suspending a domain: its follows go both ways at once, then what we cached from it is purged in
batches with progress; other domains' content is untouched and lifting restores nothing."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from moderation.domains import BlockEntry, lift_block, save_block
from moderation.suspension import SuspensionPurges, purge_all, purge_domain
from storage.tables import Delivery, Favourite, Follow, InboxItem, MediaAttachment, Notification, Status
from tests.conftest import add_account, add_remote_actor


async def _world(ctx):
    ann = (await add_account(ctx, "ann")).actor
    spammer = await add_remote_actor(ctx, "spammer", "social.spam.example")
    friend = await add_remote_actor(ctx, "friend", "inova.test")
    async with ctx.database.transaction() as session:
        mine = Status(uri="https://example.org/users/ann/statuses/1", actor_id=ann.id, content="<p>mine</p>")
        session.add(mine)
        for number in range(5):
            status = Status(uri=f"{spammer.uri}/statuses/{number}", actor_id=spammer.id, local=False,
                            content=f"<p>pills {number}</p>")
            session.add(status)
            await session.flush()
            session.add(MediaAttachment(status_id=status.id, remote_url=f"{spammer.uri}/m{number}.png",
                                        media_type="image/png"))
        session.add(Status(uri=f"{friend.uri}/statuses/1", actor_id=friend.id, local=False, content="<p>hi</p>"))
        await session.flush()
        session.add(Favourite(actor_id=spammer.id, status_id=mine.id))
        session.add(Notification(recipient_id=ann.id, kind="favourite", from_actor_id=spammer.id,
                                 status_id=mine.id, key="favourite:x"))
        session.add(Follow(follower_id=ann.id, followee_id=spammer.id, state="accepted"))
        session.add(Follow(follower_id=spammer.id, followee_id=ann.id, state="accepted"))
        session.add(Follow(follower_id=ann.id, followee_id=friend.id, state="accepted"))
        session.add(Delivery(activity_uri="https://example.org/a/1", inbox_uri=spammer.inbox_uri,
                             host="social.spam.example", signer_id=ann.id, body="{}"))
        for uri in (spammer.uri, friend.uri, "https://notspam.example/users/x"):
            session.add(InboxItem(activity_id=f"{uri}#like/1", activity_type="Like", actor_uri=uri, body="{}"))
    return ann, spammer, friend


async def _count(ctx, table, *conditions) -> int:
    async with ctx.database.session() as session:
        return (await session.exec(select(func.count()).select_from(table).where(*conditions))).one()


async def test_suspension_severs_then_purges_in_batches_and_lifting_restores_nothing(ctx):
    ann, spammer, friend = await _world(ctx)
    async with ctx.database.transaction() as session:
        await save_block(session, BlockEntry("spam.example", "suspend"), by=None, via="cli")
    assert await _count(ctx, Follow) == 1  # only ann → friend is left
    assert await _count(ctx, Delivery) == 0
    async with ctx.database.session() as session:
        states = dict((await session.exec(select(InboxItem.actor_uri, InboxItem.state))).all())
    assert states == {spammer.uri: "ignored", friend.uri: "pending", "https://notspam.example/users/x": "pending"}

    steps = [progress async for progress in purge_domain(ctx.database, "spam.example", batch=2)]
    assert [(step.statuses, step.done) for step in steps] == [(2, False), (4, False), (5, False), (5, True)]
    assert (steps[-1].media, steps[-1].favourites, steps[-1].notifications) == (5, 1, 1)
    assert await _count(ctx, Status, Status.actor_id == spammer.id, Status.deleted_at.is_(None)) == 0
    assert await _count(ctx, Status, Status.actor_id == spammer.id, Status.content != "") == 0
    assert await _count(ctx, Status, Status.deleted_at.is_(None)) == 2  # ann's and the friend's
    assert await _count(ctx, MediaAttachment) == 0
    assert await _count(ctx, Favourite) == 0 and await _count(ctx, Notification) == 0

    again = await purge_all(ctx.database, "spam.example")
    assert (again.statuses, again.done) == (0, True)  # idempotent: a rerun resumes with nothing left
    async with ctx.database.transaction() as session:
        assert await lift_block(session, "spam.example", by=None, via="cli")
    assert await _count(ctx, Status, Status.actor_id == spammer.id, Status.deleted_at.is_(None)) == 0


async def test_silencing_severs_nothing(ctx):
    await _world(ctx)
    async with ctx.database.transaction() as session:
        await save_block(session, BlockEntry("spam.example", "silence"), by=None, via="cli")
    assert await _count(ctx, Follow) == 3 and await _count(ctx, Delivery) == 1


async def test_rejecting_media_forgets_the_attachments_held_from_the_domain(ctx):
    await _world(ctx)
    async with ctx.database.transaction() as session:
        await save_block(session, BlockEntry("social.spam.example", "noop", reject_media=True), by=None, via="cli")
    assert await _count(ctx, MediaAttachment) == 0
    assert await _count(ctx, Status, Status.deleted_at.is_(None)) == 7  # the posts themselves stay


async def test_the_purge_worker_finishes_suspensions_nobody_purged_and_leaves_others_alone(ctx):
    """A suspension from a subscribed blocklist, or one whose purge a restart cut short, is
    purged by the worker; a silenced domain's posts and other servers' posts stay."""
    _ann, spammer, friend = await _world(ctx)
    loud = await add_remote_actor(ctx, "loud", "noisy.example")
    async with ctx.database.transaction() as session:
        session.add(Status(uri=f"{loud.uri}/statuses/1", actor_id=loud.id, local=False, content="<p>loud</p>"))
        await save_block(session, BlockEntry("spam.example", "suspend"), by=None, via="system")
        await save_block(session, BlockEntry("noisy.example", "silence"), by=None, via="system")
    purges = SuspensionPurges(ctx.database)
    assert await purges.run_once() == 5
    assert await _count(ctx, Status, Status.actor_id == spammer.id, Status.deleted_at.is_(None)) == 0
    assert await _count(ctx, Status, Status.actor_id.in_([friend.id, loud.id]), Status.deleted_at.is_(None)) == 2
    assert await purges.run_once() == 0  # nothing left: nothing done


async def test_a_block_named_without_a_port_covers_every_port_of_the_host(ctx):
    on_port = await add_remote_actor(ctx, "ported", "spam.example:8443")
    elsewhere = await add_remote_actor(ctx, "other", "spam.example.net:8443")
    async with ctx.database.transaction() as session:
        for actor in (on_port, elsewhere):
            session.add(Status(uri=f"{actor.uri}/statuses/1", actor_id=actor.id, local=False, content="<p>x</p>"))
        await save_block(session, BlockEntry("spam.example", "suspend"), by=None, via="cli")
    assert (await purge_all(ctx.database, "spam.example")).statuses == 1
    assert await _count(ctx, Status, Status.actor_id == elsewhere.id, Status.deleted_at.is_(None)) == 1
