"""Status, rendered in batches.

`render_statuses` turns any number of statuses into entities with a fixed number of
queries: the boosted originals, the replied-to statuses, the accounts (with their counts),
media, mentions, tags, the three counters, the apps that posted them and the viewer's own
favourites, boosts, bookmarks, pins and mutes are each loaded once for the whole list. The
statements are built once, at import (`storage.prepared`). Callers decide who may see what
before calling.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, null, union
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.threads import statuses_in_threads
from actors.urls import LocalUrls
from actors.visibility import PUBLICLY_SERVED
from federation.html import clean_html, clean_text
from storage.combined import Combined
from storage.prepared import NOW, VIEWER, many
from storage.tables import (
    Actor,
    Bookmark,
    Favourite,
    Filter,
    MediaAttachment,
    Mention,
    Mute,
    OAuthApp,
    Pin,
    Poll,
    PollOption,
    PollVote,
    Status,
    StatusTag,
    ThreadMute,
    utcnow,
)
from web.api.entities.accounts import AccountBatch, account, load_accounts, mute_in_force
from web.api.entities.filtering import ViewerFilters, load_filters
from web.api.entities.formats import entity_id, iso_datetime, optional_datetime
from web.api.entities.media import media_attachment, status_mention, status_tag

COUNTED_REPLIES = tuple(sorted(PUBLICLY_SERVED))
_ALIVE = Status.deleted_at.is_(None)  # type: ignore[union-attr]

# What `load_shared` asks, for the statuses `ids` (with `uris`, and the `parent_uris` they
# answer): one statement for the counts, the replied-to statuses, the tags, and which of the
# statuses have mentions, media or a poll; those are then read only when there are any.
_SHARED = Combined({
    # Only public and unlisted replies count (Mastodon's Status#distributable?): the count is
    # shown to every viewer alike, so it must not tell of followers-only or direct replies.
    "replies": select(Status.in_reply_to_uri, null(), func.count())
    .where(Status.in_reply_to_uri.in_(many("uris")), _ALIVE,  # type: ignore[union-attr]
           Status.visibility.in_(COUNTED_REPLIES))
    .group_by(Status.in_reply_to_uri),
    "reblogs": select(null(), Status.reblog_of_id, func.count())
    .where(Status.reblog_of_id.in_(many("ids")), _ALIVE).group_by(Status.reblog_of_id),  # type: ignore[union-attr]
    "favourites": select(null(), Favourite.status_id, func.count())
    .where(Favourite.status_id.in_(many("ids"))).group_by(Favourite.status_id),
    "parents": select(Status.uri, Status.id, Status.actor_id).where(Status.uri.in_(many("parent_uris"))),
    "tags": select(StatusTag.name, StatusTag.status_id, StatusTag.id).where(StatusTag.status_id.in_(many("ids"))),
    "mentions": select(Mention.actor_uri, Mention.status_id, Mention.id).where(Mention.status_id.in_(many("ids"))),
    "media": select(null(), MediaAttachment.status_id, MediaAttachment.id)
    .where(MediaAttachment.status_id.in_(many("ids"))),
    "polls": select(null(), Poll.status_id, Poll.id).where(Poll.status_id.in_(many("ids"))),
})
_ORIGINALS = select(Status).where(Status.id.in_(many("ids")))
_ACTORS_BY_URI = select(Actor).where(Actor.uri.in_(many("uris")))
_MEDIA = (select(MediaAttachment).where(MediaAttachment.id.in_(many("ids")))
          .order_by(MediaAttachment.position, MediaAttachment.id))
_APPS = select(OAuthApp.id, OAuthApp.name, OAuthApp.website).where(OAuthApp.id.in_(many("ids")))
_POLLS = select(Poll).where(Poll.id.in_(many("ids")))
_POLL_OPTIONS = (select(PollOption).where(PollOption.poll_id.in_(many("ids")))
                 .order_by(PollOption.position))

# What `personalise` asks for the viewer, about the statuses `ids` by `authors`.
_OWN = Combined({
    "favourited": select(Favourite.status_id).where(Favourite.actor_id == VIEWER,
                                                    Favourite.status_id.in_(many("ids"))),
    "reblogged": select(Status.reblog_of_id).where(Status.actor_id == VIEWER,
                                                   Status.reblog_of_id.in_(many("ids")), _ALIVE),
    "bookmarked": select(Bookmark.status_id).where(Bookmark.actor_id == VIEWER,
                                                   Bookmark.status_id.in_(many("ids"))),
    "pinned": select(Pin.status_id).where(Pin.actor_id == VIEWER, Pin.status_id.in_(many("ids"))),
    "muted_authors": select(Mute.target_id).where(Mute.actor_id == VIEWER, Mute.target_id.in_(many("authors")),
                                                  mute_in_force(NOW)),
    "muted_roots": select(ThreadMute.root_id).where(ThreadMute.actor_id == VIEWER),
    "filters": select(Filter.id).where(Filter.actor_id == VIEWER),
})
_OWN_VOTES = (select(PollVote.poll_id, PollVote.position)
              .where(PollVote.actor_id == VIEWER, PollVote.poll_id.in_(many("ids")))
              .order_by(PollVote.position))


@dataclass
class StatusBatch:
    statuses: dict[int, Status] = field(default_factory=dict)
    parents: dict[str, tuple[int, int]] = field(default_factory=dict)  # uri → (status id, author id)
    accounts: AccountBatch = field(default_factory=AccountBatch)
    media: dict[int, list[MediaAttachment]] = field(default_factory=lambda: defaultdict(list))
    mentions: dict[int, list[Actor]] = field(default_factory=lambda: defaultdict(list))
    tags: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    replies: dict[str, int] = field(default_factory=dict)
    reblogs: dict[int, int] = field(default_factory=dict)
    favourites: dict[int, int] = field(default_factory=dict)
    favourited: set[int] = field(default_factory=set)
    reblogged: set[int] = field(default_factory=set)
    bookmarked: set[int] = field(default_factory=set)
    pinned: set[int] = field(default_factory=set)
    muted_authors: set[int] = field(default_factory=set)
    muted_threads: set[int] = field(default_factory=set)  # statuses in threads the viewer muted
    applications: dict[int, dict[str, str | None]] = field(default_factory=dict)
    viewer_id: int | None = None
    polls: dict[int, Poll] = field(default_factory=dict)  # by status id
    poll_options: dict[int, list[PollOption]] = field(default_factory=lambda: defaultdict(list))  # by poll id
    own_votes: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # poll id → positions
    filters: ViewerFilters = field(default_factory=ViewerFilters)
    # Each author's Account, rendered once for the batch (the same for every viewer).
    rendered_accounts: dict[int, dict[str, Any]] = field(default_factory=dict)


async def load_statuses(session: AsyncSession, statuses: Sequence[Status], viewer_id: int | None,
                        context: str | None = None) -> StatusBatch:
    """`context` (home, public, thread, account, notifications) applies the viewer's filters."""
    return await personalise(session, await load_shared(session, statuses), viewer_id, context)


