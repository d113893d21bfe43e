"""What the sandbox accepts: the provider's documented request rules, checked field by
field, with the provider's error wording.

These limits are the sandbox's own copy of what the provider documents, kept apart
from the client's (`verification.kredibel`) on purpose: the sandbox is an independent
oracle, so a client that drifts from the contract is refused here as the provider
would refuse it.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import io
import math
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

from PIL import Image

# The provider's reference says "100 KB to 4 MB" (face) and "100 KB to 2 MB"
# (identity) without saying whether a KB is 1000 or 1024 bytes. We take the strict
# end of each bound, so that anything this sandbox accepts the real provider accepts
# whichever way it counts: at least 100 KiB, at most 4,000,000 / 2,000,000 bytes.
MIN_IMAGE_BYTES = 102_400
FACE_IMAGE_MAX_BYTES = 4_000_000
IDENTITY_IMAGE_MAX_BYTES = 2_000_000
MIN_IMAGE_WIDTH = 480
FACE_IMAGE_MIN_HEIGHT = 640
IDENTITY_IMAGE_MIN_HEIGHT = 360

FIELDS = (
    "identityId",
    "fullName",
    "birthDate",
    "emailAddress",
    "phoneNumber",
    "faceImage",
    "identityImage",
)
# The documented alternative to the Authorization header.
KEY_FIELD = "key"

SUCCESS_MESSAGE = "Certificate electronic verification has been done"
VALIDATION_MESSAGE = "Input payload validation failed."

# The provider's field messages (marshmallow wording).
MISSING = "Missing data for required field."
UNKNOWN = "Unknown field."
NULL = "Field may not be null."
NOT_A_STRING = "Not a valid string."
BLANK = "Field may not be blank."
WRONG_LENGTH = "Length must be 16."
NOT_A_DATE = "Not a valid date."
DATA_URI = "Must be plain base64 without a data: URI prefix."
NOT_BASE64 = "Not a valid base64 string."
UNSUPPORTED_IMAGE = "Must be a JPG, JPEG, PNG or SVG image."
NOT_AN_IMAGE = "Not a valid image."
UNKNOWN_IMAGE_SIZE = "Could not determine the image's width and height."


@dataclass(frozen=True)
class ImageRule:
    max_bytes: int
    min_height: int
    min_bytes: int = MIN_IMAGE_BYTES
    min_width: int = MIN_IMAGE_WIDTH


IMAGE_RULES = {
    "faceImage": ImageRule(
        max_bytes=FACE_IMAGE_MAX_BYTES, min_height=FACE_IMAGE_MIN_HEIGHT
    ),
    "identityImage": ImageRule(
        max_bytes=IDENTITY_IMAGE_MAX_BYTES, min_height=IDENTITY_IMAGE_MIN_HEIGHT
    ),
}


def validate(payload: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every problem of every field, in the documented field order and then the
    unknown fields in the order sent; empty when the payload is valid."""
    errors: dict[str, list[str]] = {}
    for name in FIELDS:
        if name not in payload:
            errors[name] = [MISSING]
            continue
        value = payload[name]
        if value is None:
            messages = [NULL]
        elif not isinstance(value, str):
            messages = [NOT_A_STRING]
        elif not value.strip():
            messages = [BLANK]
        else:
            messages = _FIELD_CHECKS.get(name, _no_check)(name, value)
        if messages:
            errors[name] = messages
    for name in payload:
        if name not in FIELDS and name != KEY_FIELD:
            errors[name] = [UNKNOWN]
    return errors


def _no_check(name: str, value: str) -> list[str]:
    return []


def _check_identity_id(name: str, value: str) -> list[str]:
    return [] if len(value) == 16 else [WRONG_LENGTH]


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _check_birth_date(name: str, value: str) -> list[str]:
    # fromisoformat alone would also take "19900706" and week dates.
    if not _DATE.fullmatch(value):
        return [NOT_A_DATE]
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return [NOT_A_DATE]
    return []


def _check_image(name: str, value: str) -> list[str]:
    rule = IMAGE_RULES[name]
    # Checked before base64, which would only say "not base64" about it.
    if value.lstrip()[:5].lower() == "data:":
        return [DATA_URI]
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return [NOT_BASE64]
    messages = []
    if len(data) < rule.min_bytes:
        messages.append(f"Image must be at least {rule.min_bytes} bytes.")
    elif len(data) > rule.max_bytes:
        messages.append(f"Image must be at most {rule.max_bytes} bytes.")
    try:
        width, height = image_size(data)
    except ImageProblem as problem:
        return [*messages, str(problem)]
    if width < rule.min_width:
        messages.append(f"Image must be at least {rule.min_width} pixels wide.")
    if height < rule.min_height:
        messages.append(f"Image must be at least {rule.min_height} pixels high.")
    return messages


