"""`/api/v1/admin/domain_blocks` and `/api/v1/admin/domain_allows`: which servers this instance
limits, suspends or (in allowlist mode) federates with.

Needs `manage_federation` (admins only). Changes go through `moderation.domains` (audited, in
the same transaction). Suspending a domain severs its follows at once and then purges what we
cached from it after the answer is sent, as Mastodon's DomainBlockWorker does.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from moderation.domains import (
    BlockEntry,
    DomainPolicyError,
    block_covering,
    lift_allow,
    lift_block,
    normalize_domain,
    save_allow,
    save_block,
)
from moderation.suspension import purge_all
from storage.tables import DomainAllow, DomainBlock
from web.api.admin import require_moderator
from web.api.entities.formats import iso_datetime
from web.api.paging import Page, link_headers
from web.api.params import NOT_FOUND, body_flag, get, record_id
from web.context import context_of
from web.oauth import request_params, validation_error
from web.responses import JSONResponse

READ_BLOCKS, WRITE_BLOCKS = "admin:read:domain_blocks", "admin:write:domain_blocks"
READ_ALLOWS, WRITE_ALLOWS = "admin:read:domain_allows", "admin:write:domain_allows"
PERMISSION = "manage_federation"
STRICTNESS = {"noop": 0, "silence": 1, "suspend": 2}
FIELD_LABELS = {"severity": "Severity", "private_comment": "Private comment", "public_comment": "Public comment"}


def admin_domain_block(row: DomainBlock) -> dict[str, Any]:
    """Mastodon's Admin::DomainBlock."""
    return {"id": str(row.id), "domain": row.domain, "digest": hashlib.sha256(row.domain.encode()).hexdigest(),
            "created_at": iso_datetime(row.created_at), "severity": row.severity,
            "reject_media": row.reject_media, "reject_reports": row.reject_reports,
            "private_comment": row.private_comment or None, "public_comment": row.public_comment or None,
            "obfuscate": row.obfuscate}


def admin_domain_allow(row: DomainAllow) -> dict[str, Any]:
    """Mastodon's Admin::DomainAllow."""
    return {"id": str(row.id), "domain": row.domain, "created_at": iso_datetime(row.created_at)}


def _invalid(error: DomainPolicyError) -> JSONResponse:
    message = str(error)
    field = next((name for name in FIELD_LABELS if message.startswith(name)), "domain")
    label = FIELD_LABELS.get(field, "Domain")
    return validation_error(field, "ERR_INVALID", message.removeprefix(field).strip() if field != "domain"
                            else f"is invalid: {message}", label)


def _text(params: dict[str, Any], name: str, default: str = "") -> str:
    value = params.get(name, default)
    if isinstance(value, list):
        value = value[-1] if value else default
    return value if isinstance(value, str) else default


def _entry(params: dict[str, Any], domain: str, current: DomainBlock | None = None) -> BlockEntry:
    """The entry a POST or PUT asks for; a PUT changes only the fields it names."""

    def flag(name: str) -> bool:
        return body_flag(params, name, getattr(current, name) if current is not None else False)

    def text(name: str, default: str) -> str:
        return _text(params, name, getattr(current, name) if current is not None else default) or ""

    return BlockEntry(domain=domain, severity=text("severity", "silence"), reject_media=flag("reject_media"),
                      reject_reports=flag("reject_reports"), private_comment=text("private_comment", ""),
                      public_comment=text("public_comment", ""), obfuscate=flag("obfuscate"))


def _purge_if_suspended(request: Request, row: DomainBlock, was: str | None) -> BackgroundTask | None:
    if row.severity != "suspend" or was == "suspend":
        return None
    return BackgroundTask(purge_all, context_of(request).database, row.domain)


async def _one(session: AsyncSession, table: type[DomainBlock] | type[DomainAllow], request: Request) -> Any:
    row = await session.get(table, record_id(request.path_params["id"]))
    if row is None:
        raise HTTPException(404, NOT_FOUND)
    return row


# --- domain blocks ----------------------------------------------------------------------------

async def list_blocks(request: Request) -> Response:
    await require_moderator(request, READ_BLOCKS, PERMISSION)
    return await _listing(request, DomainBlock, admin_domain_block)


async def get_block(request: Request) -> Response:
    await require_moderator(request, READ_BLOCKS, PERMISSION)
    async with context_of(request).database.session() as session:
        return JSONResponse(admin_domain_block(await _one(session, DomainBlock, request)))


