"""Create, Update and Delete of posts (and Update/Delete of actors)."""

from __future__ import annotations

from sqlalchemy import delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.accounts import find_local_actor
from actors.notifications import forget_actor, forget_status, notify_edited, notify_new_status
from actors.remote import ActorUnavailable
from federation.documents import (
    MAX_TAGS,
    NOTE_TYPES,
    DocumentError,
    NoteDocument,
    host_of,
    id_of,
    parse_actor,
    parse_note,
    same_origin,
    type_of,
)
from federation.fetch import FetchError
from inbox.context import Activity, HandlerContext, Ignore
from inbox.forwarding import apply_forwarded_delete, forward_to_boosters_followers
from inbox.polls import on_vote, refresh_question, store_question
from moderation.domains import block_covering
from storage.tables import Actor, Favourite, Follow, MediaAttachment, Mention, Status, StatusEdit, StatusTag, Tombstone

MAX_ANCESTORS = 16  # how far up a thread an incoming reply makes us fetch


def _note_of(activity: Activity, actor: Actor, h: HandlerContext) -> NoteDocument:
    obj = activity.get("object")
    if not isinstance(obj, dict):
        raise Ignore("only embedded objects are read from a Create or Update")
    if type_of(obj) not in NOTE_TYPES:
        raise Ignore(f"{type_of(obj)} objects are not kept here")
    note = parse_note(obj)
    # Origin rule: a post is believed only from its own host, by its own author.
    if not same_origin(note.uri, actor.uri):
        raise DocumentError(f"object {note.uri} is not on the actor's host")
    if note.attributed_to != actor.uri:
        raise DocumentError("the object is attributed to someone else than the actor")
    if h.urls.local_username(note.uri) or h.urls.local_username(note.attributed_to):
        raise DocumentError("a remote activity cannot create a local post")
    return note


async def _relevant(session: AsyncSession, h: HandlerContext, note: NoteDocument, actor: Actor) -> bool:
    """Kept only when someone here follows the author, is addressed, or is replied to."""
    followed = await session.exec(
        select(func.count()).select_from(Follow).join(Actor, Actor.id == Follow.follower_id)
        .where(Follow.followee_id == actor.id, Follow.state == "accepted",
               Actor.domain.is_(None)))  # type: ignore[union-attr]
    if followed.one() > 0:
        return True
    if any(h.urls.local_username(uri) for uri in note.recipients + note.named(actor.followers_uri)):
        return True
    if note.in_reply_to and (h.urls.local_username(note.in_reply_to.split("/statuses/")[0]) is not None):
        return True
    return False


async def on_create(session: AsyncSession, h: HandlerContext, activity: Activity, actor: Actor) -> str:
    note = _note_of(activity, actor, h)
    if (counted := await on_vote(session, h, activity, note, actor)) is not None:
        return counted
    tomb = await session.get(Tombstone, note.uri)
    if tomb is not None and tomb.actor_uri == actor.uri:  # only the author's own Delete counts
        raise Ignore("this post was deleted before its Create arrived")
    existing = await session.exec(select(Status.id).where(Status.uri == note.uri))
    if existing.first() is not None:
        raise Ignore("already known")
    if not await _relevant(session, h, note, actor):
        raise Ignore("nobody here follows, is addressed by or is replied to by this post")
    # Fetched before anything is written here: resolving an author writes in a transaction of its own.
    ancestors = await _unknown_ancestors(session, h, note)
    status = await _store(session, h, note, actor)
    await store_question(session, activity, status)
    for parent, author in ancestors:
        await _store(session, h, parent, author)
    await notify_new_status(session, status, actor, await _local_people(session, h, note, actor), now=h.clock())
    return f"stored {note.visibility(actor.followers_uri)} post"


async def _local_people(session: AsyncSession, h: HandlerContext, note: NoteDocument, author: Actor) -> list[Actor]:
    """The local people a post names or addresses. (Fetched ancestors notify nobody: old news.)"""
    people = []
    for uri in dict.fromkeys(note.named(author.followers_uri) + note.recipients):
        username = h.urls.local_username(uri)
        person = await find_local_actor(session, username) if username else None
        if person is not None:
            people.append(person)
    return people


async def _store(session: AsyncSession, h: HandlerContext, note: NoteDocument, author: Actor) -> Status:
    status = Status(
        uri=note.uri, actor_id=author.id, local=False, visibility=note.visibility(author.followers_uri),
        content=note.content, summary=note.summary, sensitive=note.sensitive, language=note.language,
        url=note.url, in_reply_to_uri=note.in_reply_to,
    )
    if note.published is not None and note.published <= h.clock():
        status.created_at = note.published
    session.add(status)
    await session.flush()
    for uri in await _named(session, h, note, author):
        session.add(Mention(status_id=status.id, actor_uri=uri))
    await _add_tags_and_media(session, status, note, author)
    return status


async def _named(session: AsyncSession, h: HandlerContext, note: NoteDocument, author: Actor) -> list[str]:
    """Who a post names: its mentions (`NoteDocument.named`), and the local people it addresses who exist (at most
    `MAX_TAGS` of them: a post addressed to thousands of made-up names makes no rows for them)."""
    addressed = list(dict.fromkeys(u for u in note.recipients if h.urls.local_username(u)))[:MAX_TAGS]
    if addressed:
        known = set((await session.exec(select(Actor.uri).where(
            col(Actor.uri).in_(addressed), col(Actor.domain).is_(None)))).all())
        addressed = [uri for uri in addressed if uri in known]
    return list(dict.fromkeys(note.named(author.followers_uri) + tuple(addressed)))