_FIELD_CHECKS: dict[str, Callable[[str, str], list[str]]] = {
    "identityId": _check_identity_id,
    "birthDate": _check_birth_date,
    "faceImage": _check_image,
    "identityImage": _check_image,
}


class ImageProblem(ValueError):
    """Why image bytes are refused; the message is the provider's wording."""


JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def image_size(data: bytes) -> tuple[float, float]:
    """(width, height) in pixels of a JPEG, PNG or SVG file, told apart by content.

    Raises ImageProblem when the bytes are no such image, are broken, look like a
    decompression bomb, or (SVG) do not say their size.
    """
    if data.startswith(JPEG_MAGIC):
        return _raster_size(data, "JPEG")
    if data.startswith(PNG_MAGIC):
        return _raster_size(data, "PNG")
    return _svg_size(data)


def _raster_size(data: bytes, image_format: str) -> tuple[float, float]:
    # Image.open reads only the header; pixels are never decoded.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[image_format]) as image:
                width, height = image.size
    # Pillow raises many kinds of errors on broken files (OSError, SyntaxError,
    # struct.error, DecompressionBombError, the warning above...); for a request
    # any of them means "not a valid image", never a 500.
    except Exception as exc:
        raise ImageProblem(NOT_AN_IMAGE) from exc
    # catch_warnings is process-wide state; should another thread have reset it,
    # this still refuses what Pillow calls a bomb.
    if width * height > (Image.MAX_IMAGE_PIXELS or math.inf):
        raise ImageProblem(NOT_AN_IMAGE)
    return width, height


SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"
_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_LENGTH = re.compile(
    r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(px|pt|pc|mm|cm|in)?\s*"
)
# CSS absolute units in pixels (96 per inch).
_UNIT_PIXELS = {
    None: 1.0,
    "px": 1.0,
    "pt": 96 / 72,
    "pc": 16.0,
    "mm": 96 / 25.4,
    "cm": 96 / 2.54,
    "in": 96.0,
}


def _svg_size(data: bytes) -> tuple[float, float]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImageProblem(UNSUPPORTED_IMAGE) from None
    if "<svg" not in text:
        raise ImageProblem(UNSUPPORTED_IMAGE)
    # A DTD is the only way to declare entities (billion laughs, external files);
    # SVG needs none, so refusing it makes the standard parser safe.
    if _DTD.search(text):
        raise ImageProblem(NOT_AN_IMAGE)
    try:
        root = ElementTree.fromstring(text)  # noqa: S314 - DTDs refused above
    except (ElementTree.ParseError, ValueError):
        raise ImageProblem(NOT_AN_IMAGE) from None
    if root.tag not in (SVG_NAMESPACE + "svg", "svg"):
        raise ImageProblem(UNSUPPORTED_IMAGE)

    width = _svg_length(root.get("width"))
    height = _svg_length(root.get("height"))
    box = _view_box(root.get("viewBox"))
    if box is not None:
        box_width, box_height = box
        if width is None and height is None:
            width, height = box_width, box_height
        elif width is None and height is not None:
            width = height * box_width / box_height
        elif height is None and width is not None:
            height = width * box_height / box_width
    if width is None or height is None:
        raise ImageProblem(UNKNOWN_IMAGE_SIZE)
    return width, height


def _svg_length(value: str | None) -> float | None:
    """An absolute length in pixels; None for a missing, relative (%, em) or
    unreadable one."""
    if value is None:
        return None
    match = _LENGTH.fullmatch(value)
    if not match:
        return None
    pixels = float(match[1]) * _UNIT_PIXELS[match[2]]
    return pixels if math.isfinite(pixels) and pixels > 0 else None


def _view_box(value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    parts = value.replace(",", " ").split()
    if len(parts) != 4:
        return None
    try:
        width, height = float(parts[2]), float(parts[3])
    except ValueError:
        return None
    if not (math.isfinite(width) and math.isfinite(height)):
        return None
    return (width, height) if width > 0 and height > 0 else None
