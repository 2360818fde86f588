"""Notifications: what happened to a local person, written where it happens.

One rung below the inbox and the outbox, so a remote event (a delivered Follow, Like,
Announce, Create, Update) and the same event between two local people (which never
federates) notify through the same rules:

    only local recipients; never oneself; nothing from someone the recipient blocks or
    mutes with notifications, nor about a thread they muted; from a silenced account or domain
    only if the recipient follows it; once per event (the row's `key`, unique per recipient, so a
    redelivered activity or a repeated action adds nothing)

Everything runs in the caller's transaction. Undoing the event (Undo of a Like, Announce
or Follow; an unfavourite, unboost or unfollow here) withdraws the notification. A
notification whose status was deleted, or that its recipient may not see, is not listed
(`web.api.notifications` applies `actors.visibility`); the inbox also removes the rows of a
status or an account whose deletion it receives.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.threads import muted_thread_statuses
from actors.visibility import local_viewer_may_see
from moderation.domains import block_covering
from storage.events import StreamEvent, publish
from storage.ids import new_id
from storage.tables import Actor, Block, Follow, Mention, Mute, Notification, Status, utcnow

# Mastodon's kinds that Rounds can produce (its admin.* and severed_relationships are not made here).
# `moderation_warning` comes from the instance actor; its `occasion` is the AccountWarning's id.
KINDS = frozenset({"mention", "status", "reblog", "follow", "follow_request", "favourite", "poll", "update",
                   "moderation_warning"})


def notification_key(kind: str, from_actor: Actor, status: Status | None = None, occasion: str = "") -> str:
    """What makes two notifications the same event. `occasion` tells apart events that may
    happen again for the same pair and status (each edit of a post is its own `update`)."""
    key = f"{kind}:{from_actor.id}:{status.id if status is not None else ''}"
    return f"{key}:{occasion}" if occasion else key


async def silenced(session: AsyncSession, recipient_id: int, sender_id: int, now: datetime) -> bool:
    """Does the recipient block the sender, or mute them with notifications (and not expired)?"""
    blocked = await session.exec(select(Block.id).where(Block.actor_id == recipient_id,
                                                        Block.target_id == sender_id))
    if blocked.first() is not None:
        return True
    muted = await session.exec(select(Mute.id).where(
        Mute.actor_id == recipient_id, Mute.target_id == sender_id, Mute.notifications,
        or_(Mute.expires_at.is_(None), Mute.expires_at > now)))  # type: ignore[union-attr,operator]
    return muted.first() is not None


async def limited_stranger(session: AsyncSession, recipient_id: int, sender: Actor) -> bool:
    """Is the sender silenced or suspended (itself, or its domain) and not followed by the
    recipient? Such accounts notify only the people who follow them (Mastodon's limited accounts)."""
    if sender.silenced_at is None and sender.suspended_at is None:
        if sender.domain is None:
            return False
        block = await block_covering(session, sender.domain)
        if block is None or block.severity not in ("silence", "suspend"):
            return False
    followed = await session.exec(select(Follow.id).where(
        Follow.follower_id == recipient_id, Follow.followee_id == sender.id, Follow.state == "accepted"))
    return followed.first() is None


def _insert_dialect(session: AsyncSession):
    """The dialect's INSERT, which knows ON CONFLICT (both engines spell it the same way)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def notify(session: AsyncSession, *, recipient: Actor, kind: str, from_actor: Actor,
                 status: Status | None = None, occasion: str = "",
                 now: datetime | None = None) -> Notification | None:
    """Tell the local `recipient` that `from_actor` did `kind` (about `status`).

    Returns the new notification, or None when the rules say nothing is due or this very
    event was already notified. Insert-once with ON CONFLICT DO NOTHING: two workers
    applying the same event at once still write one row, and neither transaction fails.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if recipient.domain is not None or (recipient.id == from_actor.id and kind != "poll"):
        return None  # the one exception: the author of a poll hears that it ended
    moment = now or utcnow()
    if await silenced(session, recipient.id, from_actor.id, moment):
        return None
    if status is not None and await muted_thread_statuses(session, recipient.id, [status.id]):
        return None
    # A follow request is the exception: it waits for the recipient's approval, so they must hear of it.
    if kind != "follow_request" and await limited_stranger(session, recipient.id, from_actor):
        return None
    insert = _insert_dialect(session)
    statement = (
        insert(Notification)
        .values(id=new_id(), recipient_id=recipient.id, kind=kind, from_actor_id=from_actor.id,
                status_id=status.id if status is not None else None,
                key=notification_key(kind, from_actor, status, occasion), created_at=moment)
        .on_conflict_do_nothing(index_elements=["recipient_id", "key"])
        .returning(Notification.id)  # type: ignore[arg-type]
    )
    inserted = (await session.exec(statement)).first()  # type: ignore[call-overload]
    if inserted is None:
        return None
    await publish(session, StreamEvent("notification", inserted[0], recipient.id))
    return await session.get(Notification, inserted[0])


async def withdraw(session: AsyncSession, *, recipient: Actor, kinds: Iterable[str], from_actor: Actor,
                   status: Status | None = None) -> int:
    """Remove the notifications of an event that was undone; returns how many went."""
    if recipient.domain is not None:
        return 0
    keys = [notification_key(kind, from_actor, status) for kind in kinds]
    result = await session.exec(delete(Notification).where(  # type: ignore[call-overload]
        Notification.recipient_id == recipient.id, Notification.key.in_(keys)))  # type: ignore[attr-defined]
    return result.rowcount


async def forget_status(session: AsyncSession, status: Status) -> int:
    """Remove every notification about a deleted status."""
    result = await session.exec(delete(Notification).where(  # type: ignore[call-overload]
        Notification.status_id == status.id))
    return result.rowcount


async def forget_actor(session: AsyncSession, actor: Actor) -> int:
    """Remove every notification from an account that was deleted."""
    result = await session.exec(delete(Notification).where(  # type: ignore[call-overload]
        Notification.from_actor_id == actor.id))
    return result.rowcount


# --- the events that notify several people at once -------------------------------------------

async def notify_each(session: AsyncSession, recipients: Iterable[Actor], kind: str, *, from_actor: Actor,
                      status: Status, occasion: str = "", now: datetime | None = None,
                      if_they_may_see: bool = False) -> list[Notification]:
    """`notify` each recipient (only those who may see `status`, when asked); returns the new ones."""
    made = []
    for recipient in recipients:
        if if_they_may_see and not await local_viewer_may_see(session, status, recipient.id):
            continue
        notification = await notify(session, recipient=recipient, kind=kind, from_actor=from_actor,
                                    status=status, occasion=occasion, now=now)
        if notification is not None:
            made.append(notification)
    return made


async def notify_new_status(session: AsyncSession, status: Status, author: Actor, mentioned: Iterable[Actor],
                            *, now: datetime | None = None) -> list[Notification]:
    """A new status: `mention`s (`notify_mentioned`) and a `status` for each local follower
    who asked to hear of the author's posts (`notify_subscribers`)."""
    made = await notify_mentioned(session, status, author, mentioned, now=now)
    return made + await notify_subscribers(session, status, author, now=now)


async def notify_mentioned(session: AsyncSession, status: Status, author: Actor, mentioned: Iterable[Actor],
                           *, now: datetime | None = None) -> list[Notification]:
    """A `mention` for each local account a status names or addresses (remote ones are
    skipped by `notify`), and for the local author of the status it answers when they may see
    the reply: Mastodon counts on replies naming the author, which not every server does.
    Already-notified people are not notified again, so calling this after an edit notifies
    only those the edit added."""
    people = {actor.id: actor for actor in mentioned}
    if status.in_reply_to_uri:
        parent_author = (await session.exec(select(Actor).join(Status, Status.actor_id == Actor.id).where(
            Status.uri == status.in_reply_to_uri, Status.local))).first()
        if parent_author is not None and await local_viewer_may_see(session, status, parent_author.id):
            people.setdefault(parent_author.id, parent_author)
    return await notify_each(session, people.values(), "mention", from_actor=author, status=status, now=now)


async def notify_subscribers(session: AsyncSession, status: Status, author: Actor, *,
                             now: datetime | None = None) -> list[Notification]:
    """A `status` for each local account following the author with `notify`, as Mastodon does:
    not for boosts, direct posts, or replies to someone else; only to those who may see it."""
    if status.reblog_of_id is not None or status.visibility == "direct":
        return []
    if status.in_reply_to_uri:
        parent_author = (await session.exec(select(Status.actor_id).where(
            Status.uri == status.in_reply_to_uri))).first()
        if parent_author != author.id:
            return []
    subscribers = await session.exec(
        select(Actor).join(Follow, Follow.follower_id == Actor.id)
        .where(Follow.followee_id == author.id, Follow.state == "accepted", Follow.notify,
               Actor.domain.is_(None)))  # type: ignore[union-attr]
    return await notify_each(session, subscribers.all(), "status", from_actor=author, status=status, now=now,
                             if_they_may_see=True)


async def notify_boosters_of_update(session: AsyncSession, status: Status, author: Actor, *,
                                    now: datetime | None = None) -> list[Notification]:
    """An `update` for each local account that boosted `status` (Mastodon's rule: the people
    who spread a post hear when it changes). One per edit, keyed by the edit's time."""
    boosts = select(Status.actor_id).where(Status.reblog_of_id == status.id,
                                           Status.deleted_at.is_(None))  # type: ignore[union-attr]
    boosters = await session.exec(
        select(Actor).where(Actor.id.in_(boosts), Actor.domain.is_(None)))  # type: ignore[union-attr]
    edited = status.edited_at or now or utcnow()
    occasion = str(int(edited.timestamp() * 1000))
    return await notify_each(session, boosters.all(), "update", from_actor=author, status=status,
                             occasion=occasion, now=now)


async def notify_edited(session: AsyncSession, status: Status, author: Actor, *,
                        now: datetime | None = None) -> list[Notification]:
    """After an edit: an `update` for the local boosters, a `mention` for whoever the edit
    newly names (those named before were told already)."""
    named = await session.exec(select(Actor).join(Mention, Mention.actor_uri == Actor.uri).where(
        Mention.status_id == status.id, Actor.domain.is_(None)))  # type: ignore[union-attr]
    made = await notify_boosters_of_update(session, status, author, now=now)
    return made + await notify_mentioned(session, status, author, named.all(), now=now)
