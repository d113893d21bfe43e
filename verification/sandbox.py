"""The built-in Kredibel sandbox: a fake provider that behaves as the provider's
documented sandbox does (see shared/kredibel/CONTRACT.md and the seed document).

It is a server, reached over HTTP like the real provider; the client never imports
it. The core, `Sandbox.handle`, knows nothing of any web framework. Two adapters
serve it:
- `sandbox_view`, mounted at `/sandbox/` by the project's URLconf while
  KREDIBEL_SANDBOX is on, accepting exactly settings.KREDIBEL_API_KEY and injecting
  the faults in settings.KREDIBEL_SANDBOX_FAULTS;
- `wsgi_app` / `make_server`, used by `manage.py runsandbox` to serve the sandbox
  alone, at the provider's own paths.

Answers:
- 200 with the documented success body; the nine documented NIKs give their
  documented verdicts, any other NIK `verified`;
- 400 `{"errors": {field: [messages]}, "message": "Input payload validation
  failed."}` with every field's problems at once, or 400 `{"message": ...}` for a
  body that is not a JSON object;
- 401 for a missing or wrong key, 404 / 405 for other paths and methods, 413 for a
  body over MAX_BODY_BYTES; every one JSON. No input produces a 500 unless a fault
  asks for one.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hmac
import io
import json
import math
import random
import re
import socketserver
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from http import HTTPStatus
from typing import Any
from xml.etree import ElementTree

from django.conf import settings
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from PIL import Image

ENDPOINT = "/v1/certificate/issuance"

# A valid request is at most about 8 MB (4 MB and 2 MB of images, a third more in
# base64); anything much larger is not a request the provider would take.
MAX_BODY_BYTES = 12 * 1024 * 1024

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

# The documented sandbox answers: identityId -> (status, rejectFields in order).
SEED_ANSWERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "1234567890111111": ("not_verified", ("identityId",)),
    "1234567890111112": ("not_verified", ("fullName",)),
    "1234567890111113": ("not_verified", ("birthDate",)),
    "1234567890111114": ("not_verified", ("faceImage",)),
    "1234567890111115": ("not_verified", ("identityImage",)),
    "1234567890111116": ("verified_with_reason", ("emailAddress",)),
    "1234567890111117": ("verified_with_reason", ("phoneNumber",)),
    "1234567890111118": ("verified_with_reason", ("phoneNumber", "emailAddress")),
    "1234567890111119": ("not_verified", ("liveness_check",)),
}
DEFAULT_ANSWER: tuple[str, tuple[str, ...]] = ("verified", ())


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

FAILURE_STATUSES = (429, 500, 502, 503)


@dataclass(frozen=True, kw_only=True)
class Faults:
    """Misbehaviour on demand, for tests and load runs. All off by default.

    - `latency`: seconds added before every answer.
    - `failure_rate` (0..1): share of requests answered with `failure_status`,
      drawn from `random.Random(seed)` so that a run can be repeated.
    - `failure_status`: 500 (JSON with errorId and errorType), 502 (an HTML page,
      as a gateway in front of a dead upstream sends), 503 (JSON message), or 429
      (with a `Retry-After: retry_after` header).
    - `down_for_seconds` / `down_for_requests`: a downtime window; the requests in
      the first N seconds after the sandbox starts, or the first N requests, are
      answered with `failure_status`.
    - `stall`: seconds to sleep before answering (longer than the client's read
      timeout, to provoke one).
    - `malformed`: successful answers become a 200 whose body is not the
      documented JSON, cycling through MALFORMED_BODIES.
    """

    latency: float = 0.0
    failure_rate: float = 0.0
    failure_status: int = 500
    retry_after: int = 1
    down_for_seconds: float = 0.0
    down_for_requests: int = 0
    stall: float = 0.0
    malformed: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("latency", "down_for_seconds", "stall"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"Sandbox fault {name} must be zero or more seconds.")
        if not 0 <= self.failure_rate <= 1:
            raise ValueError("Sandbox fault failure_rate must be between 0 and 1.")
        if self.failure_status not in FAILURE_STATUSES:
            raise ValueError(
                "Sandbox fault failure_status must be one of "
                + ", ".join(map(str, FAILURE_STATUSES))
                + "."
            )
        if self.retry_after < 0 or self.down_for_requests < 0:
            raise ValueError(
                "Sandbox faults retry_after and down_for_requests must not be negative."
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Faults:
        """Faults from a settings dict; unknown keys are an error, not ignored."""
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                "Unknown sandbox fault(s): "
                + ", ".join(unknown)
                + ". Known: "
                + ", ".join(sorted(known))
                + "."
            )
        return cls(**values)

    def describe(self) -> str:
        """The faults that are on, for a console line."""
        default = Faults()
        changed = [
            f"{field.name}={getattr(self, field.name)}"
            for field in fields(self)
            if getattr(self, field.name) != getattr(default, field.name)
        ]
        return ", ".join(changed) or "none"


# 200 answers that break the documented shape, in the order a malformed sandbox
# serves them: not JSON, no `data`, an unknown `status`, no `id`.
MALFORMED_BODIES: tuple[tuple[str, bytes], ...] = (
    ("text/html", b"<html><body><h1>OK</h1></body></html>"),
    ("application/json", json.dumps({"message": SUCCESS_MESSAGE}).encode()),
    (
        "application/json",
        json.dumps(
            {
                "message": SUCCESS_MESSAGE,
                "data": {
                    "id": "00000000-0000-4000-8000-000000000000",
                    "status": "approved",
                    "rejectFields": [],
                    "referenceId": "ref_certel#00000000-0000-4000-8000-000000000000",
                },
            }
        ).encode(),
    ),
    (
        "application/json",
        json.dumps(
            {
                "message": SUCCESS_MESSAGE,
                "data": {"status": "verified", "rejectFields": []},
            }
        ).encode(),
    ),
)

BAD_GATEWAY_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)

Headers = list[tuple[str, str]]
Answer = tuple[int, Headers, bytes]


def _json_answer(
    status: int, body: Mapping[str, Any], headers: Iterable[tuple[str, str]] = ()
) -> Answer:
    return (
        status,
        [("Content-Type", "application/json"), *headers],
        json.dumps(body).encode(),
    )


def _message(status: int, message: str, **headers: str) -> Answer:
    return _json_answer(status, {"message": message}, headers.items())


class Sandbox:
    """One sandbox: an API key, its faults and their per-process state (start
    time, request count, random generator). Thread-safe."""

    def __init__(self, *, api_key: str, faults: Faults | None = None) -> None:
        self._api_key = api_key.encode("utf-8", "surrogatepass")
        self.faults = faults or Faults()
        self._started = time.monotonic()
        self._requests = 0
        self._malformed_served = 0
        self._random = random.Random(self.faults.seed)  # noqa: S311 - repeatable faults, not secrets
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Sandbox(faults={self.faults!r})"

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Answer:
        """Answer one HTTP request: (status, headers, body).

        `headers` may use any case. `body` is the request body; adapters leave it
        empty when the declared Content-Length is over MAX_BODY_BYTES, since the
        answer is 413 whatever it holds.
        """
        headers = {name.lower(): value for name, value in headers.items()}
        delay, failure, malformed = self._draw_faults()
        if delay:
            time.sleep(delay)
        if failure is not None:
            return self._failure(failure)
        answer = self._answer(method, path, headers, body)
        if malformed is not None and answer[0] == HTTPStatus.OK:
            content_type, content = MALFORMED_BODIES[malformed]
            return HTTPStatus.OK, [("Content-Type", content_type)], content
        return answer

    def _draw_faults(self) -> tuple[float, int | None, int | None]:
        """This request's delay, failure status (or None) and malformed body index
        (or None), decided under the lock so the sequence is repeatable."""
        faults = self.faults
        with self._lock:
            self._requests += 1
            down = (
                self._requests <= faults.down_for_requests
                or time.monotonic() - self._started < faults.down_for_seconds
            )
            # Drawn only when a rate is set, so a seed gives the same sequence
            # whatever else is configured.
            unlucky = bool(faults.failure_rate) and (
                self._random.random() < faults.failure_rate
            )
            failure = faults.failure_status if down or unlucky else None
            malformed = None
            if faults.malformed and failure is None:
                malformed = self._malformed_served % len(MALFORMED_BODIES)
                self._malformed_served += 1
        return faults.latency + faults.stall, failure, malformed

    def _failure(self, status: int) -> Answer:
        if status == HTTPStatus.BAD_GATEWAY:
            return status, [("Content-Type", "text/html")], BAD_GATEWAY_PAGE
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            return _message(
                status,
                "Too many requests. Please slow down.",
                **{"Retry-After": str(self.faults.retry_after)},
            )
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            return _message(status, "Service temporarily unavailable.")
        return _json_answer(
            status,
            {
                "errors": {"errorId": str(uuid.uuid4()), "errorType": "InternalError"},
                "message": "Internal server error.",
            },
        )

    def _answer(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Answer:
        if path != ENDPOINT:
            return _message(
                HTTPStatus.NOT_FOUND,
                "The requested URL was not found on the server.",
            )
        if method != "POST":
            return _message(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "The method is not allowed for the requested URL.",
                Allow="POST",
            )
        if _declared_length(headers) > MAX_BODY_BYTES or len(body) > MAX_BODY_BYTES:
            return _message(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "The data value transmitted exceeds the capacity limit.",
            )
        payload = _parse(body)
        if not self._authenticated(headers, payload):
            return _message(HTTPStatus.UNAUTHORIZED, "Invalid or missing API key.")
        if isinstance(payload, str):
            return _message(HTTPStatus.BAD_REQUEST, payload)
        errors = validate(payload)
        if errors:
            return _json_answer(
                HTTPStatus.BAD_REQUEST,
                {"errors": errors, "message": VALIDATION_MESSAGE},
            )
        status, reject_fields = SEED_ANSWERS.get(payload["identityId"], DEFAULT_ANSWER)
        return _json_answer(
            HTTPStatus.OK,
            {
                "message": SUCCESS_MESSAGE,
                "data": {
                    "id": str(uuid.uuid4()),
                    "status": status,
                    "rejectFields": list(reject_fields),
                    "referenceId": f"ref_certel#{uuid.uuid4()}",
                },
            },
        )

    def _authenticated(
        self, headers: Mapping[str, str], payload: dict[str, Any] | str
    ) -> bool:
        """The Authorization header decides when it is present; otherwise the
        body's `key` field. An empty configured key accepts nobody."""
        if not self._api_key:
            return False
        authorization = headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.strip().partition(" ")
            return scheme.lower() == "bearer" and self._matches(token.strip())
        key = payload.get(KEY_FIELD) if isinstance(payload, dict) else None
        return isinstance(key, str) and self._matches(key)

    def _matches(self, key: str) -> bool:
        return hmac.compare_digest(key.encode("utf-8", "surrogatepass"), self._api_key)


