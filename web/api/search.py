"""`GET /api/v2/search`: accounts by name, hashtags by prefix, and discovery with `resolve`.

With `resolve=true` a `user@domain` handle is looked up by WebFinger and its actor fetched,
and an http(s) URL is fetched: an actor becomes an Account, a post a Status. Nothing is
fetched from a host the domain policy refuses, and a failed fetch is an empty result, never
an error: clients search as the user types. Statuses are only found by URL (there is no
full-text index).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from actors.accounts import find_local_actor
from actors.remote import ActorUnavailable
from actors.visibility import local_viewer_may_see
from federation.documents import ACTOR_TYPES, NOTE_TYPES, DocumentError, host_of, parse_note, same_origin, type_of
from federation.fetch import FetchError
from moderation.policy import DomainRules, suspended_author
from storage.tables import Actor, Follow, Status, StatusTag, Tombstone, User
from web.api.entities import account, load_accounts, render_status, status_tag
from web.api.params import get, query_bool
from web.auth import optional_viewer
from web.context import AppContext, context_of
from web.responses import JSONResponse
from web.services import Federation

log = logging.getLogger("rounds.search")

KINDS = frozenset({"accounts", "statuses", "hashtags"})
DEFAULT_LIMIT, MAX_LIMIT = 20, 40
# Mastodon's own messages for the two things an anonymous search may not do.
RESOLVE_NEEDS_USER = "Search queries that resolve remote resources are not supported without authentication"
OFFSET_NEEDS_USER = "Search queries pagination is not supported without authentication"
HANDLE = re.compile(r"@?(?P<user>[^@\s/?#]+)@(?P<domain>[^@\s/?#]+)")
# Only posts anyone may read are kept from a search fetch: it proves nobody here was addressed.
FETCHABLE_VISIBILITY = ("public", "unlisted")


@dataclass(frozen=True)
class SearchQuery:
    text: str
    kinds: frozenset[str]
    resolve: bool
    limit: int
    offset: int

    @classmethod
    def of(cls, request: Request) -> SearchQuery:
        params = request.query_params
        wanted = params.get("type", "")
        # An unknown type finds nothing, as in Mastodon (which computes only the types it knows).
        kinds = KINDS if not wanted else KINDS & {wanted}
        return cls(text=params.get("q", "").strip(), kinds=kinds, resolve=query_bool(request, "resolve"),
                   limit=max(1, min(_count(params.get("limit"), DEFAULT_LIMIT), MAX_LIMIT)),
                   offset=_count(params.get("offset"), 0))


def _count(raw: str | None, default: int) -> int:
    return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) < 10 else default


@dataclass
class Found:
    actors: list[Actor]
    statuses: list[Status]
    hashtags: list[str]


async def search(request: Request) -> Response:
    viewer = await optional_viewer(request, "read:search")
    query = SearchQuery.of(request)
    if query.resolve and viewer is None:
        raise HTTPException(401, RESOLVE_NEEDS_USER)
    if query.offset and viewer is None:
        raise HTTPException(401, OFFSET_NEEDS_USER)
    viewer_id = viewer.actor.id if viewer else None
    ctx = context_of(request)
    found = await _find(ctx, request.app.state.federation, query)
    async with ctx.database.session() as session:
        batch = await load_accounts(session, [actor.id for actor in found.actors])
        statuses = []
        for status in found.statuses:
            if await local_viewer_may_see(session, status, viewer_id):
                entity = await render_status(session, status, ctx.urls, viewer_id)
                statuses.extend([entity] if entity is not None else [])
    return JSONResponse({
        "accounts": [account(batch.actors[actor.id], batch, ctx.urls) for actor in found.actors
                     if actor.id in batch.actors],
        "statuses": statuses,
        "hashtags": [tag_entity(name, ctx) for name in found.hashtags],
    })


def tag_entity(name: str, ctx: AppContext) -> dict[str, Any]:
    """Mastodon's Tag (not the shorter one inside a Status); no usage history is kept yet."""
    return {**status_tag(name, ctx.urls), "history": [], "following": False}


async def find_accounts(ctx: AppContext, federation: Federation, query: SearchQuery, *,
                        followed_by: int | None = None) -> list[Actor]:
    """The accounts this search finds (`GET /api/v1/accounts/search` as well); with
    `followed_by`, only those that person follows (accepted)."""
    found = await _find(ctx, federation, replace(query, kinds=frozenset({"accounts"})), followed_by)
    return found.actors


