"""Discovery: WebFinger (RFC 7033), host-meta (RFC 6415) and NodeInfo 2.0/2.1."""

from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.accounts import find_local_actor
from federation.vocab import ACTIVITY_JSON
from storage.tables import Actor, Status, User, utcnow
from web import __version__
from web.context import AppContext, context_of
from web.responses import CORS_HEADERS, JRDResponse, JSONResponse

NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/{version}"
PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"


class BadResource(ValueError):
    """The WebFinger `resource` is not an `acct:` URI or an http(s) URL."""


def parse_resource(resource: str, ctx: AppContext) -> tuple[str, str] | None:
    """`acct:ann@here`, `ann@here` or an actor URL → ("user"|"instance", name); None if not ours.

    Raises BadResource when the resource is malformed.
    """
    resource = resource.strip()
    if not resource:
        raise BadResource("the resource parameter is empty")
    if resource.lower().startswith(("http://", "https://")):
        if resource.rstrip("/") == ctx.urls.instance_actor:
            return ("instance", ctx.urls.domain)
        username = ctx.urls.local_username(resource)
        return None if username is None else ("user", username)
    account = resource[5:] if resource.lower().startswith("acct:") else resource
    account = account.removeprefix("@")
    username, at, host = account.rpartition("@")
    if not at or not username or not host or any(c.isspace() for c in account):
        raise BadResource(f"{resource!r} is not acct:user@domain or an actor URL")
    if host.lower() != ctx.urls.domain:
        return None
    if username.lower() == ctx.urls.domain:
        return ("instance", ctx.urls.domain)
    return ("user", username)


async def webfinger(request: Request) -> Response:
    ctx = context_of(request)
    resource = request.query_params.get("resource")
    if resource is None:
        raise HTTPException(400, "the resource query parameter is required")
    try:
        target = parse_resource(resource, ctx)
    except BadResource as error:
        raise HTTPException(400, str(error)) from None
    if target is None:
        raise HTTPException(404, f"{resource} is not an account on {ctx.urls.domain}")
    kind, name = target
    async with ctx.database.session() as session:
        if kind == "instance":
            found = await session.exec(select(Actor).where(Actor.uri == ctx.urls.instance_actor))
            actor = found.first()
        else:
            actor = await find_local_actor(session, name)
    if actor is None:
        raise HTTPException(404, f"{resource} is not an account on {ctx.urls.domain}")
    links: list[dict[str, Any]] = [{"rel": "self", "type": ACTIVITY_JSON, "href": actor.uri}]
    if actor.url:
        links.insert(0, {"rel": PROFILE_PAGE_REL, "type": "text/html", "href": actor.url})
    return JRDResponse(
        {
            "subject": f"acct:{actor.username}@{ctx.urls.domain}",
            "aliases": [uri for uri in (actor.uri, actor.url) if uri],
            "links": links,
        },
        headers=CORS_HEADERS,
    )


async def host_meta(request: Request) -> Response:
    template = f"{context_of(request).urls.base_url}/.well-known/webfinger?resource={{uri}}"
    if request.url.path.endswith(".json") or request.query_params.get("format") == "json":
        return JSONResponse(
            {"links": [{"rel": "lrdd", "type": "application/jrd+json", "template": template}]},
            headers=CORS_HEADERS,
        )
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" type="application/xrd+xml" template="{escape(template)}"/>\n'
        "</XRD>\n"
    )
    return Response(body, media_type="application/xrd+xml", headers=CORS_HEADERS)


async def nodeinfo_links(request: Request) -> Response:
    base = context_of(request).urls.base_url
    return JSONResponse(
        {
            "links": [
                {"rel": NODEINFO_SCHEMA.format(version=version),
                 "href": f"{base}/nodeinfo/{version}"}
                for version in ("2.0", "2.1")
            ]
        },
        headers=CORS_HEADERS,
    )


async def nodeinfo(request: Request) -> Response:
    version = request.path_params["version"]
    if version not in ("2.0", "2.1"):
        raise HTTPException(404, f"NodeInfo {version} is not served here; try 2.0 or 2.1")
    ctx = context_of(request)
    usage = await _usage(ctx)
    software: dict[str, Any] = {"name": "rounds", "version": __version__}
    if version == "2.1":
        software["homepage"] = f"{ctx.urls.base_url}/about"
    metadata: dict[str, Any] = {"nodeName": ctx.settings.instance_name,
                                "federationMode": ctx.settings.federation_mode}
    if ctx.network is not None:
        metadata["network"] = {
            "name": ctx.network.name,
            "members": [{"name": member.name, "domain": member.domain}
                        for member in ctx.network.members],
        }
        # Served to signed fetches from members only (web.blocklists).
        metadata["blocklist"] = f"{ctx.urls.base_url}/blocklist"
    document = {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": ctx.settings.registrations == "open",
        "usage": usage,
        "metadata": metadata,
    }
    media_type = f'application/json; profile="{NODEINFO_SCHEMA.format(version=version)}#"'
    return JSONResponse(document, media_type=media_type, headers=CORS_HEADERS)


async def _usage(ctx: AppContext) -> dict[str, Any]:
    now = utcnow()
    people = select(func.count()).select_from(User).where(User.approved, ~User.disabled)
    async with ctx.database.session() as session:
        total = (await session.exec(people)).one()
        month = (await session.exec(
            people.where(User.last_active_at >= now - timedelta(days=30)))).one()
        halfyear = (await session.exec(
            people.where(User.last_active_at >= now - timedelta(days=180)))).one()
        posts = (await session.exec(
            select(func.count()).select_from(Status)
            .where(Status.local, Status.deleted_at.is_(None)))).one()  # type: ignore[union-attr]
    return {
        "users": {"total": total, "activeMonth": month, "activeHalfyear": halfyear},
        "localPosts": posts,
    }


routes = [
    Route("/.well-known/webfinger", webfinger),
    Route("/.well-known/host-meta", host_meta),
    Route("/.well-known/host-meta.json", host_meta),
    Route("/.well-known/nodeinfo", nodeinfo_links),
    Route("/nodeinfo/{version}", nodeinfo),
]
