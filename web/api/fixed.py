"""Fixed answers: features Rounds does not have (yet), answered the way Mastodon answers a
small server that has nothing there, never with a 404 (apps such as Ivory crash on 404s
from routes they expect). Each takes the token and scope the real route would.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from web.api.accounts import find_account
from web.api.params import get, record_id
from web.auth import optional_viewer, require_viewer
from web.context import context_of
from web.responses import JSONResponse


async def announcements(request: Request) -> Response:
    """Fixed `[]`: no announcements exist; Mastodon with none published answers the same."""
    await require_viewer(request, "read")
    return JSONResponse([])


async def trends(request: Request) -> Response:
    """Fixed `[]` for tags, statuses and links: Mastodon shows only reviewed trends, and a small
    server with none reviewed answers the same."""
    await optional_viewer(request)
    return JSONResponse([])


async def followed_tags(request: Request) -> Response:
    """Fixed `[]`: following hashtags is not offered; Mastodon answers `[]` to someone who follows none."""
    await require_viewer(request, "read:follows")
    return JSONResponse([])


async def scheduled_statuses(request: Request) -> Response:
    """Fixed `[]`: scheduling is not offered; Mastodon answers `[]` when nothing is scheduled."""
    await require_viewer(request, "read:statuses")
    return JSONResponse([])


async def suggestions(request: Request) -> Response:
    """Fixed `[]`: no follow suggestions; Mastodon's are empty on a small server with no
    staff picks or trending accounts."""
    await require_viewer(request, "read")
    return JSONResponse([])


async def filters_v1(request: Request) -> Response:
    """Fixed `[]`: the legacy filters API; Mastodon answers `[]` to someone without filters."""
    await require_viewer(request, "read:filters")
    return JSONResponse([])


async def featured_tags(request: Request) -> Response:
    """Fixed `[]` for a known account: featuring hashtags is not offered; Mastodon answers `[]`
    for an account that features none."""
    await optional_viewer(request, "read:accounts")
    async with context_of(request).database.session() as session:
        await find_account(session, record_id(request.path_params["id"]))
    return JSONResponse([])


routes = [
    *get("/api/v1/announcements", announcements),
    *get("/api/v1/trends", trends),
    *get("/api/v1/trends/tags", trends),
    *get("/api/v1/trends/statuses", trends),
    *get("/api/v1/trends/links", trends),
    *get("/api/v1/followed_tags", followed_tags),
    *get("/api/v1/scheduled_statuses", scheduled_statuses),
    *get("/api/v2/suggestions", suggestions),
    *get("/api/v1/filters", filters_v1),
    *get("/api/v1/accounts/{id}/featured_tags", featured_tags),
]