async def _find(ctx: AppContext, federation: Federation, query: SearchQuery,
                followed_by: int | None = None) -> Found:
    found = Found(actors=[], statuses=[], hashtags=[])
    text = query.text
    if not text or not query.kinds:
        return found
    if text.startswith(("http://", "https://")):
        # A URL names one thing: it is only ever the first result.
        if query.offset == 0 and query.kinds & {"accounts", "statuses"}:
            thing = await _by_url(ctx, federation, text, query.resolve)
            if isinstance(thing, Actor) and "accounts" in query.kinds:
                found.actors.append(thing)
            elif isinstance(thing, Status) and "statuses" in query.kinds:
                found.statuses.append(thing)
        return await _followed_only(ctx, found, followed_by)
    handle = HANDLE.fullmatch(text)
    if handle is not None:
        if query.offset == 0 and "accounts" in query.kinds:
            actor = await _by_handle(ctx, federation, handle["user"], handle["domain"].lower(), query.resolve)
            found.actors.extend([actor] if actor is not None else [])
        return await _followed_only(ctx, found, followed_by)
    async with ctx.database.session() as session:
        if "accounts" in query.kinds:
            found.actors = await _accounts_named(session, text.removeprefix("@").lower(), query, followed_by)
        if "hashtags" in query.kinds:
            found.hashtags = await _hashtags(session, text.removeprefix("#").lower(), query)
    return found


# --- by name ------------------------------------------------------------------------------

def _followed(followed_by: int) -> ColumnElement[bool]:
    return exists().where(Follow.follower_id == followed_by, Follow.followee_id == Actor.id,
                          Follow.state == "accepted")


async def _followed_only(ctx: AppContext, found: Found, followed_by: int | None) -> Found:
    """A URL or handle names one account: keep it only if `followed_by` follows it."""
    if followed_by is None or not found.actors:
        return found
    async with ctx.database.session() as session:
        kept = set((await session.exec(select(Actor.id).where(
            Actor.id.in_([actor.id for actor in found.actors]), _followed(followed_by)))).all())
    found.actors = [actor for actor in found.actors if actor.id in kept]
    return found


async def _accounts_named(session: AsyncSession, prefix: str, query: SearchQuery,
                          followed_by: int | None = None) -> list[Actor]:
    """Known remote accounts and active local people whose username or display name starts
    with `prefix` (the instance actor has no login, so it is never listed)."""
    if not prefix:
        return []
    active_person = exists().where(User.actor_id == Actor.id, User.approved.is_(True),  # type: ignore[attr-defined]
                                   User.disabled.is_(False))  # type: ignore[attr-defined]
    statement = (
        select(Actor)
        .where(or_(Actor.domain.is_not(None), active_person), ~suspended_author(Actor.id),  # type: ignore[union-attr]
               or_(Actor.username_key.startswith(prefix, autoescape=True),  # type: ignore[attr-defined]
                   func.lower(Actor.display_name).startswith(prefix, autoescape=True))))
    if followed_by is not None:
        statement = statement.where(_followed(followed_by))
    rows = await session.exec(
        statement.order_by(Actor.domain.is_not(None), Actor.username_key, Actor.id)  # type: ignore[union-attr]
        .offset(query.offset).limit(query.limit))
    return list(rows.all())


async def _hashtags(session: AsyncSession, prefix: str, query: SearchQuery) -> list[str]:
    """Tags of live posts anyone may read (a tag used only in a direct post stays private)."""
    if not prefix:
        return []
    name = func.lower(StatusTag.name)
    rows = await session.exec(
        select(name).join(Status, Status.id == StatusTag.status_id)
        .where(name.startswith(prefix, autoescape=True), Status.visibility.in_(FETCHABLE_VISIBILITY),
               Status.deleted_at.is_(None))  # type: ignore[union-attr]
        .group_by(name).order_by(name).offset(query.offset).limit(query.limit))
    return list(rows.all())


# --- by handle ----------------------------------------------------------------------------

async def _by_handle(ctx: AppContext, federation: Federation, user: str, domain: str,
                     resolve: bool) -> Actor | None:
    async with ctx.database.session() as session:
        if domain == ctx.urls.domain:
            local = await find_local_actor(session, user)
            return local if local is not None and await _active(session, local) else None
        known = (await session.exec(select(Actor).where(
            Actor.username_key == user.lower(), func.lower(Actor.domain) == domain))).first()
    rules = await federation.policy.load(ctx.database)
    if known is not None and (not rules.allows(domain) or rules.actor_refusal(known.uri)):
        return None  # a suspended domain or account is not found by search
    if known is not None or not resolve or not rules.allows(domain):
        return known
    scheme = "https" if ctx.settings.https else "http"
    try:
        finger = await federation.fetcher.webfinger(f"{user}@{domain}", scheme=scheme)
        if not rules.allows(host_of(finger.actor_url)):
            return None
        actor = await federation.actors.resolve(finger.actor_url)
        if (actor.username_key, actor.domain) == (user.lower(), domain):
            return actor
        # The handle's host named an actor elsewhere: believe it only if the actor's own host
        # WebFingers its acct back to the same actor (federation.fetch, checklist H1).
        back = await federation.fetcher.webfinger(f"{actor.username}@{actor.domain}", scheme=scheme)
        if back.actor_url == actor.uri:
            return actor
        log.info("search: %s@%s names %s, whose host does not confirm it", user, domain, actor.uri)
        return None
    except (FetchError, DocumentError, ActorUnavailable) as error:
        log.info("search: %s@%s not resolved: %s", user, domain, error)
        return None


