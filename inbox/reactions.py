"""Like and Announce, and their Undo."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.notifications import notify, withdraw
from actors.remote import ActorUnavailable
from federation.documents import DocumentError, id_of, parse_note, same_origin
from federation.fetch import FetchError
from inbox.context import Activity, HandlerContext, Ignore, Retry
from storage.tables import Actor, Favourite, Follow, Status, Tombstone


async def on_like(session: AsyncSession, h: HandlerContext, activity: Activity, actor: Actor) -> str:
    target = id_of(activity.get("object"), "object")
    found = await session.exec(select(Status).where(Status.uri == target, Status.deleted_at.is_(None)))  # type: ignore[union-attr]
    status = found.first()
    if status is None:
        raise Ignore("like of a post not kept here")
    if await session.get(Tombstone, activity["id"]) is not None:
        raise Ignore("this like was undone before it arrived")
    existing = await session.exec(select(Favourite).where(
        Favourite.actor_id == actor.id, Favourite.status_id == status.id))
    if existing.first() is None:
        session.add(Favourite(actor_id=actor.id, status_id=status.id, uri=activity["id"]))
    author = await _local_author(session, status)
    if author is not None:
        await notify(session, recipient=author, kind="favourite", from_actor=actor, status=status, now=h.clock())
    return "favourited"


async def _local_author(session: AsyncSession, status: Status | None) -> Actor | None:
    """Who hears about a reaction to `status`: its author, when they are one of ours."""
    if status is None or not status.local:
        return None
    return await session.get(Actor, status.actor_id)


async def on_announce(session: AsyncSession, h: HandlerContext, activity: Activity, actor: Actor) -> str:
    target = id_of(activity.get("object"), "object")
    if await session.get(Tombstone, activity["id"]) is not None:
        raise Ignore("this boost was undone before it arrived")
    if (await session.exec(select(Status.id).where(Status.uri == activity["id"]))).first() is not None:
        raise Ignore("already known")
    found = await session.exec(select(Status).where(Status.uri == target))
    original = found.first()
    followed = await session.exec(select(Follow.id).join(Actor, Actor.id == Follow.follower_id).where(
        Follow.followee_id == actor.id, Follow.state == "accepted", Actor.domain.is_(None)))  # type: ignore[union-attr]
    if followed.first() is None and not (original is not None and original.local):
        raise Ignore("nobody here follows the booster and the post is not ours")
    if original is None:
        original = await _fetch_boosted(session, h, target)
    if original.deleted_at is not None or original.visibility not in ("public", "unlisted"):
        raise Ignore("only public and unlisted posts can be boosted")
    session.add(Status(uri=activity["id"], actor_id=actor.id, local=False, visibility="public",
                       reblog_of_id=original.id))
    author = await _local_author(session, original)
    if author is not None:
        await notify(session, recipient=author, kind="reblog", from_actor=actor, status=original, now=h.clock())
    return "boost stored"


async def _fetch_boosted(session: AsyncSession, h: HandlerContext, uri: str) -> Status:
    """Fetch a boosted post from its own host (origin rule), and its author."""
    if await session.get(Tombstone, uri) is not None:
        raise Ignore("the boosted post was deleted")
    try:
        note = parse_note(await h.fetcher.fetch_activity(uri))
    except FetchError as error:
        raise Retry(f"boosted post unavailable: {error}") from None
    if note.uri != uri or not same_origin(note.attributed_to, uri):
        raise DocumentError("the boosted post's author is not on its host")
    try:
        author = await h.actors.resolve(note.attributed_to)
    except ActorUnavailable as error:
        raise Retry(f"author of the boosted post unavailable: {error.reason}") from None
    status = Status(uri=note.uri, actor_id=author.id, local=False,
                    visibility=note.visibility(author.followers_uri), content=note.content,
                    summary=note.summary, sensitive=note.sensitive, language=note.language,
                    url=note.url, in_reply_to_uri=note.in_reply_to)
    if note.published is not None:
        status.created_at = note.published
    session.add(status)
    await session.flush()
    return status


async def undo_like(session: AsyncSession, h: HandlerContext, undone_id: str, actor: Actor) -> str:
    found = await session.exec(select(Favourite).where(Favourite.uri == undone_id, Favourite.actor_id == actor.id))
    favourite = found.first()
    if favourite is None:
        session.add(Tombstone(uri=undone_id, actor_uri=actor.uri))
        return "undo of an unknown like remembered"
    await session.delete(favourite)
    status = await session.get(Status, favourite.status_id)
    author = await _local_author(session, status)
    if author is not None:
        await withdraw(session, recipient=author, kinds=("favourite",), from_actor=actor, status=status)
    return "unfavourited"


async def undo_announce(session: AsyncSession, h: HandlerContext, undone_id: str, actor: Actor) -> str:
    found = await session.exec(select(Status).where(Status.uri == undone_id, Status.actor_id == actor.id))
    boost = found.first()
    if boost is None:
        session.add(Tombstone(uri=undone_id, actor_uri=actor.uri))
        return "undo of an unknown boost remembered"
    boost.deleted_at = h.clock()
    session.add(boost)
    original = await session.get(Status, boost.reblog_of_id) if boost.reblog_of_id is not None else None
    author = await _local_author(session, original)
    if author is not None:
        await withdraw(session, recipient=author, kinds=("reblog",), from_actor=actor, status=original)
    return "boost removed"


def undone_id(activity: Activity, actor: Actor) -> str:
    obj = activity.get("object")
    undone = id_of(obj, "object")
    if not same_origin(undone, actor.uri):
        raise DocumentError("an actor may only undo its own activities")
    if isinstance(obj, dict) and obj.get("actor") not in (None, actor.uri):
        raise DocumentError("an actor may only undo its own activities")
    return undone
