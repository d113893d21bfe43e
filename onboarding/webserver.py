"""The web server's worker: gunicorn's threaded worker, whose reads give up.

`manage.py serve` runs gunicorn with this worker class in production mode. Each
worker process serves WEB_THREADS requests at once, so a few clients on a slow line
(or slow on purpose) hold a thread each and leave the others to everyone else. What
gunicorn's threaded worker lacks is a limit on how long a request may keep its
thread while sending nothing; here every accepted connection gets two:

- the request's head (request line and headers, a few hundred bytes that a real
  browser sends at once) must be in within WEB_HEADER_TIMEOUT_SECONDS, however it
  is trickled;
- after that, no read of the body waits longer than WEB_READ_TIMEOUT_SECONDS for
  the next bytes. A slow but moving upload goes on; a stalled one ends.

A connection that runs out of either is closed as if the client had hung up (the
parser and the application see the end of the stream), so it costs one line in the
log and no error page. For a site on the internet, a buffering reverse proxy in
front is still the better door (see the README); this is what holds without one.
"""

from __future__ import annotations

import logging
import socket
import time

from django.conf import settings
from gunicorn.workers import gthread  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)


class Connection(socket.socket):
    """An accepted client socket whose blocking reads end at the deadlines above."""

    read_timeout: float = 30.0
    head_timeout: float = 20.0
    head_deadline: float | None = None

    @classmethod
    def adopt(cls, sock: socket.socket) -> Connection:
        """The same connection, as this class (the file descriptor moves over)."""
        adopted = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        adopted.read_timeout = settings.WEB_READ_TIMEOUT_SECONDS
        adopted.head_timeout = settings.WEB_HEADER_TIMEOUT_SECONDS
        return adopted

    def setblocking(self, flag: bool) -> None:
        # gunicorn switches a connection to blocking mode before every request;
        # blocking here means "up to the read timeout", never forever.
        if flag:
            self.settimeout(self.read_timeout)
        else:
            super().setblocking(False)

    def expect_head(self) -> None:
        """A request starts: its head must be in within the head timeout."""
        self.head_deadline = time.monotonic() + self.head_timeout

    def head_received(self) -> None:
        self.head_deadline = None
        self.settimeout(self.read_timeout)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if self.head_deadline is not None:
            remaining = self.head_deadline - time.monotonic()
            if remaining <= 0:
                return self._give_up("its request's head", self.head_timeout)
            self.settimeout(min(remaining, self.read_timeout))
        try:
            return super().recv(bufsize, flags)
        except TimeoutError:
            if self.head_deadline is not None:
                return self._give_up("its request's head", self.head_timeout)
            return self._give_up("any more of its request", self.read_timeout)

    def _give_up(self, what: str, seconds: float) -> bytes:
        # No client address here: the access log has it, this line need not.
        logger.info(
            "Closed a connection that did not send %s within %g s.", what, seconds
        )
        return b""


class ThreadWorker(gthread.ThreadWorker):
    """gunicorn's threaded worker, its connections made `Connection`s."""

    def accept(self, listener: socket.socket) -> None:
        # As gthread.ThreadWorker.accept, with the client socket adopted.
        try:
            client_sock, client_addr = listener.accept()
        except BlockingIOError:
            return
        except ConnectionAbortedError:
            return
        self.nr_conns += 1
        connection = Connection.adopt(client_sock)
        connection.setblocking(True)
        conn = gthread.TConn(self.cfg, connection, client_addr, listener.getsockname())
        self.enqueue_req(conn)

    def handle(self, conn: gthread.TConn):
        if isinstance(conn.sock, Connection):
            conn.sock.expect_head()
        return super().handle(conn)

    def handle_request(self, req, conn: gthread.TConn):
        if isinstance(conn.sock, Connection):
            conn.sock.head_received()
        return super().handle_request(req, conn)
