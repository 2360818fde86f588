"""Content negotiation: ActivityStreams JSON for servers, HTML for browsers."""

from __future__ import annotations

from starlette.requests import Request


def wants_activity_json(request: Request) -> bool:
    """True for `application/activity+json` or `application/ld+json` (any profile) in Accept."""
    accept = request.headers.get("accept", "").lower()
    return "application/activity+json" in accept or "application/ld+json" in accept


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not an API or ActivityPub client)."""
    accept = request.headers.get("accept", "").lower()
    if "text/html" not in accept or wants_activity_json(request):
        return False
    return not request.url.path.startswith(("/api/", "/oauth/token", "/.well-known/", "/nodeinfo/"))
