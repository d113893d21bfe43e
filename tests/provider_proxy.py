"""A proxy in front of the provider for fault tests: it counts the requests that
reach the provider, sees which answers the client received in full, and misbehaves
on demand, request by request.

What each request gets is `plan[i]` (`PASS` once the plan runs out):

- PASS: forwarded; the answer goes back at once (or once `release` is set, when the
  proxy is told to `hold`).
- TRICKLE: forwarded; the answer goes back one byte every `trickle_seconds`.
- DROP: read whole, never forwarded, and the connection closed without an answer.
- FAIL: never forwarded; answered 503 as a provider that is down.

It speaks just enough HTTP/1.1 for the client and the sandbox: one request per
connection (it answers `Connection: close`).
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

PASS, TRICKLE, DROP, FAIL = "pass", "trickle", "drop", "fail"
UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b'Content-Length: 34\r\nConnection: close\r\n\r\n{"message": "Service unavailable"}'
)


@dataclass
class Exchange:
    """One request that reached the proxy, and what became of its answer."""

    plan: str
    forwarded: bool = False
    provider_id: str = ""
    delivered: bool = False


@dataclass
class ProviderProxy:
    upstream: tuple[str, int]
    plan: list[str] = field(default_factory=list)
    trickle_seconds: float = 0.2
    exchanges: list[Exchange] = field(default_factory=list)
    # While not set, answers wait (as a slow provider would make them).
    release: threading.Event = field(default_factory=threading.Event)
    in_flight: int = 0
    most_in_flight: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self._lock)
        self.release.set()

    def hold(self) -> None:
        """Hold every answer until `release.set()`."""
        self.release.clear()

    @property
    def forwarded(self) -> list[Exchange]:
        return [exchange for exchange in self.exchanges if exchange.forwarded]

    def delivered_ids(self) -> list[str]:
        return [e.provider_id for e in self.exchanges if e.delivered and e.provider_id]

    def wait_for_requests(self, count: int, timeout: float = 30) -> None:
        """Until `count` requests have reached the proxy (a generous deadline)."""
        self._wait(lambda: len(self.exchanges) >= count, timeout, f"{count} requests")

    def wait_for_in_flight(self, count: int, timeout: float = 30) -> None:
        self._wait(lambda: self.in_flight >= count, timeout, f"{count} in flight")

    def _wait(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the proxy never saw {what}")
                self._changed.wait(left)

    # Serving ---------------------------------------------------------------------

    def _begin(self) -> Exchange:
        with self._changed:
            index = len(self.exchanges)
            exchange = Exchange(self.plan[index] if index < len(self.plan) else PASS)
            self.exchanges.append(exchange)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self._changed.notify_all()
        return exchange

    def _end(self) -> None:
        with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    def handle(self, client: socket.socket) -> None:
        request = _read_request(client)
        if request is None:
            return
        exchange = self._begin()
        try:
            if exchange.plan == DROP:
                return
            if exchange.plan == FAIL:
                client.sendall(UNAVAILABLE)
                return
            answer = self._forward(request)
            exchange.forwarded = True
            exchange.provider_id = _provider_id(answer)
            self.release.wait(120)
            if exchange.plan == TRICKLE:
                for byte in answer:
                    client.sendall(bytes([byte]))
                    time.sleep(self.trickle_seconds)
            else:
                client.sendall(answer)
            exchange.delivered = True
        except OSError:
            pass  # the client gave up: its answer was not delivered
        finally:
            self._end()

    def _forward(self, request: bytes) -> bytes:
        with socket.create_connection(self.upstream, timeout=60) as upstream:
            upstream.sendall(request)
            chunks = []
            while chunk := upstream.recv(65536):
                chunks.append(chunk)
        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
        lines = [
            line
            for line in head.split(b"\r\n")
            if not line.lower().startswith(b"connection:")
        ]
        return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


def _read_request(client: socket.socket) -> bytes | None:
    reader = client.makefile("rb")
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = reader.readline()
        if not line:
            return None
        head += line
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = reader.read(length)
    lines = [
        line
        for line in head.rstrip(b"\r\n").split(b"\r\n")
        if not line.lower().startswith(b"connection:")
    ]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


def _provider_id(answer: bytes) -> str:
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        return json.loads(answer.partition(b"\r\n\r\n")[2])["data"]["id"]
    return ""


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.proxy.handle(self.request)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: ProviderProxy


@contextlib.contextmanager
def provider_proxy(upstream_url: str) -> Iterator[ProviderProxy]:
    """A proxy on a free local port in front of `upstream_url` (http://host:port),
    served in threads for the block's length."""
    host, _, port = upstream_url.removeprefix("http://").rstrip("/").rpartition(":")
    proxy = ProviderProxy(upstream=(host, int(port)))
    server = _Server(("127.0.0.1", 0), _Handler)
    server.proxy = proxy
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield proxy
    finally:
        proxy.release.set()
        server.shutdown()
        server.server_close()
        thread.join()
