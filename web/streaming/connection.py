"""One client connection's streams: who is listening, on which channels, and what reaches them.

Both transports (SSE and the WebSocket) hold a `Listener`. It owns a bounded subscription
to the process's event hub (`storage.events`), so a client that stops reading is dropped
once it falls `stream_buffer` events behind, without holding up the hub or anyone else.
It closes when its token is revoked or its login disabled: at once on the event, and, in
case an event was missed, by a check of the token at every heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from sqlmodel import select
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.websockets import WebSocketDisconnect

from storage.events import Ended, Overflowed, StreamEvent, Subscription
from storage.tables import OAuthAccessToken, User
from web import scopes as scope_rules
from web.auth import INVALID_TOKEN, OUTSIDE_SCOPES, USER_REQUIRED, Viewer, account_problem, find_token
from web.context import AppContext
from web.streaming.channels import Channel, ChannelError
from web.streaming.render import Message, SharedStatuses, own_list, render

log = logging.getLogger("rounds.streaming")
HEARTBEAT_SECONDS = 15.0
CLOSING_EVENTS = ("token.revoked", "account.closed")


class StreamClosed(Exception):
    """The stream must end: its token was revoked, its login disabled, it fell behind, or the
    server is shutting down."""


def settle(tasks: set[asyncio.Task[Any]]) -> None:
    """Collect what the finished tasks of a connection ended with: a client gone mid-send
    is expected, anything else is logged."""
    for task in tasks:
        if task.cancelled():
            continue
        error = task.exception()
        if error is not None and not isinstance(error, OSError | WebSocketDisconnect | ClientDisconnect):
            log.error("stream task failed", exc_info=error)


def token_from(headers: Mapping[str, str], query: Mapping[str, str], *, websocket: bool = False) -> str | None:
    """A stream's token: `Authorization: Bearer`, `?access_token=`, or (WebSocket only, as
    browsers cannot set headers there) the `Sec-WebSocket-Protocol` header."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if query.get("access_token"):
        return query["access_token"]
    if websocket:
        offered = headers.get("sec-websocket-protocol", "").split(",")[0].strip()
        if offered:
            return offered
    return None


async def stream_viewer(ctx: AppContext, plain: str | None) -> Viewer:
    """The person a stream is for: 401 without a valid user token (Mastodon ≥ 4.2 wants one on
    every stream), 403 for a login that may not act."""
    if plain is None:
        raise HTTPException(401, INVALID_TOKEN)
    async with ctx.database.session() as session:
        found = await find_token(session, plain)
    if found is None:
        raise HTTPException(401, INVALID_TOKEN)
    if found.user is None or found.actor is None:
        raise HTTPException(401, USER_REQUIRED)
    problem = account_problem(found.user)
    if problem is not None:
        raise HTTPException(403, problem)
    granted = frozenset(scope_rules.parse(found.token.scopes, default=()))
    return Viewer(actor=found.actor, user=found.user, scopes=granted, token_id=found.token.id, app_id=found.app.id)


def shared_statuses(app: Starlette) -> SharedStatuses:
    """The app's one SharedStatuses, made on first use."""
    if not hasattr(app.state, "shared_statuses"):
        app.state.shared_statuses = SharedStatuses(app.state.ctx.database)
    return app.state.shared_statuses


class Listener:
    def __init__(self, ctx: AppContext, viewer: Viewer, subscription: Subscription, shared: SharedStatuses) -> None:
        self.ctx = ctx
        self.viewer = viewer
        self.subscription = subscription
        self.shared = shared
        self.channels: list[Channel] = []

    @classmethod
    async def open(cls, ctx: AppContext, viewer: Viewer, shared: SharedStatuses) -> Listener:
        return cls(ctx, viewer, await ctx.database.events.subscribe(ctx.settings.stream_buffer), shared)

    def close(self) -> None:
        self.subscription.close()

    async def check(self, channel: Channel) -> None:
        """Raise ChannelError unless this viewer may follow `channel`."""
        if not self.viewer.may(channel.scope):
            raise ChannelError(OUTSIDE_SCOPES, 403)
        if channel.list_id is not None:
            async with self.ctx.database.session() as session:
                if not await own_list(session, self.viewer.actor.id, channel.list_id):
                    raise ChannelError("Not authorized to stream this list", 404)

    def add(self, channel: Channel) -> None:
        if all(known.key != channel.key for known in self.channels):
            self.channels.append(channel)

    def remove(self, channel: Channel) -> None:
        self.channels = [known for known in self.channels if known.key != channel.key]

    def _closes(self, item: StreamEvent) -> bool:
        if item.kind == "token.revoked":
            return item.id == self.viewer.token_id
        return item.kind == "account.closed" and item.actor_id == self.viewer.actor.id

    async def next_messages(self) -> list[Message] | None:
        """The messages of the next event (often none), or None after a heartbeat's time
        without one. Raises StreamClosed when the stream must end."""
        try:
            item = await asyncio.wait_for(self.subscription.get(), HEARTBEAT_SECONDS)
        except TimeoutError:
            if not await self.still_allowed():
                raise StreamClosed("the token is no longer valid") from None
            return None
        except Overflowed:
            raise StreamClosed("the client fell behind") from None
        except Ended:
            raise StreamClosed("the server is shutting down") from None
        if self._closes(item):
            raise StreamClosed("the token is no longer valid")
        if not self.channels or item.kind in CLOSING_EVENTS:
            return []
        try:
            return await render(self.ctx, self.viewer, list(self.channels), item, self.shared)
        except Exception:  # noqa: BLE001 - one event that cannot be rendered must not end the stream
            log.exception("cannot render %s for %s", item, self.viewer.actor.username)
            return []

    async def still_allowed(self) -> bool:
        async with self.ctx.database.session() as session:
            row = (await session.exec(select(OAuthAccessToken, User).join(User, User.id == OAuthAccessToken.user_id)
                                      .where(OAuthAccessToken.id == self.viewer.token_id))).first()
        if row is None:
            return False
        token, user = row
        return token.revoked_at is None and account_problem(user) is None
