"""Response classes for the media types we serve, and the JSON error shape."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse, Response

CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}


def _dump(content: Any) -> bytes:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class ActivityJSONResponse(Response):
    media_type = "application/activity+json"

    def render(self, content: Any) -> bytes:
        return _dump(content)


class JRDResponse(Response):
    media_type = "application/jrd+json"

    def render(self, content: Any) -> bytes:
        return _dump(content)


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Every JSON route answers errors as `{"error": "…"}` (Mastodon's shape)."""
    return JSONResponse({"error": message}, status_code=status_code, headers=headers)
