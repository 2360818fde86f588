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
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, func
from sqlalchemy.orm import aliased
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.urls import LocalUrls
from actors.visibility import local_viewer_may_see
from storage.engine import Database
from storage.events import StreamEvent
from storage.tables import AccountList, Actor, Notification, Status, StatusTag
from web.api.conversations import conversation_of_status
from web.api.entities.notifications import render_notifications
from web.api.entities.statuses import StatusBatch, load_shared, render_shared, viewers_with_own_view
from web.api.listing import not_a_reply_to_others
from web.api.lists import list_statuses
from web.api.notifications import listable
from web.api.timelines import home_statuses, public_statuses, tagged
from web.auth import Viewer
from web.context import AppContext
from web.streaming.channels import Channel

STATUS_EVENTS = {"status.created": "update", "status.updated": "status.update"}
GATHER_TURNS = 3  # turns of the event loop a status render waits for more streams to ask
VIEWERS_PER_QUERY = 500  # within both engines' limits on bound parameters


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


def _timeline(channel: Channel, viewer: int | ColumnElement[int]) -> Select[Any] | None:
    """The query of the channel's timeline, for one viewer or (given a column) for each of many."""
    if channel.name == "user":
        return home_statuses(viewer)  # type: ignore[arg-type]
    if channel.name == "list":
        assert channel.list_id is not None
        return list_statuses(channel.list_id, viewer)  # type: ignore[arg-type]
    if channel.public:
        query = public_statuses(viewer, local=channel.local_only, remote=channel.remote_only,  # type: ignore[arg-type]
                                only_media=channel.only_media).where(not_a_reply_to_others())
        if channel.tag is not None:
            query = query.where(tagged([channel.tag.lower()]))
        return query
    return None


@dataclass
class _Asked:
    """The viewers who asked for one status event on one channel within the same few turns of
    the event loop (every stream wakes on the same turn when the event arrives)."""

    item: StreamEvent
    channel: Channel
    waiting: dict[int, asyncio.Future[str | None]] = field(default_factory=dict)
    closed: bool = False


