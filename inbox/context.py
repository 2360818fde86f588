"""What inbox handlers are given, and the two ways a handler declines.

    Ignore   the activity is understood and has no effect here (unknown type, not ours,
             already known, not relevant to anyone here); recorded, never retried
    Retry    something it needs is unavailable for now (a fetch failed); tried again later
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from actors.remote import RemoteActors
from actors.urls import LocalUrls
from federation.fetch import Fetcher
from moderation.network import Network
from storage.tables import Actor, Follow, Status


class Ignore(Exception):
    pass


class Retry(Exception):
    pass


class Replies(Protocol):
    """The answers the inbox sends (implemented by `outbox.actions.Outbox`, wired in `web`)."""

    async def accept_follow(self, session: AsyncSession, follow: Follow, followee: Actor,
                            follower: Actor) -> None: ...

    async def reject_follow(self, session: AsyncSession, follow: Follow, followee: Actor,
                            follower: Actor) -> None: ...

    async def forward(self, session: AsyncSession, activity: dict[str, Any], inboxes: set[str]) -> int: ...

    async def send_poll_update(self, session: AsyncSession, status: Status, author: Actor) -> None: ...


@dataclass(frozen=True)
class HandlerContext:
    urls: LocalUrls
    actors: RemoteActors
    fetcher: Fetcher
    replies: Replies
    clock: Callable[[], datetime]
    network: Network | None = None

    def is_member(self, domain: str | None) -> bool:
        """Is `domain` a member instance of this instance's network?"""
        return domain is not None and self.network is not None and self.network.is_member(domain)


Activity = dict[str, Any]
