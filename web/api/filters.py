"""Filters v2: a person's keywords and statuses to hide or flag in chosen contexts.

Clients send keywords as JSON (`keywords_attributes: [{keyword, whole_word}]`, Mastodon.py)
or as Rails-style form keys (`keywords_attributes[][keyword]`, `keywords_attributes[0][keyword]`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from actors.visibility import local_viewer_may_see
from storage.tables import Filter, FilterKeyword, FilterStatus, Status, utcnow
from web.api.entities.filtering import filter_entity as filter_entity_of
from web.api.entities.filtering import filter_status_entity, keyword_entity
from web.api.params import NOT_FOUND, get, rails_bool, record_id
from web.auth import Viewer, require_viewer
from web.context import context_of
from web.oauth import request_params, validation_error
from web.responses import JSONResponse

CONTEXTS = ("home", "notifications", "public", "thread", "account")
ACTIONS = ("warn", "hide", "blur")
MAX_TITLE = 255
MAX_KEYWORDS = 100
_FORM_KEY = re.compile(r"^keywords_attributes\[(\d*)\]\[(\w+)\]$")


class Invalid(Exception):
    def __init__(self, field: str, description: str, label: str) -> None:
        super().__init__(description)
        self.field, self.description, self.label = field, description, label


# --- entities -------------------------------------------------------------------------------

async def filter_entity(session: AsyncSession, row: Filter) -> dict[str, Any]:
    keywords = (await session.exec(select(FilterKeyword).where(FilterKeyword.filter_id == row.id)
                                   .order_by(FilterKeyword.id))).all()
    statuses = (await session.exec(select(FilterStatus).where(FilterStatus.filter_id == row.id)
                                   .order_by(FilterStatus.id))).all()
    return filter_entity_of(row, list(keywords), list(statuses))


# --- reading requests -----------------------------------------------------------------------

def _contexts(params: dict[str, Any]) -> str:
    raw = params.get("context")
    values = raw if isinstance(raw, list) else [raw] if raw else []
    if not values or not all(value in CONTEXTS for value in values):
        raise Invalid("context", f"must be some of {', '.join(CONTEXTS)}", "Context")
    return ",".join(dict.fromkeys(values))


def _keywords(params: dict[str, Any], form: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """New keywords from JSON objects or from Rails form keys (a bare `[]` starts a new one)."""
    raw = params.get("keywords_attributes")
    items: list[dict[str, Any]] = [item for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []
    if isinstance(raw, dict):  # {"0": {...}, "1": {...}}
        items = [item for item in raw.values() if isinstance(item, dict)]
    numbered: dict[str, dict[str, Any]] = {}
    for key, value in form:
        match = _FORM_KEY.match(key)
        if match is None:
            continue
        index, field = match.groups()
        if index == "":
            if not items or field in items[-1]:
                items.append({})
            items[-1][field] = value
        else:
            numbered.setdefault(index, {})[field] = value
    items += numbered.values()
    keywords = []
    for item in items:
        keyword = item.get("keyword")
        if not isinstance(keyword, str) or not keyword.strip() or len(keyword) > MAX_TITLE:
            raise Invalid("keywords_attributes", "needs a keyword of 1 to 255 characters", "Keyword")
        whole = item.get("whole_word", True)
        keywords.append({"keyword": keyword.strip(),
                         "whole_word": whole if isinstance(whole, bool) else rails_bool(str(whole), True)})
    if len(keywords) > MAX_KEYWORDS:
        raise Invalid("keywords_attributes", f"cannot be more than {MAX_KEYWORDS}", "Keywords")
    return keywords


def _filter_fields(params: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    title = params.get("title")
    if title is not None or creating:
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
            raise Invalid("title", "can't be blank or longer than 255 characters", "Title")
        fields["title"] = title.strip()
    if params.get("context") is not None or creating:
        fields["contexts"] = _contexts(params)
    action = params.get("filter_action")
    if action is not None:
        if action not in ACTIONS:
            raise Invalid("filter_action", "is not included in the list", "Filter action")
        fields["action"] = action
    if "expires_in" in params:
        expires_in = params["expires_in"]
        if expires_in in (None, ""):
            fields["expires_at"] = None
        elif str(expires_in).isdigit() and int(expires_in) > 0:
            fields["expires_at"] = utcnow() + timedelta(seconds=int(expires_in))
        else:
            raise Invalid("expires_in", "must be a number of seconds", "Expires in")
    return fields


async def _form_pairs(request: Request) -> list[tuple[str, str]]:
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded",
                                                           "multipart/form-data")):
        form = await request.form()
        return [(key, value) for key, value in form.multi_items() if isinstance(value, str)]
    return []


def _refusal(error: Invalid) -> JSONResponse:
    return validation_error(error.field, "ERR_INVALID", error.description, error.label)


# --- routes ---------------------------------------------------------------------------------

async def _own_filter(session: AsyncSession, viewer: Viewer, raw_id: str) -> Filter:
    row = await session.get(Filter, record_id(raw_id))
    if row is None or row.actor_id != viewer.actor.id:
        raise HTTPException(404, NOT_FOUND)
    return row


async def filters(request: Request) -> Response:
    if request.method == "GET":
        viewer = await require_viewer(request, "read:filters")
        async with context_of(request).database.session() as session:
            rows = (await session.exec(select(Filter).where(Filter.actor_id == viewer.actor.id)
                                       .order_by(Filter.id))).all()
            return JSONResponse([await filter_entity(session, row) for row in rows])
    viewer = await require_viewer(request, "write:filters")
    params = await request_params(request)
    try:
        fields = _filter_fields(params, creating=True)
        keywords = _keywords(params, await _form_pairs(request))
    except Invalid as error:
        return _refusal(error)
    async with context_of(request).database.transaction() as session:
        row = Filter(actor_id=viewer.actor.id, **fields)
        session.add(row)
        await session.flush()
        for keyword in keywords:
            session.add(FilterKeyword(filter_id=row.id, **keyword))
        await session.flush()
        return JSONResponse(await filter_entity(session, row))


async def one_filter(request: Request) -> Response:
    viewer = await require_viewer(request, "read:filters" if request.method == "GET" else "write:filters")
    params = await request_params(request) if request.method == "PUT" else {}
    async with context_of(request).database.transaction() as session:
        row = await _own_filter(session, viewer, request.path_params["id"])
        if request.method == "DELETE":
            await session.exec(delete(FilterKeyword).where(FilterKeyword.filter_id == row.id))  # type: ignore[call-overload]
            await session.exec(delete(FilterStatus).where(FilterStatus.filter_id == row.id))  # type: ignore[call-overload]
            await session.delete(row)
            return JSONResponse({})
        if request.method == "PUT":
            try:
                fields = _filter_fields(params, creating=False)
                keywords = _keywords(params, await _form_pairs(request))
            except Invalid as error:
                return _refusal(error)
            for name, value in fields.items():
                setattr(row, name, value)
            session.add(row)
            for keyword in keywords:
                session.add(FilterKeyword(filter_id=row.id, **keyword))
            await session.flush()
        return JSONResponse(await filter_entity(session, row))


async def filter_keywords(request: Request) -> Response:
    viewer = await require_viewer(request, "read:filters" if request.method == "GET" else "write:filters")
    async with context_of(request).database.transaction() as session:
        row = await _own_filter(session, viewer, request.path_params["id"])
        if request.method == "GET":
            keywords = (await session.exec(select(FilterKeyword).where(FilterKeyword.filter_id == row.id)
                                           .order_by(FilterKeyword.id))).all()
            return JSONResponse([keyword_entity(keyword) for keyword in keywords])
        params = await request_params(request)
        try:
            [keyword] = _keywords({"keywords_attributes": [params]}, [])
        except Invalid as error:
            return _refusal(error)
        added = FilterKeyword(filter_id=row.id, **keyword)
        session.add(added)
        await session.flush()
        return JSONResponse(keyword_entity(added))


async def one_keyword(request: Request) -> Response:
    viewer = await require_viewer(request, "read:filters" if request.method == "GET" else "write:filters")
    params = await request_params(request) if request.method == "PUT" else {}
    async with context_of(request).database.transaction() as session:
        keyword = await session.get(FilterKeyword, record_id(request.path_params["id"]))
        if keyword is None:
            raise HTTPException(404, NOT_FOUND)
        await _own_filter(session, viewer, str(keyword.filter_id))
        if request.method == "DELETE":
            await session.delete(keyword)
            return JSONResponse({})
        if request.method == "PUT":
            try:
                [changed] = _keywords({"keywords_attributes": [{"keyword": keyword.keyword,
                                                                "whole_word": keyword.whole_word} | params]}, [])
            except Invalid as error:
                return _refusal(error)
            keyword.keyword, keyword.whole_word = changed["keyword"], changed["whole_word"]
            session.add(keyword)
        return JSONResponse(keyword_entity(keyword))


async def filter_statuses(request: Request) -> Response:
    viewer = await require_viewer(request, "read:filters" if request.method == "GET" else "write:filters")
    async with context_of(request).database.transaction() as session:
        row = await _own_filter(session, viewer, request.path_params["id"])
        if request.method == "GET":
            statuses = (await session.exec(select(FilterStatus).where(FilterStatus.filter_id == row.id)
                                           .order_by(FilterStatus.id))).all()
            return JSONResponse([filter_status_entity(status) for status in statuses])
        raw = str((await request_params(request)).get("status_id") or "")
        status = await session.get(Status, record_id(raw)) if raw else None
        if status is None or not await local_viewer_may_see(session, status, viewer.actor.id):
            return validation_error("status_id", "ERR_INVALID", "is not a status you can see", "Status")
        existing = (await session.exec(select(FilterStatus).where(
            FilterStatus.filter_id == row.id, FilterStatus.status_id == status.id))).first()
        if existing is None:
            existing = FilterStatus(filter_id=row.id, status_id=status.id)
            session.add(existing)
            await session.flush()
        return JSONResponse(filter_status_entity(existing))


async def one_filter_status(request: Request) -> Response:
    viewer = await require_viewer(request, "read:filters" if request.method == "GET" else "write:filters")
    async with context_of(request).database.transaction() as session:
        found = await session.get(FilterStatus, record_id(request.path_params["id"]))
        if found is None:
            raise HTTPException(404, NOT_FOUND)
        await _own_filter(session, viewer, str(found.filter_id))
        if request.method == "DELETE":
            await session.delete(found)
            return JSONResponse({})
        return JSONResponse(filter_status_entity(found))


routes = [
    *get("/api/v2/filters/keywords/{id}", one_keyword, methods=("GET", "PUT", "DELETE")),
    *get("/api/v2/filters/statuses/{id}", one_filter_status, methods=("GET", "DELETE")),
    *get("/api/v2/filters", filters, methods=("GET", "POST")),
    *get("/api/v2/filters/{id}", one_filter, methods=("GET", "PUT", "DELETE")),
    *get("/api/v2/filters/{id}/keywords", filter_keywords, methods=("GET", "POST")),
    *get("/api/v2/filters/{id}/statuses", filter_statuses, methods=("GET", "POST")),
]
