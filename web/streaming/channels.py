"""Streams by name: what a subscription asks for, the scope it needs, how events name it.

Pure: no I/O. Names and paths as Mastodon's streaming server maps them
(`channelNameFromPath`, `streamNameFromChannelName` in its `streaming/index.js`): the SSE
path `/api/v1/streaming/public/local?only_media=true` is the channel `public:local:media`,
and every event names its stream as an array that carries the tag or the list id
(`["hashtag", "caregivers"]`, `["list", "42"]`), which masto.js checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PUBLIC = ("public", "public:local", "public:remote")
STATUS_CHANNELS = frozenset({"user", *PUBLIC, *(f"{name}:media" for name in PUBLIC), "hashtag", "hashtag:local",
                             "list", "direct"})
CHANNELS = STATUS_CHANNELS | {"user:notification"}
# SSE path (after /api/v1/streaming/) → channel; `only_media` adds `:media` to the public ones.
PATHS = {"user": "user", "user/notification": "user:notification", "public": "public",
         "public/local": "public:local", "public/remote": "public:remote", "hashtag": "hashtag",
         "hashtag/local": "hashtag:local", "list": "list", "direct": "direct"}
UNKNOWN_CHANNEL = "Unknown channel requested"


class ChannelError(ValueError):
    """A subscription that cannot be served; `status` as Mastodon answers it."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Channel:
    name: str
    tag: str | None = None
    list_id: int | None = None

    @property
    def stream(self) -> list[str]:
        """The event's `stream` array, with the tag as the client spelled it (masto.js compares)."""
        if self.tag is not None:
            return [self.name, self.tag]
        if self.list_id is not None:
            return [self.name, str(self.list_id)]
        return [self.name]

    @property
    def key(self) -> tuple[str, str | None, int | None]:
        """What makes two subscriptions the same (tags match whatever their case)."""
        return (self.name, self.tag.lower() if self.tag is not None else None, self.list_id)

    @property
    def scope(self) -> str:
        if self.name == "user:notification":
            return "read:notifications"
        if self.name == "list":
            return "read:lists"
        return "read:statuses"

    @property
    def public(self) -> bool:
        return self.name.startswith("public") or self.name.startswith("hashtag")

    @property
    def local_only(self) -> bool:
        return self.name.startswith("public:local") or self.name == "hashtag:local"

    @property
    def remote_only(self) -> bool:
        return self.name.startswith("public:remote")

    @property
    def only_media(self) -> bool:
        return self.name.endswith(":media")

    @property
    def context(self) -> str:
        """The filter context its statuses are shown in, as the matching REST timeline."""
        return "public" if self.public else "home"


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "t", "on", "yes")


def channel_named(name: str, params: Mapping[str, str]) -> Channel:
    """The channel a WebSocket `subscribe` (or `?stream=`) names, with its `tag` or `list`."""
    if name not in CHANNELS:
        raise ChannelError(UNKNOWN_CHANNEL)
    if name.startswith("hashtag"):
        tag = (params.get("tag") or "").strip().lstrip("#")
        if not tag:
            raise ChannelError("No tag for stream provided")
        return Channel(name, tag=tag)
    if name == "list":
        raw = (params.get("list") or "").strip()
        if not raw.isdigit():
            raise ChannelError("No list for stream provided")
        return Channel(name, list_id=int(raw))
    return Channel(name)


def channel_at(path: str, params: Mapping[str, str]) -> Channel:
    """The channel an SSE path (the part after `/api/v1/streaming/`) names."""
    name = PATHS.get(path.strip("/"))
    if name is None:
        raise ChannelError(UNKNOWN_CHANNEL)
    if name in PUBLIC and _truthy(params.get("only_media")):
        name = f"{name}:media"
    return channel_named(name, params)
