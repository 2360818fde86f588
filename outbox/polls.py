"""Polls going out: writing a new poll's rows, sending a person's votes on a remote poll to
its author's server, and telling everyone who keeps a copy of a local poll its new totals.

Votes follow Mastodon: one `Create` of a `Note` per choice, whose `name` is the option's title
and `inReplyTo` the Question, addressed to the poll's author only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from outbox.documents import activity, addressing, note_document
from storage.ids import new_id
from storage.tables import Actor, MediaAttachment, Mention, Poll, PollOption, PollVote, Status, StatusTag


@dataclass(frozen=True)
class PollDraft:
    """A poll as a person asked for it, already checked against the instance's limits."""

    options: tuple[str, ...]
    expires_at: datetime
    multiple: bool = False
    hide_totals: bool = False


class Sender(Protocol):
    """The part of `outbox.actions.Outbox` these functions send through."""

    async def enqueue(self, session: AsyncSession, document: dict[str, Any], signer: Actor,
                      inboxes: Iterable[str | None]) -> int: ...

    async def follower_inboxes(self, session: AsyncSession, actor: Actor, *,
                               network_only: bool = False) -> set[str]: ...


async def add_poll(session: AsyncSession, status: Status, draft: PollDraft) -> Poll:
    poll = Poll(status_id=status.id, multiple=draft.multiple, hide_totals=draft.hide_totals,
                expires_at=draft.expires_at)
    session.add(poll)
    await session.flush()
    for position, title in enumerate(draft.options):
        session.add(PollOption(poll_id=poll.id, position=position, title=title))
    await session.flush()
    return poll


async def poll_of(session: AsyncSession, status_id: int) -> tuple[Poll, list[PollOption]] | None:
    """A status's poll and its options in order; None for a status without one."""
    poll = (await session.exec(select(Poll).where(Poll.status_id == status_id))).first()
    if poll is None:
        return None
    options = await session.exec(select(PollOption).where(PollOption.poll_id == poll.id)
                                 .order_by(PollOption.position))
    return poll, list(options.all())


async def send_votes(sender: Sender, session: AsyncSession, voter: Actor, status: Status, author: Actor,
                     poll: Poll, chosen: list[PollOption]) -> list[PollVote]:
    """Record `voter`'s choices on a remote poll and send them to its author's server. The
    counts are left as they are: the author's server answers with an Update of the totals."""
    inbox = author.shared_inbox_uri or author.inbox_uri
    votes = []
    for option in chosen:
        vote = PollVote(poll_id=poll.id, actor_id=voter.id, position=option.position,
                        uri=f"{voter.uri}#votes/{new_id()}")
        session.add(vote)
        note = {"id": vote.uri, "type": "Note", "name": option.title, "attributedTo": voter.uri,
                "inReplyTo": status.uri, "to": [author.uri]}
        await sender.enqueue(session, activity("Create", f"{vote.uri}/activity", voter, note, to=[author.uri]),
                             voter, [inbox])
        votes.append(vote)
    await session.flush()
    return votes


async def send_poll_update(sender: Sender, session: AsyncSession, status: Status, author: Actor,
                           tag_url: str) -> None:
    """An Update of a local poll's Question with its totals, to the servers that keep a copy:
    the author's followers', those of the people it mentions and those of remote voters (as
    Mastodon's DistributePollUpdateWorker)."""
    found = await poll_of(session, status.id)
    if found is None or status.visibility == "local" or status.deleted_at is not None:
        return
    poll, options = found
    mentioned = list((await session.exec(select(Actor).join(Mention, Mention.actor_uri == Actor.uri)
                                         .where(Mention.status_id == status.id))).all())
    voters = (await session.exec(select(Actor).join(PollVote, PollVote.actor_id == Actor.id)
                                 .where(PollVote.poll_id == poll.id, Actor.domain.is_not(None)))).all()  # type: ignore[union-attr]
    tags = (await session.exec(select(StatusTag.name).where(StatusTag.status_id == status.id))).all()
    media = (await session.exec(select(MediaAttachment).where(MediaAttachment.status_id == status.id)
                                .order_by(MediaAttachment.position, MediaAttachment.id))).all()
    now = datetime.now(UTC)
    question = note_document(status, author, mention_uris=[actor.uri for actor in mentioned],
                             hashtags=list(tags), attachments=list(media), tag_url=tag_url,
                             with_context=False, poll=(poll, options, now))
    to, cc = addressing(status, author, [actor.uri for actor in mentioned])
    document = activity("Update", f"{status.uri}/updates/{new_id()}", author, question,
                        to=to, cc=cc, published=now)
    inboxes: set[str | None] = {actor.shared_inbox_uri or actor.inbox_uri
                                for actor in [*mentioned, *voters] if actor.domain is not None}
    if status.visibility != "direct":
        inboxes |= await sender.follower_inboxes(session, author)
    await sender.enqueue(session, document, author, inboxes)