async def load_shared(session: AsyncSession, statuses: Sequence[Status]) -> StatusBatch:
    """What every viewer of `statuses` is shown alike (authors, media, counts, polls), loaded
    once: a stream event is rendered for many viewers from one of these."""
    batch = StatusBatch(statuses={status.id: status for status in statuses})
    wanted = {s.reblog_of_id for s in statuses if s.reblog_of_id is not None} - batch.statuses.keys()
    if wanted:
        originals = await session.exec(_ORIGINALS, params={"ids": list(wanted)})
        batch.statuses.update({status.id: status for status in originals.all()})
    everything = list(batch.statuses.values())
    ids = list(batch.statuses)
    batch.accounts = await load_accounts(session, {status.actor_id for status in everything})
    found = await _SHARED.run(session, {
        "ids": ids, "uris": [status.uri for status in everything],
        "parent_uris": list({status.in_reply_to_uri for status in everything if status.in_reply_to_uri})})
    batch.replies = {uri: count for uri, _, count in found["replies"]}
    batch.reblogs = {status_id: count for _, status_id, count in found["reblogs"]}
    batch.favourites = {status_id: count for _, status_id, count in found["favourites"]}
    batch.parents = {uri: (status_id, actor_id) for uri, status_id, actor_id in found["parents"]}
    for name, status_id, _ in sorted(found["tags"], key=_third):
        batch.tags[status_id].append(name)
    mentions = sorted(found["mentions"], key=_third)
    if mentions:
        actors = {actor.uri: actor for actor in (await session.exec(
            _ACTORS_BY_URI, params={"uris": list({uri for uri, _, _ in mentions})})).all()}
        for uri, status_id, _ in mentions:
            if uri in actors:  # an account never fetched is left out, as Mastodon does
                batch.mentions[status_id].append(actors[uri])
    if found["media"]:
        for media in (await session.exec(_MEDIA, params={"ids": [row[2] for row in found["media"]]})).all():
            batch.media[media.status_id].append(media)
    if found["polls"]:
        await _load_polls(session, batch, [row[2] for row in found["polls"]])
    app_ids = list({status.application_id for status in everything if status.local and status.application_id})
    if app_ids:
        apps = await session.exec(_APPS, params={"ids": app_ids})
        batch.applications = {app_id: {"name": name, "website": website} for app_id, name, website in apps.all()}
    return batch


