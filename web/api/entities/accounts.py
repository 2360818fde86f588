"""Account, CredentialAccount and Relationship.

Accounts are rendered in batches: `load_accounts` fetches what every Account needs (the
actor, its counts, the local person's role) for any number of actors in a fixed number of
queries, and `account` builds one entity from that batch without touching the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, and_, func, or_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.urls import LocalUrls
from federation.html import clean_html
from storage.prepared import many
from storage.tables import Actor, Block, Follow, Mute, Status, User, utcnow
from web.api.compose import to_text
from web.api.entities.formats import entity_id, iso_date, iso_datetime, missing_avatar, missing_header

# Mastodon's permission bits (app/models/user_role.rb), for the roles a Rounds person holds.
ADMINISTRATOR = 1 << 0
VIEW_AUDIT_LOG = 1 << 2
VIEW_DASHBOARD = 1 << 3
MANAGE_REPORTS = 1 << 4
MANAGE_FEDERATION = 1 << 5
MANAGE_BLOCKS = 1 << 7
MANAGE_USERS = 1 << 10
# role → (id, name, permissions, highlighted). Members hold Mastodon's "everyone" role (-99);
# staff are highlighted so apps show the institution's verification as a badge.
ROLES: dict[str, tuple[str, str, int, bool]] = {
    "member": ("-99", "", 0, False),
    "staff": ("1", "Staff", 0, True),
    "moderator": ("2", "Moderator", VIEW_AUDIT_LOG | VIEW_DASHBOARD | MANAGE_REPORTS | MANAGE_FEDERATION
                  | MANAGE_BLOCKS | MANAGE_USERS, True),
    "admin": ("3", "Admin", ADMINISTRATOR, True),
}


@dataclass
class AccountBatch:
    """Everything `account` needs for a set of actors, loaded together."""

    actors: dict[int, Actor] = field(default_factory=dict)
    followers: dict[int, int] = field(default_factory=dict)
    following: dict[int, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    last_status: dict[int, datetime] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)


# Direct posts are left out of the count and the date (as Mastodon's counter caches): every
# viewer is shown them, so they must not tell when someone writes privately. The partial index
# of migration 0014 answers both from the index alone.
_COUNTED = (Status.actor_id == Actor.id, Status.deleted_at.is_(None), Status.visibility != "direct")  # type: ignore[union-attr]
_ACTORS = (select(Actor, User.role,
                  select(func.count()).where(*_COUNTED).scalar_subquery(),
                  select(func.max(Status.created_at)).where(*_COUNTED).scalar_subquery(),
                  select(func.count()).where(Follow.followee_id == Actor.id, Follow.state == "accepted")
                  .scalar_subquery(),
                  select(func.count()).where(Follow.follower_id == Actor.id, Follow.state == "accepted")
                  .scalar_subquery())
           .outerjoin(User, User.actor_id == Actor.id).where(Actor.id.in_(many("ids"))))


async def load_accounts(session: AsyncSession, actor_ids: Iterable[int]) -> AccountBatch:
    """The actors with their counts and roles, in one statement."""
    ids = sorted(set(actor_ids))
    batch = AccountBatch()
    if not ids:
        return batch
    for actor, role, statuses, last, followers, following in (await session.exec(_ACTORS, params={"ids": ids})).all():
        batch.actors[actor.id] = actor
        if role is not None:
            batch.roles[actor.id] = role
        if statuses:
            batch.statuses[actor.id] = statuses
            batch.last_status[actor.id] = last  # max() keeps the column's type: an aware datetime
        if followers:
            batch.followers[actor.id] = followers
        if following:
            batch.following[actor.id] = following
    return batch


def acct_of(actor: Actor) -> str:
    """`username` for local accounts, `username@domain` for remote ones."""
    return actor.username if actor.domain is None else f"{actor.username}@{actor.domain}"


def account(actor: Actor, batch: AccountBatch, urls: LocalUrls) -> dict[str, Any]:
    avatar, header = actor.avatar_url or missing_avatar(urls), actor.header_url or missing_header(urls)
    role = batch.roles.get(actor.id)
    highlighted = [] if role is None or not ROLES[role][3] else [
        {"id": ROLES[role][0], "name": ROLES[role][1], "color": ""}]
    entity: dict[str, Any] = {
        "id": entity_id(actor.id),
        "username": actor.username,
        "acct": acct_of(actor),
        "display_name": actor.display_name or "",
        "locked": actor.locked,
        "bot": actor.actor_type in ("Service", "Application"),
        "discoverable": actor.discoverable,
        "indexable": actor.indexable,
        "group": actor.actor_type == "Group",
        "created_at": iso_datetime(actor.created_at),
        "note": clean_html(actor.summary),
        "url": actor.url or actor.uri,
        "uri": actor.uri,
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": batch.followers.get(actor.id, 0),
        "following_count": batch.following.get(actor.id, 0),
        "statuses_count": batch.statuses.get(actor.id, 0),
        "last_status_at": iso_date(batch.last_status.get(actor.id)),
        "hide_collections": actor.hide_collections,
        "noindex": not actor.indexable,
        "emojis": [],
        "roles": highlighted,
        "fields": [{"name": field["name"], "value": field["value"], "verified_at": None} for field in actor.fields],
    }
    if actor.silenced_at is not None:
        entity["limited"] = True
    if actor.suspended_at is not None:
        # As Mastodon shows a suspended account: that it is, and nothing it wrote about itself.
        entity.update(suspended=True, display_name="", note="", fields=[], avatar=missing_avatar(urls),
                      avatar_static=missing_avatar(urls), header=missing_header(urls),
                      header_static=missing_header(urls))
    return entity


def role_entity(role: str) -> dict[str, Any]:
    role_id, name, permissions, highlighted = ROLES[role]
    return {"id": role_id, "name": name, "permissions": str(permissions), "color": "", "highlighted": highlighted}


async def credential_account(session: AsyncSession, actor: Actor, user: User, urls: LocalUrls) -> dict[str, Any]:
    """The signed-in person's own Account, with `source` (what their settings hold) and `role`."""
    batch = await load_accounts(session, [actor.id])
    requests = await session.exec(select(func.count()).select_from(Follow).where(
        Follow.followee_id == actor.id, Follow.state == "pending"))
    entity = account(batch.actors.get(actor.id, actor), batch, urls)
    entity["source"] = {
        "privacy": user.default_visibility,
        "sensitive": user.sensitive_by_default,
        "language": user.locale or "",
        "note": to_text(actor.summary),  # what the person typed, for the profile editor
        "fields": [{"name": field["name"], "value": to_text(field["value"]), "verified_at": None}
                   for field in actor.fields],
        "follow_requests_count": requests.one(),
        "hide_collections": actor.hide_collections,
        "discoverable": actor.discoverable,
        "indexable": actor.indexable,
        "attribution_domains": [],
    }
    entity["role"] = role_entity(user.role)
    return entity


