"""ActivityPub GET routes: actor documents and their collections."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.accounts import find_local_actor
from actors.documents import actor_document, featured_uri, ordered_collection, ordered_collection_page
from federation.vocab import PUBLIC
from outbox.documents import activity, note_document
from storage.tables import Actor, Follow, MediaAttachment, Mention, Pin, Status, StatusTag
from web.context import context_of
from web.negotiation import wants_activity_json
from web.objects import refuse_suspended_signer
from web.pages import profile_page
from web.responses import ActivityJSONResponse

COLLECTION_PAGE_SIZE = 40
OUTBOX_VISIBILITIES = ("public", "unlisted")


async def _local_actor_or_404(request: Request) -> Actor:
    await refuse_suspended_signer(request)
    username = request.path_params["username"]
    async with context_of(request).database.session() as session:
        actor = await find_local_actor(session, username)
    if actor is None:
        raise HTTPException(404, f"no account named {username!r} here")
    if actor.suspended_at is not None:  # as Mastodon: gone while suspended, so copies elsewhere are dropped
        raise HTTPException(410, f"the account {username!r} is suspended")
    return actor


async def actor(request: Request) -> Response:
    person = await _local_actor_or_404(request)
    if not wants_activity_json(request):
        return await profile_page(request, person)
    return ActivityJSONResponse(actor_document(person))


async def instance_actor(request: Request) -> Response:
    await refuse_suspended_signer(request)
    ctx = context_of(request)
    async with ctx.database.session() as session:
        found = await session.exec(select(Actor).where(Actor.uri == ctx.urls.instance_actor))
        application = found.first()
    if application is None:
        raise HTTPException(503, "the instance actor is missing: run `rounds init`")
    return ActivityJSONResponse(actor_document(application))


def _page_number(request: Request) -> int | None:
    raw = request.query_params.get("page")
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise HTTPException(400, "page must be a whole number from 1")
    return int(raw)


async def _follow_collection(request: Request, *, followers: bool) -> Response:
    person = await _local_actor_or_404(request)
    collection_id = person.followers_uri if followers else person.following_uri
    assert collection_id is not None
    # Followers are the actors following `person`; following, the ones `person` follows.
    own_side = Follow.followee_id if followers else Follow.follower_id
    other_side = Follow.follower_id if followers else Follow.followee_id
    accepted = (own_side == person.id) & (Follow.state == "accepted")
    page = _page_number(request)
    async with context_of(request).database.session() as session:
        total = (await session.exec(select(func.count()).select_from(Follow).where(accepted))).one()
        if person.hide_collections:
            # The count stays public, as on Mastodon; who is in it does not.
            return ActivityJSONResponse(ordered_collection(collection_id, total, first=None))
        if page is None:
            return ActivityJSONResponse(
                ordered_collection(collection_id, total, first=f"{collection_id}?page=1")
            )
        rows = await session.exec(
            select(Actor.uri).join(Follow, other_side == Actor.id).where(accepted)
            .order_by(Follow.id.desc())  # type: ignore[attr-defined]
            .offset((page - 1) * COLLECTION_PAGE_SIZE).limit(COLLECTION_PAGE_SIZE + 1)
        )
        uris = list(rows.all())
    return ActivityJSONResponse(ordered_collection_page(
        collection_id, page, uris[:COLLECTION_PAGE_SIZE],
        has_next=len(uris) > COLLECTION_PAGE_SIZE,
    ))


async def followers(request: Request) -> Response:
    return await _follow_collection(request, followers=True)


async def following(request: Request) -> Response:
    return await _follow_collection(request, followers=False)


async def outbox(request: Request) -> Response:
    """Public and unlisted posts (as `Create`) and boosts (as `Announce`), newest first."""
    person = await _local_actor_or_404(request)
    assert person.outbox_uri is not None
    shown = (Status.actor_id == person.id, Status.visibility.in_(OUTBOX_VISIBILITIES),  # type: ignore[attr-defined]
             Status.deleted_at.is_(None))  # type: ignore[union-attr]
    page = _page_number(request)
    async with context_of(request).database.session() as session:
        total = (await session.exec(select(func.count()).select_from(Status).where(*shown))).one()
        if page is None:
            first = f"{person.outbox_uri}?page=1" if total else None
            return ActivityJSONResponse(ordered_collection(person.outbox_uri, total, first=first))
        rows = await session.exec(select(Status).where(*shown).order_by(Status.id.desc())  # type: ignore[attr-defined]
                                  .offset((page - 1) * COLLECTION_PAGE_SIZE).limit(COLLECTION_PAGE_SIZE + 1))
        statuses = list(rows.all())
        items = await _outbox_items(session, request, person, statuses[:COLLECTION_PAGE_SIZE])
    return ActivityJSONResponse(ordered_collection_page(person.outbox_uri, page, items,
                                                        has_next=len(statuses) > COLLECTION_PAGE_SIZE))


async def featured(request: Request) -> Response:
    """The person's pinned posts (Mastodon's `featured`), as Notes: public and unlisted ones
    only, whoever asks; at most five, so in one page."""
    person = await _local_actor_or_404(request)
    async with context_of(request).database.session() as session:
        rows = await session.exec(
            select(Status).join(Pin, Pin.status_id == Status.id)
            .where(Pin.actor_id == person.id, Status.actor_id == person.id,
                   Status.visibility.in_(OUTBOX_VISIBILITIES), Status.deleted_at.is_(None))  # type: ignore[attr-defined,union-attr]
            .order_by(Pin.id.desc()))  # type: ignore[union-attr]
        notes = await _notes(session, request, person, list(rows.all()))
    collection = featured_uri(person.uri)
    document = ordered_collection(collection, len(notes), first=None)
    document["orderedItems"] = notes
    return ActivityJSONResponse(document)


async def _outbox_items(session: AsyncSession, request: Request, person: Actor,
                        statuses: list[Status]) -> list[dict[str, Any]]:
    notes = iter(await _notes(session, request, person, [status for status in statuses if not status.reblog_of_id]))
    boosted_ids = [status.reblog_of_id for status in statuses if status.reblog_of_id]
    boosted = {row.id: row.uri for row in (await session.exec(
        select(Status).where(Status.id.in_(boosted_ids)))).all()}  # type: ignore[attr-defined]
    items: list[dict[str, Any]] = []
    for status in statuses:
        if status.reblog_of_id:
            if status.reblog_of_id in boosted:
                items.append(activity("Announce", status.uri, person, boosted[status.reblog_of_id],
                                      to=[PUBLIC], cc=[person.followers_uri] if person.followers_uri else [],
                                      published=status.created_at))
            continue
        note = next(notes)
        items.append(activity("Create", f"{status.uri}/activity", person, note, to=note["to"], cc=note["cc"],
                              published=status.created_at))
    for item in items:
        item.pop("@context", None)
    return items


async def _notes(session: AsyncSession, request: Request, person: Actor,
                 statuses: list[Status]) -> list[dict[str, Any]]:
    """The Note of each of the person's own statuses, in order, from four queries."""
    ids = [status.id for status in statuses]
    mentions: dict[int, list[str]] = defaultdict(list)
    tags: dict[int, list[str]] = defaultdict(list)
    media: dict[int, list[MediaAttachment]] = defaultdict(list)
    for status_id, uri in (await session.exec(
            select(Mention.status_id, Mention.actor_uri).where(Mention.status_id.in_(ids)))).all():  # type: ignore[attr-defined]
        mentions[status_id].append(uri)
    for status_id, name in (await session.exec(
            select(StatusTag.status_id, StatusTag.name).where(StatusTag.status_id.in_(ids)))).all():  # type: ignore[attr-defined]
        tags[status_id].append(name)
    for attachment in (await session.exec(
            select(MediaAttachment).where(MediaAttachment.status_id.in_(ids))
            .order_by(MediaAttachment.position, MediaAttachment.id))).all():  # type: ignore[attr-defined]
        media[attachment.status_id].append(attachment)
    tag_url = f"{context_of(request).urls.base_url}/tags/{{name}}"
    return [note_document(status, person, mention_uris=mentions[status.id], hashtags=tags[status.id],
                          attachments=media[status.id], tag_url=tag_url, with_context=False)
            for status in statuses]


routes = [
    Route("/users/{username}", actor),
    Route("/users/{username}/followers", followers),
    Route("/users/{username}/following", following),
    Route("/users/{username}/outbox", outbox),
    Route("/users/{username}/collections/featured", featured),
    Route("/actor", instance_actor),
]
