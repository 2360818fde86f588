"""Who may see a status. One rule, used by every route that can show one."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.tables import Actor, Follow, Mention, Status

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
    mentioned = await session.exec(
        select(func.count()).select_from(Mention).join(Actor, Actor.uri == Mention.actor_uri)
        .where(Mention.status_id == status.id, Actor.domain == domain))
    if mentioned.one() > 0:
        return True
    if status.visibility == "direct" or (status.visibility == "network" and not network_member):
        return False
    following = await session.exec(
        select(func.count()).select_from(Follow).join(Actor, Actor.id == Follow.follower_id)
        .where(Follow.followee_id == author.id, Follow.state == "accepted", Actor.domain == domain))
    return following.one() > 0
