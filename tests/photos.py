"""Generated test photos that compress like camera photos, and ways to inspect JPEGs.

The scene is the fixture portrait (shared/fixtures/face-portrait.png) scaled to cover
the frame, with sensor-like noise mixed in: without noise a scaled 512 px picture is
so smooth that it compresses far below the provider's 100 KB minimum, which real
photos do not.
"""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

# A public-domain portrait (see fixtures/README.md).
FACE_PORTRAIT = Path(__file__).resolve().parent / "fixtures" / "face-portrait.png"

RED = (230, 20, 20)
BLUE = (20, 20, 230)

# EXIF tag numbers.
ORIENTATION = 0x0112
GPS_IFD = 0x8825
MAKE = 0x010F

# How a camera stores an upright scene for each EXIF orientation: the inverse of what
# a viewer does to show it upright.
_STORE_FOR_ORIENTATION = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@cache
def _portrait() -> Image.Image:
    with Image.open(FACE_PORTRAIT) as im:
        return im.convert("RGB")


def scene(
    size: tuple[int, int], *, noise: float = 0.15, markers: bool = False
) -> Image.Image:
    """An upright RGB picture of `size`: the portrait covering the frame, mixed with
    `noise` (0 = none) of Gaussian noise. With `markers`, a red square in the top
    left corner and a blue one in the top right, to tell which way is up."""
    width, height = size
    portrait = _portrait()
    cover = max(width / portrait.width, height / portrait.height)
    scaled = portrait.resize(
        (round(portrait.width * cover), round(portrait.height * cover)),
        Image.Resampling.BICUBIC,
    )
    left = (scaled.width - width) // 2
    top = (scaled.height - height) // 2
    picture = scaled.crop((left, top, left + width, top + height))
    if noise:
        grain = Image.merge("RGB", [Image.effect_noise(size, 48) for _ in range(3)])
        picture = Image.blend(picture, grain, noise)
    if markers:
        side = min(size) // 6
        draw = ImageDraw.Draw(picture)
        draw.rectangle((0, 0, side, side), fill=RED)
        draw.rectangle((width - 1 - side, 0, width - 1, side), fill=BLUE)
    return picture


def encode(
    picture: Image.Image,
    fmt: str = "JPEG",
    *,
    orientation: int | None = None,
    gps: bool = False,
    **params: object,
) -> bytes:
    """`picture` (upright) as a file of `fmt`, stored the way a camera would for
    `orientation`, with an EXIF block holding the orientation and, with `gps`, a
    location."""
    stored = picture
    if orientation is not None:
        method = _STORE_FOR_ORIENTATION[orientation]
        # Transpose.FLIP_LEFT_RIGHT is 0, so compare with None rather than test truth.
        if method is not None:
            stored = picture.transpose(method)
    if orientation is not None or gps:
        exif = Image.Exif()
        exif[MAKE] = "TestCam"
        if orientation is not None:
            exif[ORIENTATION] = orientation
        if gps:
            # Jakarta, Monas: latitude 6°10'31" S, longitude 106°49'37" E.
            exif.get_ifd(GPS_IFD).update(
                {1: "S", 2: (6.0, 10.0, 31.0), 3: "E", 4: (106.0, 49.0, 37.0)}
            )
        params["exif"] = exif
    if fmt == "JPEG":
        params.setdefault("quality", 92)
    buffer = io.BytesIO()
    stored.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def phone_jpeg(
    size: tuple[int, int] = (1500, 2000),
    *,
    orientation: int | None = None,
    markers: bool = False,
    **params: Any,
) -> bytes:
    """A camera-like JPEG whose upright picture is `size`."""
    return encode(scene(size, markers=markers), orientation=orientation, **params)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` pixels but carries almost no data: a
    decompression bomb as far as any reader that trusts the header is concerned."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def jpeg_markers(data: bytes) -> list[int]:
    """The marker bytes of a JPEG's segments up to the image data (0xD8 start, 0xE0
    JFIF, 0xE1 EXIF/XMP, 0xE2 ICC, 0xFE comment, 0xC0 baseline frame, 0xC2
    progressive frame, 0xDA start of scan...)."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    markers = [0xD8]
    position = 2
    while position < len(data):
        assert data[position] == 0xFF, f"bad marker at {position}"
        marker = data[position + 1]
        markers.append(marker)
        if marker == 0xDA:
            break
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        position += 2 + length
    return markers


def mean_colour(
    picture: Image.Image, box: tuple[int, int, int, int]
) -> tuple[float, ...]:
    """The average RGB of `box` in `picture`."""
    region = picture.convert("RGB").crop(box)
    histogram = region.histogram()
    pixels = region.width * region.height
    return tuple(
        sum(
            value * count
            for value, count in enumerate(histogram[band * 256 : band * 256 + 256])
        )
        / pixels
        for band in range(3)
    )
