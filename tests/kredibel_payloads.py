"""Test helpers for the Kredibel client and sandbox: valid requests, images of any
size, the standalone sandbox served in a thread, the sandbox's sense of time held in
the test's hands, and a canned HTTP server.

Images are made once per test session (functools.cache) and padded to an exact byte
size with comment segments (JPEG) or an ancillary chunk (PNG), so a limit like
4,000,000 bytes can be hit exactly without encoding noise until it fits.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import io
import json
import random
import socket
import socketserver
import struct
import threading
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from PIL import Image

from verification.kredibel import IssuanceRequest
from verification.sandbox.answers import Sandbox
from verification.sandbox.server import make_server
from verification.sandbox.validation import MIN_IMAGE_BYTES

API_KEY = "sandbox-secret-key"
NORMAL_NIK = "1234567890123456"

FACE_SIZE = (480, 640)
KTP_SIZE = (480, 360)

# Sentinel: payload(faceImage=MISSING) leaves the field out.
MISSING: Any = object()


def verified_answer() -> bytes:
    """A provider's "verified" answer body, with fresh ids (for a recording stand-in)."""
    code = uuid.uuid4()
    return json.dumps(
        {
            "message": "Certificate electronic verification has been done",
            "data": {
                "id": str(code),
                "status": "verified",
                "rejectFields": [],
                "referenceId": f"ref_certel#{code}",
            },
        }
    ).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def payload(**overrides: Any) -> dict[str, Any]:
    """A valid issuance request body (the seed document's example applicant with
    the smallest images the sandbox accepts), with fields replaced or, given
    MISSING, left out."""
    body: dict[str, Any] = {
        "identityId": NORMAL_NIK,
        "fullName": "ASEP SUPRIYADI",
        "birthDate": "1990-07-06",
        "emailAddress": "test@email.com",
        "phoneNumber": "621234567890",
        "faceImage": b64(jpeg(*FACE_SIZE)),
        "identityImage": b64(jpeg(*KTP_SIZE)),
    }
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not MISSING}


def issuance_request(**overrides: Any) -> IssuanceRequest:
    """The same applicant as payload(), as the client's IssuanceRequest."""
    values: dict[str, Any] = {
        "identity_id": NORMAL_NIK,
        "full_name": "ASEP SUPRIYADI",
        "birth_date": datetime.date(1990, 7, 6),
        "email_address": "test@email.com",
        "phone_number": "621234567890",
        "face_image": jpeg(*FACE_SIZE),
        "identity_image": jpeg(*KTP_SIZE),
    }
    values.update(overrides)
    return IssuanceRequest(**values)


