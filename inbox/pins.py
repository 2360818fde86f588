"""Pins from other servers: `Add` and `Remove` of a post on its author's `featured` collection.

Only an author's own posts, known here and not deleted, are pinned, so a sender can change
nothing but its own pins; an `Add` to any other collection (featured hashtags, say) names no
post of theirs and is ignored. The target must be on the sender's host. Remote pins show in
`GET /api/v1/accounts/:id/statuses?pinned=true` as local ones do.
"""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from federation.documents import id_of, same_origin
from inbox.context import Activity, HandlerContext, Ignore
from storage.tables import Actor, Pin, Status

MAX_REMOTE_PINS = 32  # Mastodon allows 5; a server pinning more is cut off, not believed forever


async def _own_post(session: AsyncSession, activity: Activity, actor: Actor) -> Status:
    target = id_of(activity.get("target"), "target")
    if not same_origin(target, actor.uri):
        raise Ignore("the collection is not on the sender's host")
    uri = id_of(activity.get("object"), "object")
    status = (await session.exec(select(Status).where(
        Status.uri == uri, Status.actor_id == actor.id, Status.deleted_at.is_(None)))).first()  # type: ignore[union-attr]
    if status is None:
        raise Ignore("not a post of the sender's kept here")
    return status


async def on_add(session: AsyncSession, h: HandlerContext, activity: Activity, actor: Actor) -> str:
    status = await _own_post(session, activity, actor)
    pins = (await session.exec(select(Pin.status_id).where(Pin.actor_id == actor.id))).all()
    if status.id in pins:
        return "already pinned"
    if len(pins) >= MAX_REMOTE_PINS:
        raise Ignore(f"more than {MAX_REMOTE_PINS} pins")
    session.add(Pin(actor_id=actor.id, status_id=status.id))
    return "pinned"


async def on_remove(session: AsyncSession, h: HandlerContext, activity: Activity, actor: Actor) -> str:
    status = await _own_post(session, activity, actor)
    pin = (await session.exec(select(Pin).where(Pin.actor_id == actor.id, Pin.status_id == status.id))).first()
    if pin is None:
        return "not pinned"
    await session.delete(pin)
    return "unpinned"