class SharedStatuses:
    """Status events rendered once per event for all the streams of this process.

    Each stream asks for its viewer (`status_for`); the viewers who ask for the same event on
    the same channel together are answered together: one query finds which of them the
    channel's timeline shows it to, what every viewer is shown alike is loaded once
    (`load_shared`), and the entity is rendered once for all who have no view of their own
    (`viewers_with_own_view`), then once more for each who has. A thousand streams cost a
    few queries per event, not a few thousand."""

    def __init__(self, database: Database, size: int = 64, renders: int = 8) -> None:
        self._database = database
        self._size = size
        # Renders at once: more only interleave, each finishing later, and crowd the pool.
        self.render_slots = asyncio.Semaphore(renders)
        # id(event) → (the event, its loading): events are kept while cached, so ids stay unique.
        self._loaded: OrderedDict[int, tuple[StreamEvent, asyncio.Task[StatusBatch]]] = OrderedDict()
        self._asking: dict[tuple[int, tuple[str, str | None, int | None]], _Asked] = {}
        self._answering: set[asyncio.Task[None]] = set()

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

    async def status_for(self, urls: LocalUrls, channel: Channel, item: StreamEvent, viewer_id: int) -> str | None:
        """The status `item` names, as JSON for this viewer on `channel`; None when the
        channel's timeline would not show it to them."""
        key = (id(item), channel.key)
        asked = self._asking.get(key)
        if asked is None or asked.closed or asked.item is not item:
            asked = self._asking[key] = _Asked(item, channel)
            task = asyncio.create_task(self._answer(key, asked, urls))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)
        future = asked.waiting.get(viewer_id)
        if future is None:
            future = asked.waiting[viewer_id] = asyncio.get_running_loop().create_future()
        return await asyncio.shield(future)  # one stream leaving does not cancel it for the others

    async def _answer(self, key: tuple[int, tuple[str, str | None, int | None]], asked: _Asked,
                      urls: LocalUrls) -> None:
        for _ in range(GATHER_TURNS):
            await asyncio.sleep(0)
        asked.closed = True
        if self._asking.get(key) is asked:
            del self._asking[key]
        try:
            async with self.render_slots:
                answers = await self._render(asked, urls)
        except Exception as error:  # noqa: BLE001 - handed to each stream, which logs it and carries on
            for future in asked.waiting.values():
                if not future.done():
                    future.set_exception(error)
                    future.exception()  # marked as seen: a stream that has left never asks
            return
        for viewer_id, future in asked.waiting.items():
            if not future.done():
                future.set_result(answers.get(viewer_id))

    async def _render(self, asked: _Asked, urls: LocalUrls) -> dict[int, str]:
        viewer = aliased(Actor, name="viewer")
        query = _timeline(asked.channel, viewer.id)
        if query is None:
            return {}
        asking = list(asked.waiting)
        async with self._database.session() as session:
            shown: set[int] = set()
            for start in range(0, len(asking), VIEWERS_PER_QUERY):
                chunk = asking[start:start + VIEWERS_PER_QUERY]
                shown.update((await session.exec(query.with_only_columns(viewer.id).where(
                    viewer.id.in_(chunk), Status.id == asked.item.id))).all())
            status = await session.get(Status, asked.item.id) if shown else None
            if status is None:
                return {}
            # Hand the connection back while the shared part loads: it needs one of its own.
            await session.commit()
            loaded = await self.of(asked.item, status)
            context = asked.channel.context
            seeing = sorted(shown)
            own: set[int] = set()
            for start in range(0, len(seeing), VIEWERS_PER_QUERY):
                own |= await viewers_with_own_view(session, loaded, seeing[start:start + VIEWERS_PER_QUERY], context)
            strangers = [viewer_id for viewer_id in seeing if viewer_id not in own]
            answers: dict[int, str] = {}
            for viewer_id in [*sorted(own), *strangers[:1]]:
                rendered = await render_shared(session, loaded, [status], urls, viewer_id, context)
                if rendered:
                    answers[viewer_id] = _json(rendered[0])
            if strangers and strangers[0] in answers:
                answers.update(dict.fromkeys(strangers, answers[strangers[0]]))
            return answers


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


async def render(ctx: AppContext, viewer: Viewer, channels: list[Channel], item: StreamEvent,
                 shared: SharedStatuses) -> list[Message]:
    """The messages `item` makes for `viewer` on each of `channels` (none, usually)."""
    viewer_id = viewer.actor.id
    messages: list[Message] = []
    if item.kind in STATUS_EVENTS and item.id is not None:
        for channel in channels:
            if channel.name == "direct":
                if item.kind == "status.created":
                    async with shared.render_slots, ctx.database.session() as session:
                        entity = await conversation_of_status(ctx, session, viewer_id, item.id)
                    if entity is not None:
                        messages.append(Message(channel, "conversation", _json(entity)))
                continue
            payload = await shared.status_for(ctx.urls, channel, item, viewer_id)
            if payload is not None:
                messages.append(Message(channel, STATUS_EVENTS[item.kind], payload))
    elif item.kind == "status.deleted" and item.id is not None:
        async with shared.render_slots, ctx.database.session() as session:
            for channel in channels:
                if await _may_have_seen(session, viewer_id, channel, item.id):
                    messages.append(Message(channel, "delete", str(item.id)))
    elif item.kind == "notification" and item.actor_id == viewer_id and item.id is not None:
        wanted = [channel for channel in channels if channel.name in ("user", "user:notification")]
        if wanted and viewer.may("read:notifications"):
            async with shared.render_slots, ctx.database.session() as session:
                entity = await _notification(session, ctx.urls, viewer_id, item.id)
            if entity is not None:
                messages.extend(Message(channel, "notification", _json(entity)) for channel in wanted)
    elif item.kind == "filters_changed" and item.actor_id == viewer_id:
        messages.extend(Message(channel, "filters_changed", None) for channel in channels if channel.name == "user")
    return messages


async def own_list(session: AsyncSession, viewer_id: int, list_id: int) -> bool:
    row = await session.get(AccountList, list_id)
    return row is not None and row.owner_id == viewer_id
