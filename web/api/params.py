"""Reading client-API requests the way Rails (and so every Mastodon client) writes them,
and declaring routes that tolerate a trailing slash."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from web.api.paging import MAX_DB_ID

NOT_FOUND = "Record not found"
# ActiveModel::Type::Boolean's false values; anything else non-empty is true.
RAILS_FALSE = frozenset({"false", "0", "f", "F", "FALSE", "off", "OFF"})


def rails_bool(value: str | None, default: bool = False) -> bool:
    """Mastodon.py sends "1"/"0", toot "true"/"false"; both read as Rails reads them."""
    if value is None or value == "":
        return default
    return value not in RAILS_FALSE


def body_flag(params: dict[str, Any], name: str, default: bool = False) -> bool:
    """A boolean from a form, JSON or query body: JSON's true/false and numbers, or Rails' strings;
    for a repeated key the last value counts."""
    value = params.get(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return rails_bool(value if isinstance(value, str) else None, default)


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    return rails_bool(request.query_params.get(name), default)


def query_list(request: Request, name: str) -> list[str]:
    """`name[]=a&name[]=b` (Tusky, masto.js, Mastodon.py for lists) or a bare repeated `name=`."""
    return request.query_params.getlist(f"{name}[]") + request.query_params.getlist(name)


def is_record_id(raw: str) -> bool:
    return raw.isascii() and raw.isdigit() and int(raw) <= MAX_DB_ID


def record_id(raw: str) -> int:
    """A path id; anything that cannot be one of ours is simply not found."""
    if not is_record_id(raw):
        raise HTTPException(404, NOT_FOUND)
    return int(raw)


Endpoint = Callable[[Request], Awaitable[Response]]


def get(path: str, endpoint: Endpoint, methods: tuple[str, ...] = ("GET",)) -> list[Route]:
    """The route and its trailing-slash twin: Mastodon.py asks for `/api/v1/instance/`, and a
    307 redirect would lose the scheme behind a proxy."""
    return [Route(path, endpoint, methods=list(methods)), Route(path + "/", endpoint, methods=list(methods))]