async def _add_tags_and_media(session: AsyncSession, status: Status, note: NoteDocument, author: Actor) -> None:
    for name in note.hashtags:
        session.add(StatusTag(status_id=status.id, name=name))
    if note.attachments and author.domain and await _media_rejected(session, author.domain):
        return
    for position, media in enumerate(note.attachments):
        session.add(MediaAttachment(status_id=status.id, position=position, remote_url=media.url,
                                    media_type=media.media_type,
                                    description=media.description, blurhash=media.blurhash,
                                    width=media.width, height=media.height))


async def _media_rejected(session: AsyncSession, domain: str) -> bool:
    """The domain's block says `reject_media`: its attachments are neither kept nor shown here."""
    block = await block_covering(session, domain)
    return block is not None and (block.reject_media or block.severity == "suspend")


async def _unknown_ancestors(session: AsyncSession, h: HandlerContext,
                             note: NoteDocument) -> list[tuple[NoteDocument, Actor]]:
    """The posts a reply answers that are not kept here yet, fetched each from its own host.

    Bounded (`MAX_ANCESTORS`, no loops); stops quietly at the first post that is known, local,
    deleted or cannot be fetched: the reply is kept either way.
    """
    chain: list[tuple[NoteDocument, Actor]] = []
    seen = {note.uri}
    uri = note.in_reply_to
    while uri and uri not in seen and len(chain) < MAX_ANCESTORS:
        seen.add(uri)
        if h.urls.local_username(uri.split("/statuses/")[0]) or await session.get(Tombstone, uri) is not None:
            break
        if (await session.exec(select(Status.id).where(Status.uri == uri))).first() is not None:
            break
        try:
            parent = parse_note(await h.fetcher.fetch_activity(uri))
            if parent.uri != uri or not same_origin(parent.attributed_to, uri):
                break
            author = await h.actors.resolve(parent.attributed_to)
        except (FetchError, DocumentError, ActorUnavailable):
            break
        chain.append((parent, author))
        uri = parent.in_reply_to
    return chain


async def on_update(session: AsyncSession, h: HandlerContext, activity: Activity, actor: Actor) -> str:
    obj = activity.get("object")
    if isinstance(obj, dict) and obj.get("id") == actor.uri:
        # The actor updating itself; the signature proved who sent it.
        h.actors.apply_update(actor, parse_actor(obj))
        session.add(actor)
        return "profile updated"
    note = _note_of(activity, actor, h)
    found = await session.exec(select(Status).where(Status.uri == note.uri))
    status = found.first()
    if status is None or status.deleted_at is not None:
        raise Ignore("update of a post not kept here")
    if status.actor_id != actor.id:
        raise DocumentError("only the author may update a post")
    if await refresh_question(session, activity, status, note):
        return "poll totals updated"
    edited_at = min(note.updated or h.clock(), h.clock())
    if status.edited_at is not None and edited_at <= status.edited_at:
        raise Ignore("an older or repeated version of the post")
    # The version before, for the history (as a local edit keeps it).
    session.add(StatusEdit(status_id=status.id, content=status.content, summary=status.summary,
                           sensitive=status.sensitive, created_at=status.edited_at or status.created_at))
    status.content, status.summary, status.sensitive = note.content, note.summary, note.sensitive
    status.language = note.language or status.language
    status.edited_at = edited_at
    session.add(status)
    await _replace_details(session, h, status, note)
    await notify_edited(session, status, actor, now=h.clock())
    return "post updated"


async def _replace_details(session: AsyncSession, h: HandlerContext, status: Status, note: NoteDocument) -> None:
    """An edit's mentions (added: someone named stays named), hashtags and attachments (replaced)."""
    author = await session.get(Actor, status.actor_id)
    assert author is not None
    named = set((await session.exec(select(Mention.actor_uri).where(Mention.status_id == status.id))).all())
    for uri in await _named(session, h, note, author):
        if uri not in named:
            session.add(Mention(status_id=status.id, actor_uri=uri))
    await session.exec(delete(StatusTag).where(StatusTag.status_id == status.id))  # type: ignore[call-overload]
    await session.exec(delete(MediaAttachment).where(MediaAttachment.status_id == status.id))  # type: ignore[call-overload]
    await _add_tags_and_media(session, status, note, author)
    await session.flush()


async def on_delete(session: AsyncSession, h: HandlerContext, activity: Activity, actor: Actor) -> str:
    target = id_of(activity.get("object"), "object")
    claimed_actor = id_of(activity.get("actor"), "actor")
    if claimed_actor != actor.uri:  # signed by a server that forwards it (inbox.accept lets only Deletes by)
        return await apply_forwarded_delete(session, h, target, claimed_actor)
    if not same_origin(target, actor.uri):
        raise DocumentError("an actor may only delete things on its own host")
    if target == actor.uri:
        now = h.clock()
        await session.exec(update(Status).where(Status.actor_id == actor.id)  # type: ignore[call-overload]
                           .values(deleted_at=now, content="", summary=""))
        await session.exec(delete(Follow).where(  # type: ignore[call-overload]
            (Follow.follower_id == actor.id) | (Follow.followee_id == actor.id)))
        await session.exec(delete(Favourite).where(Favourite.actor_id == actor.id))  # type: ignore[call-overload]
        await forget_actor(session, actor)
        return "account removed"
    found = await session.exec(select(Status).where(Status.uri == target))
    status = found.first()
    if status is not None and status.actor_id != actor.id:
        raise DocumentError("only the author may delete a post")  # before any tombstone is left
    if await session.get(Tombstone, target) is None:
        session.add(Tombstone(uri=target, actor_uri=actor.uri))
    if status is None:
        return "deletion remembered"
    status.deleted_at, status.content, status.summary = h.clock(), "", ""
    session.add(status)
    await forget_status(session, status)
    await forward_to_boosters_followers(session, h, activity, status, origin=host_of(actor.uri))
    return "post deleted"