def _third(row: tuple[Any, ...]) -> Any:
    return row[2]


async def personalise(session: AsyncSession, shared: StatusBatch, viewer_id: int | None,
                      context: str | None = None) -> StatusBatch:
    """A copy of a `load_shared` batch with what only this viewer sees: their favourites,
    boosts, bookmarks, pins, mutes, votes, and filters in `context`."""
    batch = replace(shared, viewer_id=viewer_id, own_votes=defaultdict(list))
    ids = list(batch.statuses)
    if viewer_id is not None:
        authors = list({status.actor_id for status in batch.statuses.values()})
        found = await _OWN.run(session, {"viewer_id": viewer_id, "ids": ids, "authors": authors, "now": utcnow()})
        batch.favourited, batch.reblogged, batch.bookmarked, batch.pinned, batch.muted_authors = (
            {row[0] for row in found[name]}
            for name in ("favourited", "reblogged", "bookmarked", "pinned", "muted_authors"))
        batch.muted_threads = await statuses_in_threads(session, {row[0] for row in found["muted_roots"]}, ids)
        if found["filters"]:
            batch.filters = await load_filters(session, viewer_id, context)
    poll_ids = [poll.id for poll in batch.polls.values()]
    if viewer_id is not None and poll_ids:
        for poll_id, position in (await session.exec(_OWN_VOTES, params={"viewer_id": viewer_id,
                                                                         "ids": poll_ids})).all():
            batch.own_votes[poll_id].append(position)
    return batch


async def viewers_with_own_view(session: AsyncSession, shared: StatusBatch, viewer_ids: Collection[int],
                                context: str | None = None) -> set[int]:
    """Those of `viewer_ids` for whom `personalise` could find anything (a favourite, boost,
    bookmark, pin, muted author or thread, filter or vote), or who wrote one of the statuses:
    every other viewer is shown the batch exactly as any stranger is, so a stream renders it
    once for all of them. One query; each of `personalise`'s has its counterpart here (filters
    and thread mutes counted whatever they cover, which only costs a needless render)."""
    viewers = list(viewer_ids)
    ids = list(shared.statuses)
    authors = {status.actor_id for status in shared.statuses.values()}
    alive = Status.deleted_at.is_(None)  # type: ignore[union-attr]
    asked = [
        select(Favourite.actor_id).where(Favourite.actor_id.in_(viewers), Favourite.status_id.in_(ids)),
        select(Status.actor_id).where(Status.actor_id.in_(viewers), Status.reblog_of_id.in_(ids), alive),
        select(Bookmark.actor_id).where(Bookmark.actor_id.in_(viewers), Bookmark.status_id.in_(ids)),
        select(Pin.actor_id).where(Pin.actor_id.in_(viewers), Pin.status_id.in_(ids)),
        select(Mute.actor_id).where(Mute.actor_id.in_(viewers), Mute.target_id.in_(authors), mute_in_force()),
        select(ThreadMute.actor_id).where(ThreadMute.actor_id.in_(viewers)),
    ]
    if context is not None:
        asked.append(select(Filter.actor_id).where(Filter.actor_id.in_(viewers)))
    poll_ids = [poll.id for poll in shared.polls.values()]
    if poll_ids:
        asked.append(select(PollVote.actor_id).where(PollVote.actor_id.in_(viewers), PollVote.poll_id.in_(poll_ids)))
    found = set((await session.execute(union(*asked))).scalars().all())  # type: ignore[arg-type]
    return found | (set(viewers) & authors)


async def _load_polls(session: AsyncSession, batch: StatusBatch, poll_ids: list[int]) -> None:
    batch.polls = {poll.status_id: poll for poll in (await session.exec(_POLLS, params={"ids": poll_ids})).all()}
    for option in (await session.exec(_POLL_OPTIONS, params={"ids": poll_ids})).all():
        batch.poll_options[option.poll_id].append(option)


