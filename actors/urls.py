"""The URLs of local things. Every ActivityPub id we mint comes from here."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class LocalUrls:
    base_url: str  # "https://mayo.example" or "http://127.0.0.1:8001", no trailing slash

    @property
    def domain(self) -> str:
        return urlsplit(self.base_url).netloc

    def actor(self, username: str) -> str:
        return f"{self.base_url}/users/{username}"

    def inbox(self, username: str) -> str:
        return f"{self.actor(username)}/inbox"

    def outbox(self, username: str) -> str:
        return f"{self.actor(username)}/outbox"

    def followers(self, username: str) -> str:
        return f"{self.actor(username)}/followers"

    def following(self, username: str) -> str:
        return f"{self.actor(username)}/following"

    def profile(self, username: str) -> str:
        return f"{self.base_url}/@{username}"

    def status(self, username: str, status_id: int) -> str:
        return f"{self.actor(username)}/statuses/{status_id}"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base_url}/inbox"

    @property
    def instance_actor(self) -> str:
        return f"{self.base_url}/actor"

    @staticmethod
    def key_id(actor_uri: str) -> str:
        return f"{actor_uri}#main-key"

    def local_username(self, uri: str) -> str | None:
        """`https://here/users/ann` or `https://here/@ann` → "ann"; None for anything else."""
        for prefix in (f"{self.base_url}/users/", f"{self.base_url}/@"):
            if uri.startswith(prefix):
                rest = uri[len(prefix):]
                if rest and "/" not in rest and "?" not in rest and "#" not in rest:
                    return rest
        return None
