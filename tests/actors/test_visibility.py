"""Who may see a status, for local viewers: the Python rule and its SQL form agree, on both engines."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import aliased
from sqlmodel import select

from actors.visibility import local_viewer_may_see, visible_to
from moderation.policy import DomainPolicy
from outbox.actions import Outbox
from storage.tables import Follow, Status, utcnow
from tests.conftest import add_account, add_remote_actor

LEVELS = ("public", "unlisted", "private", "network", "direct", "local")

# viewer → the levels of ann's posts that viewer sees.
EXPECTED = {
    "anonymous": {"public", "unlisted"},
    "ann": set(LEVELS),                                      # the author
    "bob": {"public", "unlisted", "private", "network", "local"},  # accepted follower
    "cy": {"public", "unlisted", "local"},                   # follow still pending
    "dee": set(LEVELS),                                      # mentioned in every post
    "eve": {"public", "unlisted", "local"},                  # a stranger here
    "fay": set(),                                            # blocked by ann
}


@pytest.fixture
async def world(ctx):
    """ann (a locked member) posts once at every level, mentioning dee and a remote person."""
    outbox = Outbox(urls=ctx.urls, policy=DomainPolicy())
    people = {name: (await add_account(ctx, name)).actor for name in ("ann", "bob", "cy", "dee", "eve", "fay")}
    remote = await add_remote_actor(ctx, "rae")
    ann = people["ann"]
    async with ctx.database.transaction() as session:
        for name in ("bob", "cy"):
            await outbox.send_follow(session, people[name], ann)
        bob_follow = (await session.exec(select(Follow).where(Follow.follower_id == people["bob"].id))).one()
        await outbox.accept_follow(session, bob_follow, ann, people["bob"])
        await outbox.block(session, ann, people["fay"])
        statuses = {}
        for level in LEVELS:
            statuses[level] = await outbox.post_status(
                session, ann, content_html=f"<p>{level}</p>", visibility=level,
                mentions=[people["dee"], remote])
    return people, statuses


async def _sql_visible(ctx, viewer_id):
    async with ctx.database.session() as session:
        rows = await session.exec(select(Status.visibility).where(visible_to(viewer_id)))
        return set(rows.all())


async def _python_visible(ctx, statuses, viewer_id):
    async with ctx.database.session() as session:
        return {level for level, status in statuses.items()
                if await local_viewer_may_see(session, status, viewer_id)}


@pytest.mark.parametrize("viewer", sorted(EXPECTED))
async def test_each_viewer_sees_exactly_the_levels_addressed_to_them(ctx, world, viewer):
    people, statuses = world
    viewer_id = None if viewer == "anonymous" else people[viewer].id
    assert await _python_visible(ctx, statuses, viewer_id) == EXPECTED[viewer]
    assert await _sql_visible(ctx, viewer_id) == EXPECTED[viewer]


async def test_unfollowing_hides_followers_only_posts_again(ctx, world):
    people, statuses = world
    outbox = Outbox(urls=ctx.urls, policy=DomainPolicy())
    async with ctx.database.transaction() as session:
        await outbox.send_unfollow(session, people["bob"], people["ann"])
    assert await _python_visible(ctx, statuses, people["bob"].id) == {"public", "unlisted", "local"}
    assert await _sql_visible(ctx, people["bob"].id) == {"public", "unlisted", "local"}


async def test_a_deleted_status_is_seen_by_nobody_not_even_its_author(ctx, world):
    people, statuses = world
    async with ctx.database.transaction() as session:
        public = await session.get(Status, statuses["public"].id)
        public.deleted_at = utcnow()
        session.add(public)
    for viewer_id in (None, people["ann"].id, people["bob"].id):
        assert "public" not in await _python_visible(ctx, {"public": public}, viewer_id)
        assert "public" not in await _sql_visible(ctx, viewer_id)


async def test_sql_form_works_on_an_alias_for_boosted_originals(ctx, world):
    people, _ = world
    original = aliased(Status)
    async with ctx.database.session() as session:
        rows = await session.exec(select(original.visibility).where(visible_to(people["cy"].id, original)))
        assert set(rows.all()) == EXPECTED["cy"]
