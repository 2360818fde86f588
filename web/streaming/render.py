"""An event, rendered for one viewer and one channel: the same entities, with the same
conditions, as the REST route that lists the same things.

A status goes to a channel only when the query of the matching timeline (home for `user`,
the public and hashtag timelines, a list's timeline), narrowed to that status, finds it for
this viewer: visibility, blocks, mutes and `hide` filters apply as they do there, and the
entity carries its `filtered` results. A notification goes out only when the notifications
list would show it. A deletion names only an id, and only to viewers who may have seen the
status before it went.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.urls import LocalUrls
from actors.visibility import local_viewer_may_see
from storage.engine import Database
from storage.events import StreamEvent
from storage.tables import AccountList, Notification, Status, StatusTag
from web.api.conversations import conversation_of_status
from web.api.entities.notifications import render_notifications
from web.api.entities.statuses import StatusBatch, load_shared, render_shared
from web.api.listing import not_a_reply_to_others
from web.api.lists import list_statuses
from web.api.notifications import listable
from web.api.timelines import home_statuses, public_statuses, tagged
from web.auth import Viewer
from web.context import AppContext
from web.streaming.channels import Channel

STATUS_EVENTS = {"status.created": "update", "status.updated": "status.update"}


@dataclass(frozen=True)
class Message:
    """One event for one channel: `payload` is the JSON text (None for `filters_changed`)."""

    channel: Channel
    event: str
    payload: str | None

    def websocket_frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"stream": self.channel.stream, "event": self.event}
        if self.payload is not None:
            frame["payload"] = self.payload
        return frame


def _timeline(channel: Channel, viewer_id: int) -> Select[Any] | None:
    if channel.name == "user":
        return home_statuses(viewer_id)
    if channel.name == "list":
        assert channel.list_id is not None
        return list_statuses(channel.list_id, viewer_id)
    if channel.public:
        query = public_statuses(viewer_id, local=channel.local_only, remote=channel.remote_only,
                                only_media=channel.only_media).where(not_a_reply_to_others())
        if channel.tag is not None:
            query = query.where(tagged([channel.tag.lower()]))
        return query
    return None


class Timelines:
    """The timeline queries of one viewer's channels, built once per connection: building them
    costs more than running them narrowed to one status."""

    def __init__(self, viewer_id: int) -> None:
        self.viewer_id = viewer_id
        self._built: dict[tuple[str, str | None, int | None], Select[Any] | None] = {}

    def of(self, channel: Channel) -> Select[Any] | None:
        if channel.key not in self._built:
            self._built[channel.key] = _timeline(channel, self.viewer_id)
        return self._built[channel.key]


class SharedStatuses:
    """What every viewer is shown alike of the status an event names (`load_shared`), loaded
    once per event in this process however many streams render it; each stream adds only its
    viewer's part (`render_shared`), exactly as the REST routes do in one go."""

    def __init__(self, database: Database, size: int = 64, renders: int = 8) -> None:
        self._database = database
        self._size = size
        # Renders at once: more only interleave, each finishing later, and crowd the pool.
        self.render_slots = asyncio.Semaphore(renders)
        # id(event) → (the event, its loading): events are kept while cached, so ids stay unique.
        self._loaded: OrderedDict[int, tuple[StreamEvent, asyncio.Task[StatusBatch]]] = OrderedDict()

    async def of(self, item: StreamEvent, status: Status) -> StatusBatch:
        entry = self._loaded.get(id(item))
        if entry is None or entry[0] is not item:
            entry = (item, asyncio.create_task(self._load(status)))
            self._loaded[id(item)] = entry
            while len(self._loaded) > self._size:
                self._loaded.popitem(last=False)
        return await asyncio.shield(entry[1])  # one stream leaving does not cancel it for the others

    async def _load(self, status: Status) -> StatusBatch:
        async with self._database.session() as session:
            return await load_shared(session, [status])


