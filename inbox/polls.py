"""Polls coming in: a remote `Question` kept with its options and totals, an `Update` of one
refreshing them, and votes on our own polls counted.

A vote is a `Note` with a `name` (the option's title) whose `inReplyTo` is the Question
(Mastodon's ActivityPub::Activity::Create#poll_vote?); it is never kept as a post. Each
(voter, option) counts once, however often it arrives; after a counted vote the author's
server tells everyone who keeps a copy the new totals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.visibility import remote_actor_may_see
from federation.documents import DocumentError, NoteDocument, parse_question, parse_vote, type_of
from inbox.context import Activity, HandlerContext, Ignore
from storage.tables import Actor, Poll, PollOption, PollVote, Status

# --- votes on our polls -------------------------------------------------------------------

async def count_votes(session: AsyncSession, poll: Poll, voter: Actor, positions: Sequence[int],
                      uris: Sequence[str | None] | None = None) -> int:
    """Count `voter`'s choices (option positions) on a poll of ours; each (voter, option) once.
    Returns how many were new. The caller has checked expiry and the options."""
    earlier = set((await session.exec(select(PollVote.position).where(
        PollVote.poll_id == poll.id, PollVote.actor_id == voter.id))).all())
    counted = 0
    for index, position in enumerate(positions):
        uri = uris[index] if uris else None
        if position in earlier:
            continue
        if uri and (await session.exec(select(PollVote.id).where(PollVote.uri == uri))).first() is not None:
            continue
        session.add(PollVote(poll_id=poll.id, actor_id=voter.id, position=position, uri=uri))
        await session.exec(update(PollOption)  # type: ignore[call-overload]
                           .where(PollOption.poll_id == poll.id, PollOption.position == position)
                           .values(votes_count=PollOption.votes_count + 1))
        earlier.add(position)
        counted += 1
    if counted and len(earlier) == counted:  # a first vote from this person
        await session.exec(update(Poll).where(Poll.id == poll.id)  # type: ignore[call-overload]
                           .values(voters_count=Poll.voters_count + 1))
    await session.flush()
    return counted


def _vote_on_local(activity: Activity, h: HandlerContext) -> tuple[str, str] | None:
    """(question uri, choice) when the Create carries a vote on one of our posts."""
    obj = activity.get("object")
    vote = parse_vote(obj) if isinstance(obj, dict) else None
    if vote is None or h.urls.local_username(vote.question.split("/statuses/")[0]) is None:
        return None
    return vote.question, vote.choice


async def on_vote(session: AsyncSession, h: HandlerContext, activity: Activity, note: NoteDocument,
                  actor: Actor) -> str | None:
    """Count a vote carried by a Create; None when the Create is not a vote on a poll of ours."""
    found = _vote_on_local(activity, h)
    if found is None:
        return None
    question, choice = found
    status = (await session.exec(select(Status).where(Status.uri == question, Status.local.is_(True)))).first()  # type: ignore[attr-defined]
    poll = (await session.exec(select(Poll).where(Poll.status_id == status.id))).first() if status else None
    if status is None or poll is None:
        return None  # a named reply to a post that is no poll: an ordinary reply
    if status.deleted_at is not None:
        raise Ignore("a vote on a deleted poll")
    if status.actor_id == actor.id:
        raise Ignore("an author does not vote on their own poll")
    if not await remote_actor_may_see(session, status, actor, network_member=h.is_member(actor.domain)):
        raise Ignore("the voter may not see this poll")
    if poll.expires_at is not None and poll.expires_at <= h.clock():
        raise Ignore("the poll has ended")
    option = (await session.exec(select(PollOption).where(PollOption.poll_id == poll.id,
                                                          PollOption.title == choice))).first()
    if option is None:
        raise Ignore("the vote names no option of this poll")
    if not poll.multiple:
        earlier = (await session.exec(select(PollVote.id).where(
            PollVote.poll_id == poll.id, PollVote.actor_id == actor.id, PollVote.position != option.position))).first()
        if earlier is not None:
            raise Ignore("a second choice on a single-choice poll")
    if not await count_votes(session, poll, actor, [option.position], [note.uri]):
        raise Ignore("this vote was already counted")
    author = await session.get(Actor, status.actor_id)
    assert author is not None  # statuses.actor_id is a foreign key
    await h.replies.send_poll_update(session, status, author)
    return "vote counted"


# --- remote polls -------------------------------------------------------------------------

def _question(activity: Activity) -> dict[str, Any] | None:
    obj = activity.get("object")
    return obj if isinstance(obj, dict) and type_of(obj) == "Question" else None


async def store_question(session: AsyncSession, activity: Activity, status: Status) -> None:
    """The poll of a remote Question just stored as `status` (nothing for other objects)."""
    document = _question(activity)
    if document is None:
        return
    question = parse_question(document)
    poll = Poll(status_id=status.id, multiple=question.multiple, expires_at=question.expires_at,
                voters_count=question.voters_count or 0)
    session.add(poll)
    await session.flush()
    for position, option in enumerate(question.options):
        session.add(PollOption(poll_id=poll.id, position=position, title=option.title,
                               votes_count=option.votes_count))
    await session.flush()


async def refresh_question(session: AsyncSession, activity: Activity, status: Status,
                           note: NoteDocument) -> bool:
    """New totals from an Update of a remote Question. True when nothing but the poll changed,
    so the post is not marked as edited (Mastodon sends such an Update after every vote)."""
    document = _question(activity)
    if document is None:
        return False
    try:
        question = parse_question(document)
    except DocumentError:
        return False  # no options any more: read as an ordinary edit
    poll = (await session.exec(select(Poll).where(Poll.status_id == status.id))).first()
    if poll is None:
        await store_question(session, activity, status)
        return False
    options = list((await session.exec(select(PollOption).where(PollOption.poll_id == poll.id)
                                       .order_by(PollOption.position))).all())
    if [option.title for option in options] != [option.title for option in question.options]:
        # Other options: the earlier votes were for a different question.
        for option in options:
            await session.delete(option)
        for vote in (await session.exec(select(PollVote).where(PollVote.poll_id == poll.id))).all():
            await session.delete(vote)
        await session.flush()
        options = []
        for position, parsed in enumerate(question.options):
            options.append(PollOption(poll_id=poll.id, position=position, title=parsed.title))
    for option, parsed in zip(options, question.options, strict=True):
        option.votes_count = parsed.votes_count
        session.add(option)
    poll.multiple, poll.expires_at = question.multiple, question.expires_at
    if question.voters_count is not None:
        poll.voters_count = question.voters_count
    session.add(poll)
    await session.flush()
    return (note.content, note.summary, note.sensitive) == (status.content, status.summary, status.sensitive)