def poll_entity(status: Status, batch: StatusBatch) -> dict[str, Any] | None:
    """Mastodon's Poll for a status in the batch; None when it has none. With `hide_totals`,
    only the author sees the counts before the poll ends."""
    poll = batch.polls.get(status.id)
    if poll is None:
        return None
    options = batch.poll_options.get(poll.id, [])
    votes = sum(option.votes_count for option in options)
    expired = poll.expires_at is not None and poll.expires_at <= utcnow()
    shown = expired or not poll.hide_totals or status.actor_id == batch.viewer_id
    viewer = batch.viewer_id
    own = batch.own_votes.get(poll.id, [])
    return {
        "id": entity_id(poll.id),
        "expires_at": optional_datetime(poll.expires_at),
        "expired": expired,
        "multiple": poll.multiple,
        "votes_count": votes,
        # With one choice each, every vote is a voter (remote servers may not say).
        "voters_count": poll.voters_count if poll.multiple else max(votes, poll.voters_count),
        "options": [{"title": option.title, "votes_count": option.votes_count if shown else None}
                    for option in options],
        "emojis": [],
        "voted": (bool(own) or status.actor_id == viewer) if viewer is not None else None,
        "own_votes": own if viewer is not None else None,
    }


def status_entity(status: Status, batch: StatusBatch, urls: LocalUrls) -> dict[str, Any] | None:
    """One Status from a loaded batch; None for a boost whose original is gone."""
    reblog = None
    if status.reblog_of_id is not None:
        original = batch.statuses.get(status.reblog_of_id)
        if original is None or original.deleted_at is not None:
            return None
        reblog = status_entity(original, batch, urls)
    author = batch.accounts.actors[status.actor_id]
    author_entity = batch.rendered_accounts.get(author.id)
    if author_entity is None:
        author_entity = batch.rendered_accounts[author.id] = account(author, batch.accounts, urls)
    parent = batch.parents.get(status.in_reply_to_uri or "")
    # Only local posts say which app made them; the batch loads no others.
    app = batch.applications.get(status.application_id) if status.application_id is not None else None
    application = dict(app) if app is not None else None
    return {
        "id": entity_id(status.id),
        "uri": status.uri,
        "url": status.url or status.uri,
        "created_at": iso_datetime(status.created_at),
        "edited_at": optional_datetime(status.edited_at),
        "account": author_entity,
        "content": "" if reblog else clean_html(status.content),
        "spoiler_text": clean_text(status.summary),
        # A moderator's `sensitive` action on the author marks every attachment (Mastodon's sensitized).
        "sensitive": status.sensitive or (author.sensitized_at is not None and bool(batch.media.get(status.id))),
        "visibility": status.visibility,
        "language": status.language,
        "in_reply_to_id": entity_id(parent[0]) if parent else None,
        "in_reply_to_account_id": entity_id(parent[1]) if parent else None,
        "reblog": reblog,
        "media_attachments": [media_attachment(media) for media in batch.media.get(status.id, [])],
        "mentions": [status_mention(actor) for actor in batch.mentions.get(status.id, [])],
        "tags": [status_tag(name, urls) for name in batch.tags.get(status.id, [])],
        "emojis": [],
        "card": None,
        "poll": poll_entity(status, batch),
        "application": application,
        "replies_count": batch.replies.get(status.uri, 0),
        "reblogs_count": batch.reblogs.get(status.id, 0),
        "favourites_count": batch.favourites.get(status.id, 0),
        "favourited": status.id in batch.favourited,
        "reblogged": status.id in batch.reblogged,
        "bookmarked": status.id in batch.bookmarked,
        "muted": status.actor_id in batch.muted_authors or status.id in batch.muted_threads,
        "pinned": status.id in batch.pinned,
        "filtered": batch.filters.results(status, batch.statuses),
    }


async def render_statuses(session: AsyncSession, statuses: Sequence[Status], urls: LocalUrls,
                          viewer_id: int | None, context: str | None = None) -> list[dict[str, Any]]:
    """Entities for `statuses`, in order; boosts of deleted posts are left out, and so are
    statuses a `hide` filter of the viewer's catches in `context`."""
    if not statuses:
        return []
    return await render_shared(session, await load_shared(session, statuses), statuses, urls, viewer_id, context)


async def render_shared(session: AsyncSession, shared: StatusBatch, statuses: Sequence[Status], urls: LocalUrls,
                        viewer_id: int | None, context: str | None = None) -> list[dict[str, Any]]:
    """`render_statuses` from a `load_shared` batch of these statuses (streams load it once per event)."""
    batch = await personalise(session, shared, viewer_id, context)
    rendered = (status_entity(status, batch, urls) for status in statuses
                if not batch.filters.hides(status, batch.statuses))
    return [entity for entity in rendered if entity is not None]


async def render_status(session: AsyncSession, status: Status, urls: LocalUrls,
                        viewer_id: int | None) -> dict[str, Any] | None:
    rendered = await render_statuses(session, [status], urls, viewer_id)
    return rendered[0] if rendered else None
