"""The media directory: where redrawn uploads are written, and the route that serves them.

Files get random names (`secrets.token_urlsafe`), so a name says nothing about its owner and
cannot be guessed. A file is written under a hidden temporary name and renamed into place,
so no reader ever sees half of it. Served files are pictures and nothing else: the type comes
from our own extension, `nosniff` stops browsers from guessing another, and the CSP forbids a
picture opened on its own from running anything (security checklist B11: our uploads are never
served as HTML or ActivityStreams).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from web.context import context_of
from web.images import Encoded

MEDIA_PATH = "/system/media/"
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
# Exactly the names `MediaStore.new_name` makes: no dots, slashes or anything else to escape with.
FILE_NAME = re.compile(r"^[A-Za-z0-9_-]{32}\.(jpg|png|webp)$")
SERVED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "public, max-age=31536000, immutable",  # a name is never reused
    "Access-Control-Allow-Origin": "*",
}


class MediaStore:
    """Files in one directory, created on first write."""

    def __init__(self, directory: Path, base_url: str) -> None:
        self.directory = directory
        self.base_url = base_url

    @staticmethod
    def new_name(extension: str) -> str:
        return f"{secrets.token_urlsafe(24)}.{extension}"

    def url(self, name: str) -> str:
        return f"{self.base_url}{MEDIA_PATH}{name}"

    def name_of(self, url: str | None) -> str | None:
        """The file name behind one of our media URLs; None for anything else (a remote URL)."""
        prefix = self.base_url + MEDIA_PATH
        if not url or not url.startswith(prefix):
            return None
        name = url[len(prefix):]
        return name if FILE_NAME.match(name) else None

    def path(self, name: str) -> Path | None:
        """Where a served name lives, or None when the name is not one we could have made."""
        if not FILE_NAME.match(name):
            return None
        path = self.directory / name
        return path if path.parent == self.directory else None

    async def write(self, *files: Encoded) -> list[str]:
        """Write each file under a new name; all or nothing. Returns the names, in order."""
        return await run_in_threadpool(self._write_all, files)

    async def remove(self, *names: str | None) -> None:
        await run_in_threadpool(self._remove_all, [name for name in names if name])

    def _write_all(self, files: tuple[Encoded, ...]) -> list[str]:
        self.directory.mkdir(parents=True, exist_ok=True)
        names: list[str] = []
        temporary: Path | None = None
        try:
            for encoded in files:
                name = self.new_name(encoded.extension)
                temporary = self.directory / f".{name}.part"
                with open(temporary, "xb") as handle:
                    handle.write(encoded.data)
                os.replace(temporary, self.directory / name)
                temporary = None
                names.append(name)
        except BaseException:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
            self._remove_all(names)
            raise
        return names

    def _remove_all(self, names: list[str]) -> None:
        for name in names:
            path = self.path(name)
            if path is not None:
                path.unlink(missing_ok=True)


def media_store(request: Request) -> MediaStore:
    ctx = context_of(request)
    return MediaStore(ctx.settings.media_dir, ctx.urls.base_url)


async def serve(request: Request) -> Response:
    store = media_store(request)
    name = request.path_params["name"]
    path = store.path(name)
    if path is None or not await run_in_threadpool(path.is_file):
        raise HTTPException(404, "Record not found")
    return FileResponse(path, media_type=CONTENT_TYPES[name.rsplit(".", 1)[1]], headers=SERVED_HEADERS)


routes = [Route(MEDIA_PATH + "{name}", serve, methods=["GET", "HEAD"])]