def mute_in_force(now: datetime | BindParameter[Any] | None = None) -> ColumnElement[bool]:
    """A mute that has not expired: one with a `duration` lapses by itself, with no job to end it."""
    return or_(Mute.expires_at.is_(None),  # type: ignore[union-attr]
               Mute.expires_at > (utcnow() if now is None else now))


async def relationships(session: AsyncSession, viewer_id: int, target_ids: list[int]) -> list[dict[str, Any]]:
    """One Relationship per target, in the order asked, from three queries."""
    ids = set(target_ids)
    follows = (await session.exec(select(Follow).where(or_(
        and_(Follow.follower_id == viewer_id, Follow.followee_id.in_(ids)),
        and_(Follow.followee_id == viewer_id, Follow.follower_id.in_(ids)))))).all()
    blocks = (await session.exec(select(Block.actor_id, Block.target_id).where(or_(
        and_(Block.actor_id == viewer_id, Block.target_id.in_(ids)),
        and_(Block.target_id == viewer_id, Block.actor_id.in_(ids)))))).all()
    outgoing = {row.followee_id: row for row in follows if row.follower_id == viewer_id}
    incoming = {row.follower_id: row.state for row in follows if row.followee_id == viewer_id}
    mutes = (await session.exec(select(Mute.target_id, Mute.notifications).where(
        Mute.actor_id == viewer_id, Mute.target_id.in_(ids), mute_in_force()))).all()
    blocking = {target for actor, target in blocks if actor == viewer_id}
    blocked_by = {actor for actor, target in blocks if target == viewer_id}
    muting = dict(mutes)
    return [relationship(target, outgoing.get(target), incoming.get(target), target in blocking,
                         target in blocked_by, muting=target in muting, muting_notifications=muting.get(target, False))
            for target in target_ids]


def relationship(target_id: int, outgoing: Follow | None, incoming: str | None, blocking: bool,
                 blocked_by: bool, *, muting: bool = False, muting_notifications: bool = False) -> dict[str, Any]:
    """`outgoing`: the viewer's follow of the target, if any; `incoming`: the state of the
    target's follow of the viewer; `muting_notifications`: the viewer's mute of the target
    silences its notifications too. A request's settings show while it waits, as in Mastodon."""
    state = outgoing.state if outgoing is not None else None
    return {
        "id": entity_id(target_id),
        "following": state == "accepted",
        "showing_reblogs": outgoing is not None and outgoing.show_reblogs,
        "notifying": outgoing is not None and outgoing.notify,
        "languages": None,
        "followed_by": incoming == "accepted",
        "blocking": blocking,
        "blocked_by": blocked_by,
        "muting": muting,
        "muting_notifications": muting and muting_notifications,
        "requested": state == "pending",
        "requested_by": incoming == "pending",
        "domain_blocking": False,
        "endorsed": False,
        "note": "",
    }