async def _active(session: AsyncSession, actor: Actor) -> bool:
    user = (await session.exec(select(User).where(User.actor_id == actor.id))).first()
    return user is not None and user.approved and not user.disabled


# --- by URL -------------------------------------------------------------------------------

async def _by_url(ctx: AppContext, federation: Federation, url: str, resolve: bool) -> Actor | Status | None:
    known = await _known_by_url(ctx, url)
    rules = await federation.policy.load(ctx.database)
    if known is not None:
        return known if await _allowed(ctx, rules, known) else None
    if not resolve:
        return None
    try:
        host = host_of(url)
        if host == ctx.urls.domain or not rules.allows(host):
            return None
        document = await federation.fetcher.fetch_activity(url)
        kind = type_of(document)
        if kind in ACTOR_TYPES:
            return await federation.actors.resolve(document["id"])
        if kind in NOTE_TYPES:
            return await _store_fetched_note(ctx, federation, document)
    except (FetchError, DocumentError, ActorUnavailable) as error:
        log.info("search: %s not resolved: %s", url, error)
        return None
    return None  # some other kind of object: nothing a search answers


async def _allowed(ctx: AppContext, rules: DomainRules, found: Actor | Status) -> bool:
    """Is what search found from a domain or account that is not suspended here?"""
    if isinstance(found, Status):
        if found.local:
            return True
        async with ctx.database.session() as session:
            author = await session.get(Actor, found.actor_id)
        if author is None:
            return False
        found = author
    if found.domain is None:
        return True
    return rules.allows(found.domain) and rules.actor_refusal(found.uri) is None


async def _known_by_url(ctx: AppContext, url: str) -> Actor | Status | None:
    async with ctx.database.session() as session:
        actor = (await session.exec(select(Actor).where(or_(Actor.uri == url, Actor.url == url))
                                    .order_by(Actor.id))).first()
        if actor is not None:
            return actor if actor.domain is not None or await _active(session, actor) else None
        return (await session.exec(select(Status).where(
            or_(Status.uri == url, Status.url == url), Status.deleted_at.is_(None),  # type: ignore[union-attr]
            Status.reblog_of_id.is_(None)).order_by(Status.id))).first()  # type: ignore[union-attr]


async def _store_fetched_note(ctx: AppContext, federation: Federation, document: dict[str, Any]) -> Status | None:
    """Keep a fetched post as the inbox keeps a boosted one (`inbox.reactions._fetch_boosted`):
    its author must be on its host (origin rule), and is resolved before anything is written
    here, since resolving writes in a transaction of its own."""
    note = parse_note(document)
    if not same_origin(note.attributed_to, note.uri):
        raise DocumentError("the post's author is not on its host")
    author = await federation.actors.resolve(note.attributed_to)
    visibility = note.visibility(author.followers_uri)
    if visibility not in FETCHABLE_VISIBILITY:
        return None
    try:
        async with ctx.database.transaction() as session:
            if await session.get(Tombstone, note.uri) is not None:
                return None
            existing = (await session.exec(select(Status).where(Status.uri == note.uri))).first()
            if existing is not None:
                return existing
            status = Status(uri=note.uri, actor_id=author.id, local=False, visibility=visibility,
                            content=note.content, summary=note.summary, sensitive=note.sensitive,
                            language=note.language, url=note.url, in_reply_to_uri=note.in_reply_to)
            if note.published is not None and note.published <= federation.clock():
                status.created_at = note.published
            session.add(status)
            await session.flush()
            for name in note.hashtags:
                session.add(StatusTag(status_id=status.id, name=name))
        return status
    except IntegrityError:  # stored meanwhile by the inbox or another search: take that copy
        async with ctx.database.session() as session:
            return (await session.exec(select(Status).where(Status.uri == note.uri))).first()


routes = [*get("/api/v2/search", search)]
