"""Uploaded pictures, checked and redrawn: bytes in, clean bytes out. No disk, no database.

Trust comes from decoding, never from the client's content type or file name: Pillow must
recognise the bytes as JPEG, PNG, GIF or WebP, the picture must stay within the advertised
matrix limit before a single pixel is decoded (decompression bombs), and it must decode
completely. The result is drawn anew from pixels alone, so EXIF (GPS, camera serials), XMP,
comments and colour profiles never leave the upload (security checklist J2): the EXIF
orientation is applied first, a colour profile is converted to sRGB first.

The drawing itself is in `web.pixels`, imported on the first upload: Pillow and its libraries
(about 2.5 MB) stay out of processes that never take one.
"""

from __future__ import annotations

from dataclasses import dataclass


class ImageRefused(ValueError):
    """The bytes are not a picture we take; the message says why, for the person uploading."""


@dataclass(frozen=True)
class Box:
    """The largest width and height a stored picture may have."""

    width: int
    height: int


ATTACHMENT = Box(1920, 1920)
PREVIEW = Box(640, 640)
AVATAR = Box(400, 400)
HEADER = Box(1500, 500)


@dataclass(frozen=True)
class Encoded:
    data: bytes
    media_type: str
    extension: str
    width: int
    height: int


@dataclass(frozen=True)
class Picture:
    """A redrawn upload: the picture itself, a smaller preview when asked for, its blurhash."""

    original: Encoded
    preview: Encoded | None
    blurhash: str


def fitted_size(width: int, height: int, box: Box) -> tuple[int, int]:
    """The size of `width`×`height` scaled down (never up) to fit in `box`, aspect kept."""
    scale = min(1.0, box.width / width, box.height / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def redraw(data: bytes, box: Box, *, max_pixels: int, preview: Box | None = None) -> Picture:
    """Decode `data`, refuse it (ImageRefused) unless it is a sound picture of at most
    `max_pixels`, and draw it again within `box` (and `preview`) without any metadata."""
    from web import pixels

    return pixels.redraw(data, box, max_pixels=max_pixels, preview=preview)
