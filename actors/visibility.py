"""Who may see a status. One rule, used by every route that can show one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.tables import Actor, Block, Follow, Mention, Status

PUBLICLY_SERVED = frozenset({"public", "unlisted"})


async def remote_server_may_see(session: AsyncSession, status: Status, author: Actor, domain: str,
                                *, network_member: bool = False) -> bool:
    """May the server at `domain` (a verified signer's host) fetch `status`?

    Public and unlisted: anyone. Followers-only (and network-only, for member servers): when
    an actor there follows the author (accepted) or is mentioned. Direct: only when
    mentioned. Local-only: never.
    """
    if status.deleted_at is not None or status.visibility == "local":
        return False
    if status.visibility in PUBLICLY_SERVED:
        return True
    if status.visibility == "network" and not network_member:
        return False  # not even to someone mentioned there
    mentioned = await session.exec(
        select(func.count()).select_from(Mention).join(Actor, Actor.uri == Mention.actor_uri)
        .where(Mention.status_id == status.id, Actor.domain == domain))
    if mentioned.one() > 0:
        return True
    if status.visibility == "direct":
        return False
    following = await session.exec(
        select(func.count()).select_from(Follow).join(Actor, Actor.id == Follow.follower_id)
        .where(Follow.followee_id == author.id, Follow.state == "accepted", Actor.domain == domain))
    return following.one() > 0


async def remote_actor_may_see(session: AsyncSession, status: Status, actor: Actor, *,
                               network_member: bool = False) -> bool:
    """May this remote actor see `status` (to vote on its poll, say)? As `remote_server_may_see`,
    but for one actor: followed by them, or naming them, and not blocked by the author."""
    if status.deleted_at is not None or status.visibility == "local":
        return False
    if status.visibility == "network" and not network_member:
        return False
    blocked = await session.exec(select(func.count()).select_from(Block).where(
        Block.actor_id == status.actor_id, Block.target_id == actor.id))
    if blocked.one() > 0:
        return False
    if status.visibility in PUBLICLY_SERVED:
        return True
    mentioned = await session.exec(select(func.count()).select_from(Mention).where(
        Mention.status_id == status.id, Mention.actor_uri == actor.uri))
    if mentioned.one() > 0:
        return True
    if status.visibility == "direct":
        return False
    following = await session.exec(select(func.count()).select_from(Follow).where(
        Follow.follower_id == actor.id, Follow.followee_id == status.actor_id, Follow.state == "accepted"))
    return following.one() > 0


# --- local viewers (the client API, pages, streaming) -------------------------------------
#
# One rule, in two forms that must agree (tests check both engines):
#   public, unlisted   anyone, signed in or not
#   private, network   the author, accepted followers, mentioned accounts
#   direct             the author and mentioned accounts
#   local              any signed-in local person (never anonymous, never another server)
# Deleted statuses are seen by nobody, and a person the author blocks sees none of the
# author's statuses (as Mastodon's StatusPolicy). `viewer_id` is a local actor's id, or None.

FOLLOWERS_ONLY = frozenset({"private", "network"})


async def local_viewer_may_see(session: AsyncSession, status: Status, viewer_id: int | None) -> bool:
    """May this local person (None: an anonymous caller) see `status`?"""
    if status.deleted_at is not None:
        return False
    if viewer_id is None:
        return status.visibility in PUBLICLY_SERVED
    if status.actor_id == viewer_id:
        return True
    blocked = await session.exec(select(func.count()).select_from(Block).where(
        Block.actor_id == status.actor_id, Block.target_id == viewer_id))
    if blocked.one() > 0:
        return False
    if status.visibility in PUBLICLY_SERVED or status.visibility == "local":
        return True
    if status.visibility not in FOLLOWERS_ONLY and status.visibility != "direct":
        return False  # a level this rule does not know is shown to nobody but its author
    mentioned = await session.exec(
        select(func.count()).select_from(Mention).join(Actor, Actor.uri == Mention.actor_uri)
        .where(Mention.status_id == status.id, Actor.id == viewer_id))
    if mentioned.one() > 0:
        return True
    if status.visibility == "direct":
        return False
    following = await session.exec(
        select(func.count()).select_from(Follow)
        .where(Follow.follower_id == viewer_id, Follow.followee_id == status.actor_id,
               Follow.state == "accepted"))
    return following.one() > 0


def visible_to(viewer_id: int | None, statuses: type[Status] | Any = Status) -> ColumnElement[bool]:
    """`local_viewer_may_see` as a SQL condition on `statuses` (Status or an alias of it),
    for timeline and list queries."""
    alive = statuses.deleted_at.is_(None)
    public = statuses.visibility.in_(tuple(sorted(PUBLICLY_SERVED)))
    if viewer_id is None:
        return and_(alive, public)
    viewer_uri = select(Actor.uri).where(Actor.id == viewer_id).scalar_subquery()
    mentioned = exists().where(Mention.status_id == statuses.id, Mention.actor_uri == viewer_uri)
    following = exists().where(Follow.follower_id == viewer_id, Follow.followee_id == statuses.actor_id,
                               Follow.state == "accepted")
    blocked = exists().where(Block.actor_id == statuses.actor_id, Block.target_id == viewer_id)
    return and_(alive, or_(
        statuses.actor_id == viewer_id,
        and_(~blocked, or_(
            public,
            statuses.visibility == "local",
            and_(statuses.visibility.in_(tuple(sorted(FOLLOWERS_ONLY))), or_(following, mentioned)),
            and_(statuses.visibility == "direct", mentioned),
        )),
    ))