async def create_block(request: Request) -> Response:
    """Mastodon refuses a domain already blocked, or covered by a parent's block at least as strict
    (422 naming `existing_domain_block`)."""
    viewer = await require_moderator(request, WRITE_BLOCKS, PERMISSION)
    params = await request_params(request)
    raw_domain = _text(params, "domain").strip()
    if not raw_domain:
        return validation_error("domain", "ERR_BLANK", "can't be blank", "Domain")
    try:
        entry = _entry(params, raw_domain).checked()
    except DomainPolicyError as error:
        return _invalid(error)
    async with context_of(request).database.transaction() as session:
        existing = await block_covering(session, entry.domain)
        if existing is not None and (existing.domain == entry.domain
                                     or STRICTNESS[existing.severity] >= STRICTNESS[entry.severity]):
            why = ("has already been taken" if existing.domain == entry.domain
                   else f"is already covered by the block of {existing.domain}")
            return JSONResponse({"error": f"Validation failed: Domain {why}",
                                 "details": {"domain": [{"error": "ERR_TAKEN", "description": f"Domain {why}"}]},
                                 "existing_domain_block": admin_domain_block(existing)}, status_code=422)
        row, _ = await save_block(session, entry, by=viewer.actor.id, via="api")
        entity = admin_domain_block(row)
    return JSONResponse(entity, background=_purge_if_suspended(request, row, None))


async def update_block(request: Request) -> Response:
    viewer = await require_moderator(request, WRITE_BLOCKS, PERMISSION)
    params = await request_params(request)
    async with context_of(request).database.transaction() as session:
        row = await _one(session, DomainBlock, request)
        was = row.severity
        try:
            entry = _entry(params, row.domain, row).checked()
        except DomainPolicyError as error:
            return _invalid(error)
        row, _ = await save_block(session, entry, by=viewer.actor.id, via="api")
        entity = admin_domain_block(row)
    return JSONResponse(entity, background=_purge_if_suspended(request, row, was))


async def delete_block(request: Request) -> Response:
    """Lifting a block restores nothing that a suspension severed or purged."""
    viewer = await require_moderator(request, WRITE_BLOCKS, PERMISSION)
    async with context_of(request).database.transaction() as session:
        row = await _one(session, DomainBlock, request)
        await lift_block(session, row.domain, by=viewer.actor.id, via="api")
    return JSONResponse({})


# --- domain allows ----------------------------------------------------------------------------

async def list_allows(request: Request) -> Response:
    await require_moderator(request, READ_ALLOWS, PERMISSION)
    return await _listing(request, DomainAllow, admin_domain_allow)


async def get_allow(request: Request) -> Response:
    await require_moderator(request, READ_ALLOWS, PERMISSION)
    async with context_of(request).database.session() as session:
        return JSONResponse(admin_domain_allow(await _one(session, DomainAllow, request)))


async def create_allow(request: Request) -> Response:
    """Allowing a domain already allowed answers the existing entry (as Mastodon does)."""
    viewer = await require_moderator(request, WRITE_ALLOWS, PERMISSION)
    raw_domain = _text(await request_params(request), "domain").strip()
    if not raw_domain:
        return validation_error("domain", "ERR_BLANK", "can't be blank", "Domain")
    try:
        domain = normalize_domain(raw_domain)
    except DomainPolicyError as error:
        return _invalid(error)
    async with context_of(request).database.transaction() as session:
        row, _ = await save_allow(session, domain, by=viewer.actor.id, via="api")
        return JSONResponse(admin_domain_allow(row))


async def delete_allow(request: Request) -> Response:
    viewer = await require_moderator(request, WRITE_ALLOWS, PERMISSION)
    async with context_of(request).database.transaction() as session:
        row = await _one(session, DomainAllow, request)
        await lift_allow(session, row.domain, by=viewer.actor.id, via="api")
    return JSONResponse({})


async def _listing(request: Request, table: type[DomainBlock] | type[DomainAllow], render) -> Response:
    """Newest first, Link-header paging by id (limit 100, at most 200)."""
    ctx = context_of(request)
    page = Page.of(request, default=100, maximum=200)
    async with ctx.database.session() as session:
        rows = page.arrange((await session.exec(page.apply(select(table), table.id))).all())
    return JSONResponse([render(row) for row in rows],
                        headers=link_headers(request, ctx.urls.base_url, [row.id for row in rows]))


routes = [
    *get("/api/v1/admin/domain_blocks", list_blocks),
    *get("/api/v1/admin/domain_blocks", create_block, methods=("POST",)),
    *get("/api/v1/admin/domain_blocks/{id}", get_block),
    *get("/api/v1/admin/domain_blocks/{id}", update_block, methods=("PUT",)),
    *get("/api/v1/admin/domain_blocks/{id}", delete_block, methods=("DELETE",)),
    *get("/api/v1/admin/domain_allows", list_allows),
    *get("/api/v1/admin/domain_allows", create_allow, methods=("POST",)),
    *get("/api/v1/admin/domain_allows/{id}", get_allow),
    *get("/api/v1/admin/domain_allows/{id}", delete_allow, methods=("DELETE",)),
]