def _declared_length(headers: Mapping[str, str]) -> int:
    try:
        return max(0, int(headers.get("content-length", "0")))
    except ValueError:
        return 0


def _parse(body: bytes) -> dict[str, Any] | str:
    """The JSON object in the body, or the message explaining why there is none."""
    if not body.strip():
        return "The request body is empty; send a JSON object."
    try:
        payload = json.loads(body)
    # ValueError covers bad JSON, bad UTF-8 and integers too long to convert;
    # RecursionError, deeply nested arrays.
    except (ValueError, RecursionError):
        return "The request body is not valid JSON."
    if not isinstance(payload, dict):
        return "The request body must be a JSON object."
    return payload


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


# The mounted sandbox: one per process, rebuilt when its settings change.

_mounted: Sandbox | None = None
_mounted_lock = threading.Lock()


def mounted_sandbox() -> Sandbox:
    """The sandbox served under /sandbox/, built from settings on first use; its
    fault state (clock, request count, random sequence) starts then."""
    global _mounted
    with _mounted_lock:
        if _mounted is None:
            _mounted = Sandbox(
                api_key=settings.KREDIBEL_API_KEY,
                faults=Faults.from_mapping(settings.KREDIBEL_SANDBOX_FAULTS),
            )
        return _mounted


@receiver(setting_changed)
def _reset_mounted_sandbox(*, setting: str, **kwargs: Any) -> None:
    global _mounted
    if setting in ("KREDIBEL_API_KEY", "KREDIBEL_SANDBOX_FAULTS"):
        with _mounted_lock:
            _mounted = None