async def _status(session: AsyncSession, urls: LocalUrls, timelines: Timelines, shared: SharedStatuses,
                  channel: Channel, item: StreamEvent) -> dict[str, Any] | None:
    query = timelines.of(channel)
    if query is None:
        return None
    row = (await session.exec(query.where(Status.id == item.id))).first()
    if row is None:
        return None
    # Hand the connection back before waiting for the shared part: hundreds of streams waiting
    # while each holds one would leave none in the pool to load it with.
    await session.commit()
    loaded = await shared.of(item, row)
    rendered = await render_shared(session, loaded, [row], urls, timelines.viewer_id, channel.context)
    return rendered[0] if rendered else None


async def _may_have_seen(session: AsyncSession, viewer_id: int, channel: Channel, status_id: int) -> bool:
    """Whether this channel could have carried the status before it was deleted."""
    status = await session.get(Status, status_id)
    if status is None:
        return False
    before = Status.model_validate(status.model_dump() | {"deleted_at": None})
    if channel.name == "user:notification" or not await local_viewer_may_see(session, before, viewer_id):
        return False
    if channel.name == "direct":
        return status.visibility == "direct"
    if channel.public:
        if status.visibility not in ("public", "local") or status.reblog_of_id is not None:
            return False
        if channel.tag is not None:
            count = await session.exec(select(func.count()).select_from(StatusTag).where(
                StatusTag.status_id == status_id, func.lower(StatusTag.name) == channel.tag.lower()))
            return count.one() > 0
    return True


async def _notification(session: AsyncSession, urls: LocalUrls, viewer_id: int,
                        notification_id: int) -> dict[str, Any] | None:
    query = (select(Notification, Status).outerjoin(Status, Status.id == Notification.status_id)  # type: ignore[arg-type]
             .where(listable(viewer_id), Notification.id == notification_id))
    row = (await session.exec(query)).first()
    rendered = await render_notifications(session, [row], urls, viewer_id) if row is not None else []
    return rendered[0] if rendered else None


def _json(entity: Any) -> str:
    return json.dumps(entity, separators=(",", ":"), ensure_ascii=False)


async def render(ctx: AppContext, session: AsyncSession, viewer: Viewer, channels: list[Channel],
                 item: StreamEvent, timelines: Timelines, shared: SharedStatuses) -> list[Message]:
    """The messages `item` makes for `viewer` on each of `channels` (none, usually)."""
    viewer_id = viewer.actor.id
    messages: list[Message] = []
    if item.kind in STATUS_EVENTS and item.id is not None:
        for channel in channels:
            if channel.name == "direct":
                entity = await conversation_of_status(ctx, session, viewer_id, item.id) \
                    if item.kind == "status.created" else None
                if entity is not None:
                    messages.append(Message(channel, "conversation", _json(entity)))
                continue
            entity = await _status(session, ctx.urls, timelines, shared, channel, item)
            if entity is not None:
                messages.append(Message(channel, STATUS_EVENTS[item.kind], _json(entity)))
    elif item.kind == "status.deleted" and item.id is not None:
        for channel in channels:
            if await _may_have_seen(session, viewer_id, channel, item.id):
                messages.append(Message(channel, "delete", str(item.id)))
    elif item.kind == "notification" and item.actor_id == viewer_id and item.id is not None:
        wanted = [channel for channel in channels if channel.name in ("user", "user:notification")]
        if wanted and viewer.may("read:notifications"):
            entity = await _notification(session, ctx.urls, viewer_id, item.id)
            if entity is not None:
                messages.extend(Message(channel, "notification", _json(entity)) for channel in wanted)
    elif item.kind == "filters_changed" and item.actor_id == viewer_id:
        messages.extend(Message(channel, "filters_changed", None) for channel in channels if channel.name == "user")
    return messages


async def own_list(session: AsyncSession, viewer_id: int, list_id: int) -> bool:
    row = await session.get(AccountList, list_id)
    return row is not None and row.owner_id == viewer_id
