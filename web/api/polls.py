"""Polls: reading one and voting (`GET /api/v1/polls/:id`, `POST /api/v1/polls/:id/votes`).

A poll is seen by whoever may see its status (404 otherwise). A vote on a local poll counts at
once and its new totals go to the servers that keep a copy; a vote on a remote poll goes to
its author's server, whose Update brings the totals back.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from inbox.polls import count_votes
from outbox.polls import send_votes
from storage.tables import Actor, Poll, PollOption, PollVote, Status, utcnow
from web.api.entities.statuses import load_statuses, poll_entity
from web.api.params import NOT_FOUND, get, is_record_id, record_id
from web.api.status_actions import Invalid, outbox_of, refusing_invalid
from web.api.statuses import visible_status
from web.auth import optional_viewer, require_viewer
from web.context import context_of
from web.oauth import request_params
from web.responses import JSONResponse


async def _poll_and_status(session: AsyncSession, raw_id: str, viewer_id: int | None) -> tuple[Poll, Status]:
    poll = await session.get(Poll, record_id(raw_id))
    if poll is None:
        raise HTTPException(404, NOT_FOUND)
    status = await visible_status(session, str(poll.status_id), viewer_id)
    if status.deleted_at is not None:
        raise HTTPException(404, NOT_FOUND)
    return poll, status


async def _entity(session: AsyncSession, status: Status, viewer_id: int | None) -> dict[str, Any]:
    entity = poll_entity(status, await load_statuses(session, [status], viewer_id))
    assert entity is not None  # the status has this poll
    return entity


async def get_poll(request: Request) -> Response:
    viewer = await optional_viewer(request, "read:statuses")
    viewer_id = viewer.actor.id if viewer else None
    async with context_of(request).database.session() as session:
        _, status = await _poll_and_status(session, request.path_params["id"], viewer_id)
        entity = await _entity(session, status, viewer_id)
    return JSONResponse(entity)


def _choices(params: dict[str, Any]) -> list[int]:
    """`choices[]` (forms) or `choices` (JSON): option indexes, as strings or numbers."""
    raw = params.get("choices")
    values = raw if isinstance(raw, list) else [] if raw in (None, "") else [raw]
    if not values or not all(isinstance(value, str | int) and not isinstance(value, bool)
                             and is_record_id(str(value)) for value in values):
        raise Invalid("choices", "invalid", "must be a list of option indexes", "Choices")
    return list(dict.fromkeys(int(value) for value in values))


@refusing_invalid
async def vote(request: Request) -> Response:
    viewer = await require_viewer(request, "write:statuses")
    choices = _choices(await request_params(request))
    ctx = context_of(request)
    async with ctx.database.transaction() as session:
        poll, status = await _poll_and_status(session, request.path_params["id"], viewer.actor.id)
        if status.actor_id == viewer.actor.id:
            raise Invalid("poll", "own_poll", "cannot be voted on by its author", "Poll")
        if poll.expires_at is not None and poll.expires_at <= utcnow():
            raise Invalid("poll", "expired", "has already ended", "Poll")
        already = (await session.exec(select(PollVote.id).where(
            PollVote.poll_id == poll.id, PollVote.actor_id == viewer.actor.id))).first()
        if already is not None:
            raise Invalid("poll", "already_voted", "already voted on this poll", "You have")
        if len(choices) > 1 and not poll.multiple:
            raise Invalid("choices", "too_many", "must be a single choice on this poll", "Choices")
        options = {option.position: option for option in (await session.exec(
            select(PollOption).where(PollOption.poll_id == poll.id))).all()}
        if any(choice not in options for choice in choices):
            raise Invalid("choices", "out_of_range", "must name options of this poll", "Choices")
        author = await session.get(Actor, status.actor_id)
        assert author is not None  # statuses.actor_id is a foreign key
        outbox = outbox_of(request)
        if status.local:
            await count_votes(session, poll, viewer.actor, choices)
            await outbox.send_poll_update(session, status, author)
        else:
            await send_votes(outbox, session, viewer.actor, status, author, poll,
                             [options[choice] for choice in choices])
        entity = await _entity(session, status, viewer.actor.id)
    return JSONResponse(entity)


routes = [
    *get("/api/v1/polls/{id}", get_poll),
    *get("/api/v1/polls/{id}/votes", vote, methods=("POST",)),
]