def _read_body(stream: Any, declared: int) -> bytes:
    """The body, read up to its declared length; nothing when that length is over
    MAX_BODY_BYTES (the answer is 413 without reading it) or not given."""
    if declared <= 0 or declared > MAX_BODY_BYTES:
        return b""
    return stream.read(declared)


@csrf_exempt
def sandbox_view(request: HttpRequest, subpath: str) -> HttpResponse:
    """Serve the sandbox under /sandbox/<subpath> while KREDIBEL_SANDBOX is on.

    Reads the body with `request.read()`, not `request.body`: real requests (about
    8 MB) are over DATA_UPLOAD_MAX_MEMORY_SIZE, which only `request.body` enforces.
    """
    if not settings.KREDIBEL_SANDBOX:
        raise Http404
    body = _read_body(request, _declared_length(request.headers))
    status, headers, content = mounted_sandbox().handle(
        request.method or "GET", "/" + subpath, request.headers, body
    )
    return HttpResponse(content, status=status, headers=dict(headers))


# The standalone sandbox (manage.py runsandbox).

WSGIEnviron = dict[str, Any]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def wsgi_app(sandbox: Sandbox) -> Callable[[WSGIEnviron, StartResponse], list[bytes]]:
    """A WSGI application that serves only `sandbox`, at the provider's paths."""

    def application(environ: WSGIEnviron, start_response: StartResponse) -> list[bytes]:
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = environ[key]
        body = _read_body(environ["wsgi.input"], _declared_length(headers))
        status, answer_headers, content = sandbox.handle(
            environ["REQUEST_METHOD"], environ.get("PATH_INFO") or "/", headers, body
        )
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [*answer_headers, ("Content-Length", str(len(content)))],
        )
        return [content]

    return application


class SandboxServer(socketserver.ThreadingMixIn, WSGIServer):
    """Django's development WSGI server, one thread per connection; the threads
    do not hold up a stop (a stalled answer is abandoned)."""

    daemon_threads = True


def make_server(host: str, port: int, sandbox: Sandbox) -> SandboxServer:
    """A bound, threaded HTTP server for `sandbox`; port 0 picks a free port
    (read it from `server.server_address`). Raises OSError when it cannot bind."""
    server = SandboxServer((host, port), WSGIRequestHandler, ipv6=":" in host)
    server.set_app(wsgi_app(sandbox))
    return server
