"""Follow, Accept, Reject, Block and the Undo of a Follow or Block."""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.accounts import find_local_actor
from actors.notifications import notify, withdraw
from federation.documents import DocumentError, id_of
from inbox.context import Activity, HandlerContext, Ignore
from moderation.domains import block_covering
from storage.tables import Actor, Block, Follow, Tombstone


async def local_target(session: AsyncSession, h: HandlerContext, uri: str) -> Actor:
    username = h.urls.local_username(uri)
    actor = await find_local_actor(session, username) if username else None
    if actor is None:
        raise Ignore(f"{uri} is not a local account")
    return actor


async def on_follow(session: AsyncSession, h: HandlerContext, activity: Activity, actor: Actor) -> str:
    target = await local_target(session, h, id_of(activity.get("object"), "object"))
    if await session.get(Tombstone, activity["id"]) is not None:
        raise Ignore("this follow was undone before it arrived")
    blocked = await session.exec(select(Block).where(Block.actor_id == target.id, Block.target_id == actor.id))
    found = await session.exec(select(Follow).where(
        Follow.follower_id == actor.id, Follow.followee_id == target.id))
    follow = found.first()
    if follow is None:
        follow = Follow(follower_id=actor.id, followee_id=target.id, uri=activity["id"], state="pending")
        session.add(follow)
        await session.flush()
    elif follow.uri != activity["id"]:
        follow.uri = activity["id"]  # a re-sent follow: answer the newest id
        session.add(follow)
    if blocked.first() is not None:
        await h.replies.reject_follow(session, follow, target, actor)
        return "rejected: blocked"
    if follow.state == "accepted" or not (target.locked or await _limited(session, actor)):
        await h.replies.accept_follow(session, follow, target, actor)
        await notify(session, recipient=target, kind="follow", from_actor=actor, now=h.clock())
        return "accepted"
    await notify(session, recipient=target, kind="follow_request", from_actor=actor, now=h.clock())
    return "pending approval"


async def _limited(session: AsyncSession, actor: Actor) -> bool:
    """A silenced account, or one on a silenced domain: its follows wait for approval even when
    the account followed is not locked (Mastodon's limited accounts)."""
    if actor.silenced_at is not None:
        return True
    block = await block_covering(session, actor.domain) if actor.domain else None
    return block is not None and block.severity == "silence"


async def _our_follow(session: AsyncSession, h: HandlerContext, activity: Activity, actor: Actor) -> Follow:
    """The Follow an Accept/Reject answers: ours, sent to the actor answering (and only them)."""
    obj = activity.get("object")
    follow = None
    if isinstance(obj, (str, dict)):
        try:
            follow_id = id_of(obj, "object")
        except DocumentError:
            follow_id = None
        if follow_id:
            found = await session.exec(select(Follow).where(Follow.uri == follow_id))
            follow = found.first()
    if follow is None and isinstance(obj, dict) and obj.get("type") == "Follow":
        # Some servers answer with a Follow object whose id they do not keep; match by the pair.
        follower = await local_target(session, h, id_of(obj.get("actor"), "object.actor"))
        found = await session.exec(select(Follow).where(
            Follow.follower_id == follower.id, Follow.followee_id == actor.id))
        follow = found.first()
    if follow is None or follow.followee_id != actor.id:
        raise Ignore("no follow of ours to this actor")
    return follow


async def on_accept(session: AsyncSession, h: HandlerContext, activity: Activity, actor: Actor) -> str:
    follow = await _our_follow(session, h, activity, actor)
    follow.state = "accepted"
    session.add(follow)
    return "follow accepted"


async def on_reject(session: AsyncSession, h: HandlerContext, activity: Activity, actor: Actor) -> str:
    follow = await _our_follow(session, h, activity, actor)
    await session.delete(follow)
    return "follow rejected"


async def on_block(session: AsyncSession, h: HandlerContext, activity: Activity, actor: Actor) -> str:
    target = await local_target(session, h, id_of(activity.get("object"), "object"))
    found = await session.exec(select(Block).where(Block.actor_id == actor.id, Block.target_id == target.id))
    if found.first() is None:
        session.add(Block(actor_id=actor.id, target_id=target.id, uri=activity["id"]))
    await session.exec(delete(Follow).where(  # type: ignore[call-overload]
        ((Follow.follower_id == actor.id) & (Follow.followee_id == target.id))
        | ((Follow.follower_id == target.id) & (Follow.followee_id == actor.id))))
    return "blocked"


async def undo_follow(session: AsyncSession, h: HandlerContext, undone_id: str, actor: Actor) -> str:
    found = await session.exec(select(Follow).where(Follow.uri == undone_id, Follow.follower_id == actor.id))
    follow = found.first()
    if follow is None:
        session.add(Tombstone(uri=undone_id, actor_uri=actor.uri))
        return "undo of an unknown follow remembered"
    await session.delete(follow)
    followee = await session.get(Actor, follow.followee_id)
    if followee is not None:
        await withdraw(session, recipient=followee, kinds=("follow", "follow_request"), from_actor=actor)
    return "unfollowed"


async def undo_block(session: AsyncSession, h: HandlerContext, undone_id: str, actor: Actor) -> str:
    found = await session.exec(select(Block).where(Block.uri == undone_id, Block.actor_id == actor.id))
    block = found.first()
    if block is None:
        raise Ignore("no such block")
    await session.delete(block)
    return "unblocked"
