"""The instance: v1 and v2 documents, rules, peers, activity, and the default pictures."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, func
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from storage.tables import Actor, DomainBlock, Status, User
from web.api.entities import instance_v1, instance_v2, load_instance_facts
from web.api.entities.formats import MISSING_AVATAR, MISSING_HEADER
from web.api.params import get
from web.context import context_of
from web.responses import JSONResponse

STATIC = Path(__file__).parent.parent / "static"
ACTIVITY_WEEKS = 12


async def _facts(request: Request):
    ctx = context_of(request)
    async with ctx.database.session() as session:
        return await load_instance_facts(session, ctx.urls)


async def v1(request: Request) -> Response:
    ctx = context_of(request)
    return JSONResponse(instance_v1(ctx.settings, ctx.urls, await _facts(request)))


async def v2(request: Request) -> Response:
    ctx = context_of(request)
    return JSONResponse(instance_v2(ctx.settings, ctx.urls, await _facts(request)))


async def rules(request: Request) -> Response:
    """No server rules are configured yet: `[]`, as Mastodon answers when none are set."""
    return JSONResponse([])


async def peers(request: Request) -> Response:
    """The domains this instance knows actors on."""
    async with context_of(request).database.session() as session:
        domains = await session.exec(select(Actor.domain).where(Actor.domain.is_not(None))  # type: ignore[union-attr]
                                     .distinct().order_by(Actor.domain))
        return JSONResponse(list(domains.all()))


def obfuscated(domain: str) -> str:
    """Mastodon's DomainBlock#public_domain: the middle half of the characters (dots kept) becomes
    `*` (`spam.example` → `spam.****ple`), so the domain can be recognised, not read."""
    length = len(domain)
    visible = length // 4
    return "".join("*" if visible < index < length - visible and char != "." else char
                   for index, char in enumerate(domain))


async def domain_blocks(request: Request) -> Response:
    """The instance's silences and suspensions as Mastodon shows them to anyone: domain (obfuscated
    where asked), its sha256 digest, severity and the public comment; never the private comment."""
    async with context_of(request).database.session() as session:
        rows = (await session.exec(select(DomainBlock).where(
            DomainBlock.severity.in_(("silence", "suspend")))  # type: ignore[attr-defined]
            .order_by(DomainBlock.domain))).all()
    return JSONResponse([
        {"domain": obfuscated(row.domain) if row.obfuscate else row.domain,
         "digest": hashlib.sha256(row.domain.encode()).hexdigest(), "severity": row.severity,
         "comment": row.public_comment or None}
        for row in rows
    ])


async def activity(request: Request) -> Response:
    """Weekly counts for the last 12 weeks, newest first, as strings (Mastodon's shape): local
    posts, people active that week, sign-ups. Three queries, one column per week."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    weeks = [monday - timedelta(weeks=n) for n in range(ACTIVITY_WEEKS)]

    def per_week(column: Any) -> list[Any]:
        return [func.sum(case((and_(column >= start, column < start + timedelta(weeks=1)), 1), else_=0))
                for start in weeks]

    async with context_of(request).database.session() as session:
        statuses = (await session.exec(select(*per_week(Status.created_at)).where(
            Status.local, Status.reblog_of_id.is_(None)))).one()  # type: ignore[union-attr]
        logins = (await session.exec(select(*per_week(User.last_active_at)))).one()
        registrations = (await session.exec(select(*per_week(User.created_at)))).one()
    return JSONResponse([
        {"week": str(int(start.timestamp())), "statuses": str(statuses[n] or 0), "logins": str(logins[n] or 0),
         "registrations": str(registrations[n] or 0)}
        for n, start in enumerate(weeks)
    ])


async def translation_languages(request: Request) -> Response:
    """No translation service: `{}` (the iOS app asks whenever the major version is ≥ 4)."""
    return JSONResponse({})


async def custom_emojis(request: Request) -> Response:
    """No custom emojis are configured: `[]`."""
    return JSONResponse([])


def _picture(name: str):
    async def endpoint(request: Request) -> Response:
        return FileResponse(STATIC / name, media_type="image/png",
                            headers={"Cache-Control": "public, max-age=86400"})
    return endpoint


routes = [
    *get("/api/v1/instance", v1),
    *get("/api/v2/instance", v2),
    *get("/api/v1/instance/rules", rules),
    *get("/api/v1/instance/peers", peers),
    *get("/api/v1/instance/domain_blocks", domain_blocks),
    *get("/api/v1/instance/activity", activity),
    *get("/api/v1/instance/translation_languages", translation_languages),
    *get("/api/v1/custom_emojis", custom_emojis),
    *get(MISSING_AVATAR, _picture("missing-avatar.png")),
    *get(MISSING_HEADER, _picture("missing-header.png")),
]
