"""Exception handlers: errors are JSON `{"error": "…"}`, or a small page for browsers."""

from __future__ import annotations

from html import escape
from http import HTTPStatus

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from storage.availability import DatabaseUnavailable, is_unavailable
from web.negotiation import wants_html
from web.responses import error_response

MESSAGES = {
    401: "This request needs a valid signature or token",
    404: "Record not found",
    413: "Request body too large",
}
DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."
RETRY_AFTER_SECONDS = 5


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    message = exc.detail if exc.detail and exc.detail != phrase else MESSAGES.get(exc.status_code, phrase)
    headers = dict(exc.headers or {})
    if wants_html(request):
        return HTMLResponse(
            f"<!doctype html><meta charset=utf-8><title>{exc.status_code} {escape(phrase)}</title>"
            f"<h1>{exc.status_code} {escape(phrase)}</h1><p>{escape(message)}</p>",
            status_code=exc.status_code, headers=headers,
        )
    return error_response(exc.status_code, message, headers)


async def database_error(request: Request, exc: Exception) -> Response:
    """An outage (storage.availability) answers 503 with Retry-After; any other database error is a bug: a 500."""
    if not is_unavailable(exc):
        raise exc
    unavailable = HTTPException(503, DATABASE_UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return await http_exception(request, unavailable)


EXCEPTION_HANDLERS = {HTTPException: http_exception, DatabaseUnavailable: database_error, DBAPIError: database_error,
                      PoolTimeout: database_error}