def _pixels(width: int, height: int, noise: bool) -> Image.Image:
    if noise:
        # Noise does not compress, so the file is big as a camera's photo is.
        rng = random.Random(width * 100_003 + height)
        return Image.frombytes(
            "RGB", (width, height), rng.randbytes(width * height * 3)
        )
    image = Image.new("RGB", (width, height), (200, 180, 160))
    image.paste((40, 60, 90), (width // 4, height // 4, width // 2, height // 2))
    return image


def _encode(image_format: str, width: int, height: int, noise: bool) -> bytes:
    buffer = io.BytesIO()
    _pixels(width, height, noise).save(buffer, format=image_format, quality=90)
    return buffer.getvalue()


@functools.cache
def jpeg(
    width: int,
    height: int,
    *,
    size: int | None = None,
    min_size: int = MIN_IMAGE_BYTES,
    noise: bool = False,
) -> bytes:
    """A valid JPEG of width x height pixels and exactly `size` bytes, or (without
    `size`) at least `min_size` bytes."""
    data = _encode("JPEG", width, height, noise)
    return _pad_jpeg(data, size if size is not None else max(min_size, len(data)))


@functools.cache
def png(
    width: int, height: int, *, size: int | None = None, min_size: int = MIN_IMAGE_BYTES
) -> bytes:
    """A valid PNG of width x height pixels and exactly `size` bytes, or at least
    `min_size` bytes."""
    data = _encode("PNG", width, height, noise=False)
    return _pad_png(data, size if size is not None else max(min_size, len(data)))


def _pad_jpeg(data: bytes, size: int) -> bytes:
    """Insert COM segments (4 bytes of header, up to 65533 of text) after SOI."""
    missing = size - len(data)
    if missing == 0:
        return data
    if missing < 4:
        raise ValueError(f"cannot pad a {len(data)}-byte JPEG to {size} bytes")
    segments = []
    while missing:
        length = min(missing, 4 + 65533)
        if 0 < missing - length < 4:
            length -= 4
        segments.append(
            b"\xff\xfe" + struct.pack(">H", length - 2) + b"p" * (length - 4)
        )
        missing -= length
    return data[:2] + b"".join(segments) + data[2:]


def png_chunk(kind: bytes, content: bytes) -> bytes:
    return (
        struct.pack(">I", len(content))
        + kind
        + content
        + struct.pack(">I", zlib.crc32(kind + content))
    )


def _pad_png(data: bytes, size: int) -> bytes:
    """Insert one private ancillary chunk ("paDd", 12 bytes of overhead) before
    IEND; decoders skip it."""
    missing = size - len(data)
    if missing == 0:
        return data
    if missing < 12:
        raise ValueError(f"cannot pad a {len(data)}-byte PNG to {size} bytes")
    iend = len(data) - 12
    return data[:iend] + png_chunk(b"paDd", b"p" * (missing - 12)) + data[iend:]


def png_claiming(width: int, height: int, size: int = MIN_IMAGE_BYTES) -> bytes:
    """A PNG whose header claims width x height pixels (a decompression bomb when
    large) with one empty row of data; only its header is ever read."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00"))
        + png_chunk(b"IEND", b"")
    )
    return _pad_png(data, size)


def svg(
    width: str | None = "480",
    height: str | None = "640",
    *,
    view_box: str | None = None,
    size: int = MIN_IMAGE_BYTES,
    doctype: str = "",
) -> bytes:
    """An SVG file with the given root attributes, padded with a comment to
    exactly `size` bytes."""
    attributes = "".join(
        f' {name}="{value}"'
        for name, value in (("width", width), ("height", height), ("viewBox", view_box))
        if value is not None
    )
    head = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}'
        f'<svg xmlns="http://www.w3.org/2000/svg"{attributes}>'
        '<rect x="10" y="10" width="100" height="100" fill="teal"/><!-- '
    ).encode()
    tail = b" --></svg>\n"
    return head + b"p" * (size - len(head) - len(tail)) + tail


@functools.cache
def gif(width: int = 480, height: int = 640, size: int = MIN_IMAGE_BYTES) -> bytes:
    """A real GIF image, padded after its trailer to `size` bytes."""
    buffer = io.BytesIO()
    Image.new("P", (width, height), 3).save(buffer, format="GIF")
    data = buffer.getvalue()
    return data + b"\x00" * (size - len(data))


def html(size: int = MIN_IMAGE_BYTES) -> bytes:
    """An HTML page (what an error page saved as a photo looks like)."""
    head = b"<!DOCTYPE html><html><head><title>Photo</title></head><body><p>"
    tail = b"</p></body></html>"
    return head + b"x" * (size - len(head) - len(tail)) + tail


class SandboxClock:
    """A sandbox's clock and sleep in the test's hands: time moves only when the
    test moves it, and a sleep records what the sandbox would have waited (and
    moves the clock that far) instead of waiting.

    Sandbox(clock=clock, sleep=clock.sleep)
    """

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class HeldAnswers:
    """A sandbox sleep that holds each answer until the test lets it go (or a
    minute passes), recording what the sandbox was asked to wait: a stall as
    long as the test needs, without a fixed wait.

    Sandbox(sleep=held); ...; held.release()
    """

    def __init__(self) -> None:
        self.asked: list[float] = []
        self._released = threading.Event()

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        self._released.wait(timeout=60)

    def release(self) -> None:
        self._released.set()


@contextlib.contextmanager
def _serving(server: socketserver.TCPServer) -> Iterator[str]:
    """Run `server` (bound to a local port) in a thread; yield its base URL and
    stop it on exit."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def serve_sandbox(sandbox: Sandbox) -> Iterator[str]:
    """Serve `sandbox` as runsandbox does, in a thread on a free local port; yields
    its base URL and stops it on exit."""
    with _serving(make_server("127.0.0.1", 0, sandbox)) as url:
        yield url


def post(
    base_url: str,
    body: Any = None,
    *,
    key: str | None = API_KEY,
    data: bytes | None = None,
    session: requests.Session | None = None,
) -> requests.Response:
    """POST a JSON body (or raw `data`) to the issuance endpoint under base_url,
    with the key as a Bearer token unless `key` is None."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    sender = session or requests
    return sender.post(
        base_url + "/v1/certificate/issuance",
        json=body if data is None else None,
        data=data,
        headers=headers,
        timeout=30,
    )


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Canned:
    """What a canned server answers, and what it received. With `drop` it reads
    the whole request and closes the connection without answering."""

    status: int = 200
    headers: dict[str, str] = field(
        default_factory=lambda: {"Content-Type": "application/json"}
    )
    body: bytes = b"{}"
    drop: bool = False
    received: list[Received] = field(default_factory=list)


class _CannedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _CannedHTTPServer

    def do_POST(self) -> None:
        canned = self.server.canned
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        canned.received.append(
            Received(self.command, self.path, dict(self.headers.items()), body)
        )
        if canned.drop:
            self.close_connection = True
            return
        self.send_response(canned.status)
        for name, value in canned.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(canned.body)))
        self.end_headers()
        self.wfile.write(canned.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _CannedHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    canned: Canned


@contextlib.contextmanager
def serve_canned(canned: Canned) -> Iterator[str]:
    """A real HTTP server on a free local port that answers every POST with
    `canned` (change it between requests) and records what it received; yields
    its base URL. For answers the sandbox never gives, and to see the wire."""
    server = _CannedHTTPServer(("127.0.0.1", 0), _CannedHandler)
    server.canned = canned
    with _serving(server) as url:
        yield url


@contextlib.contextmanager
def full_listen_queue() -> Iterator[int]:
    """A local port whose accept queue is full: the kernel drops further
    connection attempts, so connecting hangs until the client's connect timeout,
    as with an unreachable host (without sending anything off this machine)."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.connect(listener.getsockname())
        yield listener.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
