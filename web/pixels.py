"""The Pillow side of `web.images`: decode an upload, check it, draw it again from its pixels alone."""

from __future__ import annotations

import struct
from io import BytesIO

import blurhash
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from web.images import Box, Encoded, ImageRefused, Picture, fitted_size

# Pillow's names for the formats we accept, and what each becomes. An animated GIF keeps its
# first frame, as a PNG (GIF's palette would lose the downscaled picture's colours).
ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
OUTPUT_FORMAT = {"JPEG": "JPEG", "PNG": "PNG", "GIF": "PNG", "WEBP": "WEBP"}
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
SAVE_OPTIONS: dict[str, dict[str, object]] = {
    "JPEG": {"quality": 85, "optimize": True},
    "PNG": {"optimize": True},
    "WEBP": {"quality": 85},
}
# What Pillow raises on truncated or inconsistent files (`struct.error` escapes some headers).
DAMAGED: tuple[type[Exception], ...] = (OSError, SyntaxError, ValueError, EOFError, struct.error)
BLURHASH_SAMPLE = 32  # pixels on the longer side; the pure-Python encoder takes ~3 ms at this size
BLURHASH_COMPONENTS = (4, 4)  # Mastodon's


def redraw(data: bytes, box: Box, *, max_pixels: int, preview: Box | None = None) -> Picture:
    """Decode `data`, refuse it (ImageRefused) unless it is a sound picture of at most
    `max_pixels`, and draw it again within `box` (and `preview`) without any metadata."""
    source_format, pixels = _decode(data, max_pixels)
    output_format = OUTPUT_FORMAT[source_format]
    scaled = _scaled(pixels, box)
    # The preview is drawn from the stored size, so its size follows from the stored one alone.
    small = _encode(_scaled(scaled, preview), output_format) if preview is not None else None
    return Picture(original=_encode(scaled, output_format), preview=small, blurhash=_blurhash(scaled))


def _decode(data: bytes, max_pixels: int) -> tuple[str, Image.Image]:
    """The source format and the first frame as plain RGB or RGBA pixels, upright, in sRGB."""
    try:
        # Only the header is read here. Pillow itself raises past twice MAX_IMAGE_PIXELS; our
        # own limit is lower and checked below, before any pixel is decoded.
        image = Image.open(BytesIO(data), formats=ACCEPTED_FORMATS)
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise ImageRefused("the file is not a JPEG, PNG, GIF or WebP picture of a sensible size") from None
    except DAMAGED:
        raise ImageRefused("the picture is damaged and cannot be read") from None
    with image:
        if image.format not in ACCEPTED_FORMATS:
            raise ImageRefused("the file is not a JPEG, PNG, GIF or WebP picture")
        if image.width < 1 or image.height < 1 or image.width * image.height > max_pixels:
            raise ImageRefused(f"the picture has more than {max_pixels} pixels")
        source_format = image.format
        try:
            image.seek(0)
            image.load()
            pixels = _plain(ImageOps.exif_transpose(image))
        except (*DAMAGED, Image.DecompressionBombError):
            raise ImageRefused("the picture is damaged and cannot be read") from None
    return source_format, pixels


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info


def _plain(image: Image.Image) -> Image.Image:
    """A new RGB or RGBA image holding only pixels: no info, no EXIF, no profile, no palette."""
    mode = "RGBA" if _has_alpha(image) else "RGB"
    if image.mode == "I" or image.mode.startswith("I;16"):
        # 16-bit greyscale (scans, X-ray exports): Pillow would clip it to white; scale it instead.
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    profile = image.info.get("icc_profile")
    if profile and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        image = _to_srgb(image, profile, mode)
    converted = image.convert(mode)
    return Image.frombytes(mode, converted.size, converted.tobytes())


def _to_srgb(image: Image.Image, profile: bytes, mode: str) -> Image.Image:
    """Apply an embedded colour profile, so dropping it keeps the colours; a broken profile
    is ignored (the pixels are then taken as sRGB, as browsers do)."""
    try:
        source = ImageCms.ImageCmsProfile(BytesIO(profile))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"),
                                              outputMode=mode if image.mode != "L" else "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    return converted if converted is not None else image


def _scaled(pixels: Image.Image, box: Box) -> Image.Image:
    size = fitted_size(pixels.width, pixels.height, box)
    return pixels if size == pixels.size else pixels.resize(size, Image.Resampling.LANCZOS)


def _encode(image: Image.Image, output_format: str) -> Encoded:
    buffer = BytesIO()
    image.save(buffer, format=output_format, **SAVE_OPTIONS[output_format])
    return Encoded(data=buffer.getvalue(), media_type=MEDIA_TYPES[output_format],
                   extension=EXTENSIONS[output_format], width=image.width, height=image.height)


def _blurhash(pixels: Image.Image) -> str:
    sample = _scaled(pixels, Box(BLURHASH_SAMPLE, BLURHASH_SAMPLE))
    if sample.mode == "RGBA":  # transparent parts show the page behind them: take it as white
        backdrop = Image.new("RGBA", sample.size, (255, 255, 255, 255))
        sample = Image.alpha_composite(backdrop, sample)
    raw = sample.convert("RGB").tobytes()
    width = sample.width
    rows = [[tuple(raw[(y * width + x) * 3:(y * width + x) * 3 + 3]) for x in range(width)]
            for y in range(sample.height)]
    return blurhash.encode(rows, *BLURHASH_COMPONENTS)
