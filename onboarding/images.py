"""Photo preparation: turn an applicant's selfie and KTP photo into JPEGs the provider
accepts.

The provider wants, in decoded bytes, a selfie of at least 480x640 pixels between
100 KB and 4 MB and a KTP photo of at least 480x360 pixels between 100 KB and 2 MB.
Its sandbox counts 100 KB as 102,400 bytes and the maxima as 4,000,000 and 2,000,000
bytes, refusing both ends strictly; the ``TARGET_*`` constants keep a margin inside.

What comes out (`PreparedImage`) is a baseline JPEG in RGB, upright (EXIF
orientation applied), without any metadata (no EXIF, GPS, XMP, ICC profile or
comment), downscaled for the provider: a selfie is cropped to a portrait between
9:16 and 3:4 and its long side brought to 1280 pixels, a KTP photo keeps its shape
with its long side at 1600 pixels. The one enlargement: a selfie from a camera under
640 pixels high (a 640x480 webcam gives a 360x480 portrait) is scaled up to the
provider's 480x640, which adds no detail; the quality checks judge it as taken.

Before encoding, the photo's quality is checked (`onboarding.quality`): a photo too
dark, overexposed or blurred is refused; a selfie without a face, with several, or a
KTP photo with glare passes with a warning (`PreparedImage.warnings`).

Error codes (``ValidationError.code``), each with a message the applicant can act on:

- ``too_large``: the file is over `MAX_INPUT_BYTES`.
- ``not_an_image``: not a JPEG, PNG or WebP that decodes completely (HTML, GIF, SVG,
  PDF, a truncated download...).
- ``too_many_pixels``: more than `MAX_PIXELS` pixels (checked from the header,
  before any pixel is decoded), including Pillow's own decompression-bomb limit.
- ``too_large_to_decode``: decoding the photo and converting it to RGB would take
  more than `MAX_DECODE_BYTES` of memory (worked out from the header's size and
  pixel format, before any pixel is decoded). Only a JPEG can be decoded at a
  reduced size; a PNG or WebP is decoded whole, so a 16-bit or transparent PNG of
  many megapixels, small as its file may be, is refused here.
- ``too_small``: smaller than the provider's minimum once upright and cropped
  (for a selfie, smaller than `SELFIE_CAPTURE_MIN_SIZE`).
- ``too_dark``, ``overexposed``, ``blurred``: see `onboarding.quality`.
- ``too_little_detail``: even at quality 95 with full-resolution colour and every
  pixel available, the JPEG stays under the provider's minimum byte size. The byte
  floor is the provider's proxy for detail: it is met with detail, never padding.
- ``too_much_detail``: the JPEG cannot be brought under the provider's maximum at the
  minimum dimensions (in practice only pure noise).

Nothing here logs: the photos are identity data.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import IO, Final

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageFile

from onboarding import quality
from verification.kredibel import FACE_IMAGE_LIMITS, IDENTITY_IMAGE_LIMITS

# Inputs
MAX_INPUT_BYTES: Final = 15_000_000
READ_CHUNK_BYTES: Final = 1 << 20
# Well under Pillow's decompression-bomb threshold (about 89 megapixels) and above
# any phone camera in use (50 megapixels: the "high resolution" modes of recent
# Samsung and Xiaomi phones). A 50 MP RGB image takes 150 MB once decoded.
MAX_PIXELS: Final = 50_000_000
# The memory one photo may take while it is decoded and converted, whatever the
# file: the pixels as decoded times what the conversion to RGB costs on top
# (`_DECODE_COST`, bytes per pixel at the peak, measured by bench/hostile_png.py).
# With the small renderings after it, the server's memory for one photo stays
# under 150 MB: an RGB PNG of up to 24 megapixels passes, an RGBA one of 13, a
# 16-bit greyscale one of 12; a JPEG is decoded reduced, and passes at 50.
MAX_DECODE_BYTES: Final = 120_000_000
# Pillow keeps 3- and 2-channel pixels in 4 bytes; the figures add the copies
# `_to_rgb` makes (a 16-bit greyscale photo is scaled to 8 bits through 32-bit
# integers; a transparent one is composited on white).
_DECODE_COST: Final = {
    "1": 6,
    "L": 6,
    "P": 10,
    "RGB": 5,
    "RGBA": 9,
    "LA": 12,
    "PA": 12,
    "I;16": 10,
    "I;16L": 10,
    "I;16B": 10,
    "I;16N": 10,
    "I": 13,
    "CMYK": 9,
    "YCbCr": 9,
}
_DECODE_COST_UNKNOWN: Final = 13
OPEN_FORMATS: Final = ("JPEG", "PNG", "WEBP")
# Pillow names a JPEG that carries a Multi-Picture index "MPO": Android "Ultra HDR"
# photos (gain map) and some cameras' depth maps. The first picture is a plain JPEG.
_JPEG_FORMATS: Final = frozenset({"JPEG", "MPO"})

# The provider's limits (decoded bytes, width x height), from the client module.
PROVIDER_MIN_BYTES: Final = FACE_IMAGE_LIMITS.min_bytes
SELFIE_PROVIDER_MAX_BYTES: Final = FACE_IMAGE_LIMITS.max_bytes
IDENTITY_PROVIDER_MAX_BYTES: Final = IDENTITY_IMAGE_LIMITS.max_bytes
SELFIE_MIN_SIZE: Final = (FACE_IMAGE_LIMITS.min_width, FACE_IMAGE_LIMITS.min_height)
# The smallest selfie accepted and scaled up to SELFIE_MIN_SIZE: the 3:4 portrait of
# a camera 480 pixels high, the commonest laptop webcam (640x480).
SELFIE_CAPTURE_MIN_SIZE: Final = (360, 480)
IDENTITY_MIN_SIZE: Final = (
    IDENTITY_IMAGE_LIMITS.min_width,
    IDENTITY_IMAGE_LIMITS.min_height,
)

# What we aim for, inside the provider's limits.
TARGET_MIN_BYTES: Final = 110_000
SELFIE_TARGET_MAX_BYTES: Final = 3_800_000
IDENTITY_TARGET_MAX_BYTES: Final = 1_900_000
# Face matching works on far fewer pixels than this; a KTP needs more so that its
# printed text stays legible. Both may grow to LONG_SIDE_CAP to reach the byte minimum.
SELFIE_LONG_SIDE: Final = 1280
IDENTITY_LONG_SIDE: Final = 1600
LONG_SIDE_CAP: Final = 1600
# Selfies narrower than 9:16 (a tall strip) are cropped to it; wider than 3:4
# (landscape, square) to 3:4. Portraits in between are kept whole so that no part of
# the face guide's surroundings is cut off.
SELFIE_ASPECT_RANGE: Final = (Fraction(9, 16), Fraction(3, 4))

JPEG_QUALITY: Final = 85
_SUBSAMPLING_420: Final = 2
_SUBSAMPLING_444: Final = 0
# After the JPEG decoder's DCT-domain reduction, what is left to scale is a factor
# under 2; at such ratios Pillow's bilinear filter (whose support widens with the
# ratio, so it does antialias) is indistinguishable from bicubic at a third less cost.
RESAMPLE: Final = Image.Resampling.BILINEAR
# Pixels of EXIF orientations 5-8 are stored rotated by a quarter turn.
_SWAPS_AXES: Final = frozenset({5, 6, 7, 8})
_ORIENTATION_TAG: Final = 0x0112
_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_WHITE: Final = (255, 255, 255)

# What Pillow raises on a file that is not what it claims to be: truncated data,
# broken chunks, bad headers, oversized text chunks.
_DECODE_ERRORS: Final = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
    zlib.error,
)

MESSAGES: Final = {
    "too_large": _(
        "This file is larger than 15 MB. Please take the photo again or choose a "
        "smaller photo."
    ),
    "not_an_image": _(
        "This file is not a photo we can read. Please take the photo again or "
        "choose a JPEG or PNG file."
    ),
    "too_many_pixels": _(
        "This photo has too many pixels for us to process. Please take the photo "
        "again with your phone's camera or choose a smaller photo."
    ),
    "too_large_to_decode": _(
        "This photo is too large for us to process in this file format. Please "
        "take the photo again with your phone's camera, or send it as a JPEG."
    ),
    "too_small": _(
        "This photo is too small: it must be at least %(min_width)d by "
        "%(min_height)d pixels. Please take the photo again with your phone's camera."
    ),
    **quality.MESSAGES,
    "too_little_detail": _(
        "This photo has too little detail for the check: it may be blank, blurred or "
        "taken from too far. Please take the photo again, closer and in good light."
    ),
    "too_much_detail": _(
        "We could not make this photo small enough to send. Please take the photo "
        "again."
    ),
}


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """A JPEG ready for the provider: baseline, RGB, upright, no metadata."""

    # Kept out of repr so that a log line or traceback showing the object does not
    # carry the photo.
    data: bytes = field(repr=False)
    width: int
    height: int
    # Codes of the quality warnings (onboarding.quality), never identity data.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Spec:
    min_size: tuple[int, int]
    # The smallest crop accepted; one under `min_size` is scaled up to it.
    capture_min_size: tuple[int, int]
    long_side: int
    max_bytes: int
    aspect_range: tuple[Fraction, Fraction] | None
    assess: Callable[[np.ndarray], quality.Findings]


_SELFIE: Final = _Spec(
    min_size=SELFIE_MIN_SIZE,
    capture_min_size=SELFIE_CAPTURE_MIN_SIZE,
    long_side=SELFIE_LONG_SIDE,
    max_bytes=SELFIE_TARGET_MAX_BYTES,
    aspect_range=SELFIE_ASPECT_RANGE,
    assess=quality.assess_selfie,
)
_IDENTITY: Final = _Spec(
    min_size=IDENTITY_MIN_SIZE,
    capture_min_size=IDENTITY_MIN_SIZE,
    long_side=IDENTITY_LONG_SIDE,
    max_bytes=IDENTITY_TARGET_MAX_BYTES,
    aspect_range=None,
    assess=quality.assess_identity,
)


def prepare_selfie(source: bytes | IO[bytes]) -> PreparedImage:
    """Prepare a selfie: upright, cropped to a portrait between 9:16 and 3:4
    (centred), long side 1280 px, at least 480x640 (from at least 360x480), 110 KB
    to 3.8 MB, with the quality warnings that apply.

    `source` is the file's bytes or a binary file object (a Django UploadedFile
    works), read from its start in chunks and never beyond `MAX_INPUT_BYTES`.
    Raises ValidationError with one of the codes in the module docstring.
    """
    return _prepare(source, _SELFIE)


def prepare_identity(source: bytes | IO[bytes]) -> PreparedImage:
    """Prepare a KTP photo: upright, shape kept, long side 1600 px, at least
    480x360, 110 KB to 1.9 MB, with the quality warnings that apply.

    `source` as for `prepare_selfie`. Raises ValidationError with one of the codes in
    the module docstring.
    """
    return _prepare(source, _IDENTITY)


@functools.cache
def _decode_slots(count: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(count)


def _prepare(source: bytes | IO[bytes], spec: _Spec) -> PreparedImage:
    data = _read_capped(source)
    # At most IMAGE_DECODES_AT_ONCE photos are decoded at a time in a process,
    # whatever its threads: with each within MAX_DECODE_BYTES, the process's memory
    # for photos has a ceiling too.
    with _decode_slots(settings.IMAGE_DECODES_AT_ONCE):
        return _prepare_decoded(data, spec)


def _prepare_decoded(data: bytes, spec: _Spec) -> PreparedImage:
    try:
        im = Image.open(io.BytesIO(data), formats=OPEN_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow checks its own limit while reading the header. The warning is an
        # exception only where warnings are errors (the test suite); elsewhere it is
        # printed and our own, lower MAX_PIXELS check refuses the image below.
        raise _error("too_many_pixels") from None
    except _DECODE_ERRORS:
        raise _error("not_an_image") from None
    with im:
        decoded = _decode(im, spec)
    start_long = min(spec.long_side, decoded.available_long_side)
    first = decoded.render(start_long, spec.min_size)
    # The checks judge the photo as taken: the first rendering, unless it had to be
    # enlarged to the provider's minimum, when the decoded crop itself.
    enlarged = first.width > decoded.crop_size[0] * decoded.scale
    judged = decoded.preview(quality.LONG_SIDE) if enlarged else first
    findings = spec.assess(quality.grey_copy(judged))
    if findings.refusal:
        raise _error(findings.refusal)
    prepared = _encode_within_limits(decoded, spec, first)
    return dataclasses.replace(prepared, warnings=findings.warnings)


def _read_capped(source: bytes | IO[bytes]) -> bytes:
    """The whole file, refused as soon as it proves larger than MAX_INPUT_BYTES.

    A declared size (an UploadedFile's `.size`) is not trusted: the bytes are
    counted as they are read.
    """
    if isinstance(source, bytes):
        if len(source) > MAX_INPUT_BYTES:
            raise _error("too_large")
        return source
    # Form validation (Django's ImageField) may already have read the upload.
    if source.seekable():
        source.seek(0)
    chunks: list[bytes] = []
    total = 0
    while chunk := source.read(READ_CHUNK_BYTES):
        total += len(chunk)
        if total > MAX_INPUT_BYTES:
            raise _error("too_large")
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class _Decoded:
    """Decoded RGB pixels in the stored (not yet upright) frame, and the plan for
    them: the upright crop size in original pixels and how much of the original
    resolution the pixels hold."""

    pixels: Image.Image
    orientation: int
    crop_size: tuple[int, int]
    scale: float

    @property
    def swaps_axes(self) -> bool:
        return self.orientation in _SWAPS_AXES

    @property
    def available_long_side(self) -> int:
        return math.floor(max(self.crop_size) * self.scale)

    def render(self, long_side: int, min_size: tuple[int, int]) -> Image.Image:
        """The crop, scaled to `long_side` (within the decoded pixels and no smaller
        than `min_size`), upright, in RGB, without `info`."""
        crop_w, crop_h = self.crop_size
        return self._scaled(
            _output_size(crop_w, crop_h, long_side, self.scale, min_size)
        )

    def preview(self, long_side: int) -> Image.Image:
        """The crop as decoded, upright, its long side brought down to `long_side`
        (never enlarged): what the quality checks judge."""
        crop_w, crop_h = self.crop_size
        factor = min(1.0, self.scale, long_side / max(crop_w, crop_h))
        return self._scaled(
            (max(1, round(crop_w * factor)), max(1, round(crop_h * factor)))
        )

    def _scaled(self, upright_size: tuple[int, int]) -> Image.Image:
        crop_w, crop_h = self.crop_size
        stored_w, stored_h = (crop_h, crop_w) if self.swaps_axes else (crop_w, crop_h)
        box_w, box_h = stored_w * self.scale, stored_h * self.scale
        left = (self.pixels.width - box_w) / 2
        top = (self.pixels.height - box_h) / 2
        out = self.pixels.resize(
            upright_size[::-1] if self.swaps_axes else upright_size,
            RESAMPLE,
            box=(left, top, left + box_w, top + box_h),
            reducing_gap=2.0,
        )
        if self.orientation in _TRANSPOSE:
            out = out.transpose(_TRANSPOSE[self.orientation])
        # resize() and transpose() copy `info`, and Pillow's JPEG writer would carry
        # a comment over from it.
        out.info = {}
        return out


def _decode(im: ImageFile.ImageFile, spec: _Spec) -> _Decoded:
    """Check the header, then decode once: reduced in the DCT domain for a JPEG as
    far as the output allows.

    Raises ValidationError ``too_many_pixels``, ``too_small`` or ``not_an_image``.
    """
    stored_w, stored_h = im.size
    if stored_w * stored_h > MAX_PIXELS:
        raise _error("too_many_pixels")
    is_jpeg = im.format in _JPEG_FORMATS
    try:
        if not is_jpeg:
            _check_decode_cost(im)
            # A PNG may keep its EXIF after the pixels, and Pillow then decodes them
            # to find it; do it here, where decoding errors are expected.
            im.load()
        orientation = _orientation(im)
        upright_w, upright_h = (
            (stored_h, stored_w) if orientation in _SWAPS_AXES else (stored_w, stored_h)
        )
        crop_w, crop_h = _crop_size(upright_w, upright_h, spec.aspect_range)
        if crop_w < spec.capture_min_size[0] or crop_h < spec.capture_min_size[1]:
            raise _too_small(spec)
        min_w, min_h = spec.min_size
        if is_jpeg:
            # The largest reduction that keeps the crop at least `long_side` long and
            # at least the minimum size: libjpeg then computes only 1/2, 1/4 or 1/8
            # of the pixels, most of the speed-up over a full decode.
            factor = min(
                max(crop_w, crop_h) / spec.long_side, crop_w / min_w, crop_h / min_h
            )
            if factor >= 2:
                im.draft(
                    "RGB", (math.ceil(stored_w / factor), math.ceil(stored_h / factor))
                )
            _check_decode_cost(im)  # at the size the draft decodes to
            im.load()
        pixels = _to_rgb(im)
    except _DECODE_ERRORS:
        raise _error("not_an_image") from None
    return _Decoded(
        pixels=pixels,
        orientation=orientation,
        crop_size=(crop_w, crop_h),
        scale=pixels.width / stored_w,
    )


def decode_cost(im: Image.Image) -> int:
    """The memory, in bytes, that decoding `im` (at its current size, a JPEG's
    draft included) and converting it to RGB take at their peak."""
    per_pixel = _DECODE_COST.get(im.mode, _DECODE_COST_UNKNOWN)
    return im.width * im.height * per_pixel


def _check_decode_cost(im: Image.Image) -> None:
    if decode_cost(im) > MAX_DECODE_BYTES:
        raise _error("too_large_to_decode")


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1-8), 1 when absent or unreadable."""
    try:
        value = im.getexif().get(_ORIENTATION_TAG, 1)
    except _DECODE_ERRORS:
        # A damaged EXIF block must not make an otherwise good photo unreadable.
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _crop_size(
    width: int, height: int, aspect_range: tuple[Fraction, Fraction] | None
) -> tuple[int, int]:
    """The largest centred crop whose width:height lies within `aspect_range`."""
    if aspect_range is None:
        return width, height
    narrowest, widest = aspect_range
    if width > height * widest:
        return math.floor(height * widest), height
    if width < height * narrowest:
        return width, math.floor(width / narrowest)
    return width, height


def _output_size(
    crop_w: int,
    crop_h: int,
    long_side: int,
    scale: float,
    min_size: tuple[int, int],
) -> tuple[int, int]:
    """Upright output size: the crop scaled to `long_side`, never beyond the decoded
    pixels (`scale`) and never below `min_size`. A crop smaller than `min_size` (a
    selfie from a 640x480 webcam) is scaled up to it: the provider asks for that
    size, and enlarging adds no detail, which is why the quality checks read the
    photo before this."""
    factor = min(long_side / max(crop_w, crop_h), scale, 1.0)
    factor = max(factor, min_size[0] / crop_w, min_size[1] / crop_h)
    return (
        max(min_size[0], round(crop_w * factor)),
        max(min_size[1], round(crop_h * factor)),
    )


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB pixels, transparency composited on white."""
    if im.mode == "RGB" and "transparency" not in im.info:
        return im
    if im.mode in {"I", "I;16", "I;16L", "I;16B", "I;16N"}:
        # Pillow clips 16-bit samples to 255 when converting to 8 bits, which turns
        # most of a 16-bit grayscale PNG white; scale them instead.
        return (
            im.convert("I").point(lambda v: v * (1 / 256)).convert("L").convert("RGB")
        )
    if im.mode in {"RGBA", "LA", "PA", "RGBa", "La"} or "transparency" in im.info:
        rgba = im if im.mode == "RGBA" else im.convert("RGBA")
        if rgba.getchannel("A").getextrema() == (255, 255):
            # Opaque everywhere (most screenshots carry an unused alpha channel).
            return rgba.convert("RGB")
        # Composited before scaling, unlike what one might expect: Pillow scales an
        # RGBA image by premultiplying it at full size first, which costs more than
        # this one pass (bench/prepare_images.py measures both).
        flat = Image.new("RGB", rgba.size, _WHITE)
        flat.paste(rgba, mask=rgba)
        return flat
    return im.convert("RGB")


def _encode_within_limits(
    decoded: _Decoded, spec: _Spec, first: Image.Image
) -> PreparedImage:
    """Encode `first` (the rendering at the standard long side) at the standard
    settings, then step quality, subsampling and size up (too few bytes) or down
    (too many) until the JPEG is within the target.

    Raises ValidationError ``too_little_detail`` or ``too_much_detail``.
    """
    start_long = min(spec.long_side, decoded.available_long_side)
    top_long = min(LONG_SIDE_CAP, decoded.available_long_side)
    rendered: dict[int, Image.Image] = {start_long: first}

    def attempt(long_side: int, quality: int, subsampling: int) -> PreparedImage:
        if long_side not in rendered:
            rendered[long_side] = decoded.render(long_side, spec.min_size)
        image = rendered[long_side]
        return PreparedImage(
            data=_encode_jpeg(image, quality, subsampling),
            width=image.width,
            height=image.height,
        )

    prepared = attempt(start_long, JPEG_QUALITY, _SUBSAMPLING_420)
    if len(prepared.data) < TARGET_MIN_BYTES:
        for settings in _more_bytes(start_long, top_long):
            prepared = attempt(*settings)
            if len(prepared.data) >= TARGET_MIN_BYTES:
                break
        else:
            raise _error("too_little_detail")
    if len(prepared.data) > spec.max_bytes:
        for settings in _fewer_bytes(start_long, spec.min_size):
            prepared = attempt(*settings)
            if TARGET_MIN_BYTES <= len(prepared.data) <= spec.max_bytes:
                break
        else:
            raise _error("too_much_detail")
    return prepared


def _more_bytes(start_long: int, top_long: int) -> Iterator[tuple[int, int, int]]:
    """Settings to try, in order, when the JPEG is under the byte minimum."""
    yield start_long, 90, _SUBSAMPLING_420
    yield start_long, 95, _SUBSAMPLING_420
    # Full-resolution colour adds bytes where a smooth image has few to give.
    yield start_long, 95, _SUBSAMPLING_444
    if top_long > start_long:
        yield top_long, 95, _SUBSAMPLING_444
    # Nothing above 95: at 96-100 libjpeg's quantisation stops discarding anything,
    # and the bytes it adds are noise and ringing, not detail (padding).


def _fewer_bytes(
    start_long: int, min_size: tuple[int, int]
) -> Iterator[tuple[int, int, int]]:
    """Settings to try, in order, when the JPEG is over the byte maximum."""
    for level in (75, 65, 50):
        yield start_long, level, _SUBSAMPLING_420
    long_side = start_long
    while long_side > max(min_size):
        long_side = max(math.floor(long_side * 0.8), max(min_size))
        yield long_side, 50, _SUBSAMPLING_420


def _encode_jpeg(image: Image.Image, quality: int, subsampling: int) -> bytes:
    buffer = io.BytesIO()
    # No exif/icc_profile/xmp arguments: nothing of the original's metadata is
    # written. Baseline and unoptimised Huffman tables: the most widely read form.
    image.save(
        buffer,
        format="JPEG",
        quality=quality,
        subsampling=subsampling,
        progressive=False,
        optimize=False,
    )
    return buffer.getvalue()


def _error(code: str) -> ValidationError:
    return ValidationError(MESSAGES[code], code=code)


def _too_small(spec: _Spec) -> ValidationError:
    min_width, min_height = spec.min_size
    return ValidationError(
        MESSAGES["too_small"],
        code="too_small",
        params={"min_width": min_width, "min_height": min_height},
    )
