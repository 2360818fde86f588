"""Real pictures made with Pillow for the upload tests, and files that only pretend to be ones."""

from __future__ import annotations

import random
import struct
import zlib
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageCms

RED, BLUE = (220, 20, 20), (20, 20, 220)
GPS_IFD = 0x8825
ORIENTATION = 0x0112
ROTATE_90_CW = 6  # EXIF: "the 0th row is the visual right-hand side"; shown turned a quarter clockwise


def encoded(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def halves(width: int, height: int) -> Image.Image:
    """Red on the left half, blue on the right: which way up a picture is can be read off it."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height))
    return image


def jpeg_with_gps_and_orientation(width: int = 200, height: int = 100) -> bytes:
    """A phone photo: taken sideways (orientation 6), with where it was taken, by what, a
    comment and a colour profile."""
    exif = Image.Exif()
    exif[ORIENTATION] = ROTATE_90_CW
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (44.0, 1.0, 22.0), 3: "W", 4: (92.0, 28.0, 1.0)})
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encoded(halves(width, height), "JPEG", exif=exif.tobytes(), quality=95,
                   comment=b"Patient room 12", icc_profile=srgb)


def png(width: int, height: int, color: tuple[int, ...] = (30, 120, 60), mode: str = "RGB") -> bytes:
    return encoded(Image.new(mode, (width, height), color), "PNG")


def transparent_png(width: int = 64, height: int = 64) -> bytes:
    """Opaque green on the left half, fully transparent on the right."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste((0, 160, 0, 255), (0, 0, width // 2, height))
    return encoded(image, "PNG")


def noisy_png(width: int, height: int) -> bytes:
    """A picture that does not compress: its file is about width × height × 3 bytes."""
    noise = random.Random(7).randbytes(width * height * 3)
    return encoded(Image.frombytes("RGB", (width, height), noise), "PNG")


def animated_gif() -> bytes:
    frames = [Image.new("P", (40, 30), index) for index in (1, 2, 3)]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def webp(width: int = 80, height: int = 60) -> bytes:
    return encoded(Image.new("RGB", (width, height), (10, 200, 200)), "WEBP")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(side: int = 100_000) -> bytes:
    """A PNG of a few hundred bytes whose header claims side × side pixels: decoding it would
    take tens of gigabytes."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\x00" + b"\x00" * side
    data = zlib.compress(row * 4, 9)  # a few rows; the rest is never reached
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def over_matrix_png() -> bytes:
    """A real, complete picture with more pixels than the advertised `image_matrix_limit`."""
    return png(6000, 6000, (0,), mode="L")


def listing(directory: Path) -> list[str]:
    """Every file in the media directory, hidden ones too (none if it was never made)."""
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []
