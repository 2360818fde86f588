"""Request bodies that carry pictures may be larger than the rest of the API's.

`ROUNDS_MAX_BODY_BYTES` (1 MiB by default) bounds inboxes and the API; a phone photo is often
larger. The routes that take pictures get the advertised per-picture limit (the instance
document's `image_size_limit`) times the number of pictures they take, plus room for the
multipart framing and the text fields; the handlers then check each picture's own size.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from web.api.entities.instance import IMAGE_SIZE_LIMIT
from web.limits import BodyLimit

FRAMING = 256 * 1024  # multipart boundaries, part headers, descriptions and other fields
# path → how many pictures one request to it may carry
PICTURE_ROUTES = {
    "/api/v1/media": 1,
    "/api/v2/media": 1,
    "/api/v1/accounts/update_credentials": 2,  # avatar and header
}


def upload_limit(path: str) -> int | None:
    """The body limit of a picture route, or None for every other path."""
    pictures = PICTURE_ROUTES.get(path.rstrip("/") or "/")
    return None if pictures is None else pictures * IMAGE_SIZE_LIMIT + FRAMING


class UploadAwareBodyLimit:
    """`BodyLimit` with the general limit, except on the picture routes."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.general = BodyLimit(app, max_bytes)
        self.uploads = {path: BodyLimit(app, max(max_bytes, limit))
                        for path in PICTURE_ROUTES if (limit := upload_limit(path)) is not None}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limited = self.uploads.get(scope.get("path", "").rstrip("/")) if scope["type"] == "http" else None
        await (limited or self.general)(scope, receive, send)
