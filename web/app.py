"""The Starlette application factory: `create_app(settings)` builds one instance."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware

from storage.engine import Database
from storage.migrate import current_revision, head_revision
from web import activitypub, api, blocklists, inbox, media, oauth, objects, pages, signup, streaming, wellknown
from web.context import AppContext
from web.cors import CORS
from web.errors import EXCEPTION_HANDLERS
from web.ratelimit import RateLimit
from web.services import build_federation
from web.settings import Settings
from web.uploads import UploadAwareBodyLimit

log = logging.getLogger("rounds")


class DatabaseNotReady(RuntimeError):
    """The database is missing tables or migrations: `rounds init` has not been run."""


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    http_client: httpx.AsyncClient | None = None,
    run_workers: bool = True,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """One instance. `run_workers=False` leaves inbox processing and delivery to
    `rounds worker` processes (or, in tests, to explicit `run_once()` calls)."""
    ctx = AppContext.build(settings, database)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        revision = await current_revision(ctx.database)
        if revision != head_revision():
            raise DatabaseNotReady(
                f"database is at revision {revision or 'none'}, expected {head_revision()}: "
                "run `rounds init` first"
            )
        federation = await build_federation(ctx, http_client, clock=clock or (lambda: datetime.now(UTC)))
        app.state.federation = federation
        if run_workers:
            federation.start_workers()
        try:
            yield
        finally:
            await federation.stop_workers()
            if http_client is None:  # we made them, we close them
                await federation.client.aclose()
            if database is None:
                await ctx.database.dispose()

    app = Starlette(
        routes=[*wellknown.routes, *inbox.routes, *objects.routes, *activitypub.routes, *pages.routes,
                *oauth.routes, *signup.routes, *api.routes, *streaming.routes, *media.routes, *blocklists.routes],
        middleware=[Middleware(CORS), Middleware(RateLimit, limit=settings.api_rate_limit),
                    Middleware(UploadAwareBodyLimit, max_bytes=settings.max_body_bytes)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    return app
