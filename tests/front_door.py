"""A real `manage.py serve` in production mode on 127.0.0.1, and clients that are
slow on purpose: heads trickled a byte at a time, bodies trickled, requests that
stall. Used by the tests and by bench/slow_clients.py."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.processes import MANAGE, free_port, wait_for

HOST = "127.0.0.1"


def serve_env(production_env: dict[str, str], tmp_path: Path, **overrides: str):
    """Production mode reached over plain HTTP on 127.0.0.1, nothing else from the
    developer's shell; `production_env` names the (migrated) database."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        **production_env,
        "ALLOWED_HOSTS": HOST,
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_ROOT": str(tmp_path / "static"),
        "PRIVATE_MEDIA_ROOT": str(tmp_path / "private"),
        "LOG_LEVEL": "INFO",
        **overrides,
    }


@dataclass
class Server:
    url: str
    port: int
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def production_serve(env: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    """`manage.py serve` in production mode (gunicorn and its worker) on a free
    port, its static files collected first; stopped, children and all, on exit."""
    subprocess.run(
        [*MANAGE, "collectstatic", "--noinput", "-v", "0"],
        env=env,
        check=True,
        timeout=120,
        cwd=tmp_path,
    )
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen(
            [*MANAGE, "serve", f"{HOST}:{port}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            start_new_session=True,
        )
    server = Server(url=f"http://{HOST}:{port}", port=port, log=log)
    try:

        def answering() -> bool:
            if serve.poll() is not None:
                raise AssertionError("serve stopped:\n" + server.text()[-5000:])
            return _answers(server.url + "/healthz")

        wait_for(answering, timeout=60, what="serve to answer")
        yield server
    except BaseException:
        sys.stderr.write(f"--- serve's log ---\n{server.text()[-20000:]}\n")
        raise
    finally:
        # serve's children lead process groups of their own: if serve has to be
        # killed they would outlive it, so they are noted now to be ended with it.
        children = child_pids(serve.pid)
        if serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
                serve.wait()
                for pid in children:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)


def child_pids(pid: int) -> list[int]:
    """The processes `pid` started (Linux's /proc), or none when it has ended."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code in (200, 503)
    except requests.RequestException:
        return False


def is_open(sock: socket.socket) -> bool:
    """Whether the server still holds the connection (it has not closed it)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return True
    try:
        data = sock.recv(1, socket.MSG_PEEK)
    except OSError:
        return False
    return bool(data)


def wait_closed(sock: socket.socket, timeout: float) -> bool:
    """Wait up to `timeout` for the server to close the connection; True if it did.
    (A response the server sends first, such as a 400 or a 403, is read past.)"""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            if not sock.recv(65536):
                return True
    except TimeoutError:
        return False
    except OSError as error:
        return error.errno in (errno.ECONNRESET, errno.EPIPE)
    return False


def connect(port: int) -> socket.socket:
    return socket.create_connection((HOST, port), timeout=10)


HEAD = f"GET / HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: slow\r\n".encode()


# A CSRF cookie of the right form: with it, the server reads the body (for the
# form's token) as it would a real applicant's upload.
CSRF_COOKIE = "csrftoken=" + "slow" * 8


def body_head(length: int) -> bytes:
    """The head of a no-JavaScript form upload of `length` bytes."""
    return (
        f"POST /register/ HTTP/1.1\r\nHost: {HOST}\r\nCookie: {CSRF_COOKIE}\r\n"
        "Content-Type: multipart/form-data; boundary=slowslowslow\r\n"
        f"Content-Length: {length}\r\n\r\n"
        '--slowslowslow\r\nContent-Disposition: form-data; name="faceImage"; '
        'filename="selfie.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    ).encode()


@dataclass
class SlowClients:
    """`heads` clients trickling a request head a byte every `interval` seconds
    (never finishing it) and `bodies` clients trickling a large upload's body at
    `body_rate` bytes a second, each in its own thread, until `stop()`."""

    port: int
    heads: int = 6
    bodies: int = 6
    interval: float = 0.5
    body_rate: int = 64_000
    body_length: int = 8_800_000
    sockets: list[socket.socket] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> SlowClients:
        for index in range(self.heads + self.bodies):
            sock = connect(self.port)
            self.sockets.append(sock)
            target = self._trickle_head if index < self.heads else self._trickle_body
            thread = threading.Thread(target=target, args=(sock,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def all_open(self) -> bool:
        return all(is_open(sock) for sock in self.sockets)

    def open_count(self) -> int:
        return sum(is_open(sock) for sock in self.sockets)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        for sock in self.sockets:
            sock.close()

    def _trickle_head(self, sock: socket.socket) -> None:
        header = b"X-Slow: x\r\n"
        sent = 0
        with contextlib.suppress(OSError):
            sock.sendall(HEAD)
            while not self._stop.wait(self.interval):
                # Header after header, one byte at a time, never the blank line.
                sock.sendall(header[sent % len(header)].to_bytes())
                sent += 1

    def _trickle_body(self, sock: socket.socket) -> None:
        chunk = max(1, int(self.body_rate * self.interval))
        with contextlib.suppress(OSError):
            sock.sendall(body_head(self.body_length))
            while not self._stop.wait(self.interval):
                sock.sendall(b"\xff" * chunk)
