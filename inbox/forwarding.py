"""Deletes that reach copies made by boosts.

A server that boosted a post passed it on to its followers' servers, which the author's
server does not know. So when a Delete of a post our people boosted arrives, we forward it
to the servers of their followers, signed by our instance actor (Mastodon forwards the same
way). A forwarded Delete is signed by someone else than its actor, so the receiving side
believes it only after checking that the post is gone at its origin (404 or 410 there).
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.notifications import forget_status
from federation.documents import DocumentError, host_of, same_origin
from federation.fetch import FetchError, FetchNotFound
from inbox.context import Activity, HandlerContext, Ignore, Retry
from storage.tables import Actor, Follow, Status, Tombstone


async def forward_to_boosters_followers(session: AsyncSession, h: HandlerContext, activity: Activity,
                                        status: Status, origin: str) -> int:
    """Send the Delete on to the servers of the followers of our people who boosted `status`."""
    local_boosters = (select(Status.actor_id).join(Actor, Actor.id == Status.actor_id)
                      .where(Status.reblog_of_id == status.id, Actor.domain.is_(None)))  # type: ignore[union-attr]
    rows = await session.exec(
        select(func.coalesce(Actor.shared_inbox_uri, Actor.inbox_uri)).distinct()
        .join(Follow, Follow.follower_id == Actor.id)
        .where(Follow.followee_id.in_(local_boosters), Follow.state == "accepted",  # type: ignore[attr-defined]
               Actor.domain.is_not(None)))  # type: ignore[union-attr]
    inboxes = {inbox for inbox in rows.all() if inbox and host_of(inbox) != origin}
    if not inboxes:
        return 0
    return await h.replies.forward(session, activity, inboxes)


async def apply_forwarded_delete(session: AsyncSession, h: HandlerContext, target: str, claimed_actor: str) -> str:
    """A Delete of `target` by `claimed_actor`, forwarded by another server: applied only if
    `target` is the claimed actor's post here and its origin no longer serves it."""
    if not same_origin(target, claimed_actor):
        raise DocumentError("an actor may only delete things on its own host")
    status = (await session.exec(select(Status).where(Status.uri == target))).first()
    if status is None or status.deleted_at is not None:
        raise Ignore("forwarded delete of a post not kept here")
    author = await session.get(Actor, status.actor_id)
    if author is None or author.uri != claimed_actor:
        raise DocumentError("the forwarded delete is not by the post's author")
    try:
        await h.fetcher.fetch_activity(target)
    except FetchNotFound:
        pass  # gone at its origin: the forwarded Delete is true
    except FetchError as error:
        raise Retry(f"could not check the post at its origin: {error}") from None
    else:
        raise Ignore("forwarded delete of a post its origin still serves")
    if await session.get(Tombstone, target) is None:
        session.add(Tombstone(uri=target, actor_uri=claimed_actor))
    status.deleted_at, status.content, status.summary = h.clock(), "", ""
    session.add(status)
    await forget_status(session, status)
    return "post deleted (forwarded; gone at its origin)"
