"""What every request handler needs, built once at start and kept on `app.state.ctx`."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from actors.keys import KeyRing
from actors.urls import LocalUrls
from moderation.network import Network, load_network
from storage.engine import Database
from web.settings import Settings


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    database: Database
    keyring: KeyRing
    urls: LocalUrls
    network: Network | None

    @classmethod
    def build(cls, settings: Settings, database: Database | None = None) -> AppContext:
        return cls(
            settings=settings,
            database=database or Database(settings.database_url),
            keyring=KeyRing(settings.secret_key),
            urls=LocalUrls(settings.base_url),
            network=load_network(settings.network_file) if settings.network_file else None,
        )


def context_of(request: Request) -> AppContext:
    return request.app.state.ctx
