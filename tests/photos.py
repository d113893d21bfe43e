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

from PIL import Image, ImageDraw, ImageFont

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


def png_filled(width: int, height: int, *, bit_depth: int, colour_type: int) -> bytes:
    """A complete, valid PNG of `width` x `height` whose rows are all alike: a few
    hundred kilobytes that decode to hundreds of megabytes. `colour_type` as in
    the PNG header: 0 grey, 2 RGB, 4 grey and alpha, 6 RGBA."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    sample = bit_depth // 8
    # A gentle gradient in every row (filter "none"), half-transparent where
    # there is an alpha channel.
    pixel = bytes(range(channels * sample))
    row = b"\x00" + (pixel * width)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", data)
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


def ktp_scene(
    size: tuple[int, int] = (1600, 1000),
    *,
    noise: float = 0.12,
    table: tuple[int, int, int] = (46, 40, 36),
) -> Image.Image:
    """A photo of a KTP lying on a table (dark by default): an ID-1 card (light
    blue, printed rows of text, the fixture portrait as the holder's photo) filling
    most of the frame, with `noise` of sensor-like noise."""
    width, height = size
    picture = Image.new("RGB", size, table)
    card_w = round(width * 0.86)
    card_h = round(card_w * 53.98 / 85.6)
    if card_h > height * 0.9:
        card_h = round(height * 0.9)
        card_w = round(card_h * 85.6 / 53.98)
    card = Image.new("RGB", (card_w, card_h), (150, 190, 222))
    draw = ImageDraw.Draw(card)
    unit = card_h / 54
    font = ImageFont.load_default(size=max(8, round(unit * 2.6)))
    draw.text(
        (card_w / 2, unit * 2), "PROVINSI CONTOH", fill="black", font=font, anchor="mt"
    )
    rows = ["NIK : 3171234567890001", "Nama : ASEP SUPRIYADI",
            "Tempat/Tgl Lahir : BANDUNG, 06-07-1990", "Alamat : JL. CONTOH NO. 1",
            "Agama : ISLAM", "Pekerjaan : KARYAWAN", "Berlaku Hingga : SEUMUR HIDUP"]  # fmt: skip
    for line, row in enumerate(rows):
        draw.text((unit * 3, unit * (9 + line * 5.5)), row, fill="black", font=font)
    photo_w, photo_h = round(card_w * 0.24), round(card_h * 0.45)
    holder = _portrait().resize((photo_w, photo_w), Image.Resampling.BICUBIC)
    backdrop = Image.new("RGB", (photo_w, photo_h), (200, 30, 40))
    backdrop.paste(holder, (0, photo_h - photo_w))
    card.paste(backdrop, (round(card_w * 0.72), round(card_h * 0.22)))
    picture.paste(card, ((width - card_w) // 2, (height - card_h) // 2))
    if noise:
        grain = Image.merge("RGB", [Image.effect_noise(size, 48) for _ in range(3)])
        picture = Image.blend(picture, grain, noise)
    return picture


# Where the face is in the fixture portrait, as shares of its side: centre and width.
PORTRAIT_FACE_CENTRE = (0.44, 0.22)
PORTRAIT_FACE_WIDTH = 0.2


def selfie_scene(
    size: tuple[int, int], *, face_width: float = 0.42, centre=(0.5, 0.4)
) -> Image.Image:
    """A selfie as the face guide frames it: the fixture portrait scaled so that
    the face is `face_width` of the frame's width, its centre at `centre` (shares
    of the frame), on a plain wall where the portrait does not reach. No noise."""
    width, height = size
    frame = Image.new("RGB", size, (150, 146, 140))
    portrait = _portrait()
    scale = width * face_width / PORTRAIT_FACE_WIDTH / portrait.width
    left = width * centre[0] - portrait.width * scale * PORTRAIT_FACE_CENTRE[0]
    top = height * centre[1] - portrait.height * scale * PORTRAIT_FACE_CENTRE[1]
    # Only the part of the portrait inside the frame is scaled.
    x0, y0 = max(0, left), max(0, top)
    x1 = min(width, left + portrait.width * scale)
    y1 = min(height, top + portrait.height * scale)
    box = (
        (x0 - left) / scale,
        (y0 - top) / scale,
        (x1 - left) / scale,
        (y1 - top) / scale,
    )
    visible = portrait.resize(
        (round(x1 - x0), round(y1 - y0)), Image.Resampling.BICUBIC, box=box
    )
    frame.paste(visible, (round(x0), round(y0)))
    return frame
