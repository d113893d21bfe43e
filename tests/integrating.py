"""An integrator's side: API keys, calls to the API with the test client, and a
real HTTP receiver for webhooks that verifies every signature with the
`standardwebhooks` package, as an integrator's server would."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.test import Client
from standardwebhooks.webhooks import Webhook

from verification.integrations import keys
from verification.integrations.models import VerificationSession, WebhookDelivery


def make_key(name: str = "Bank Contoh", webhook_url: str = "") -> keys.NewKey:
    return keys.make_key(name=name, webhook_url=webhook_url)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def create_session(
    client: Client, key: str, body: dict[str, Any] | None = None, /, **headers: str
):
    """POST /api/v1/sessions with `body` (an external reference by default)."""
    payload = {"externalReference": "cust-1"} if body is None else body
    return client.post(
        "/api/v1/sessions",
        json.dumps(payload),
        content_type="application/json",
        headers={**auth(key), **headers},
    )


def get_session(client: Client, key: str, session_id: str):
    return client.get(f"/api/v1/sessions/{session_id}", headers=auth(key))


def session_path(url: str) -> str:
    """The path of a session URL (the API answers with SITE_URL in front)."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def session_of(response) -> VerificationSession:
    return VerificationSession.objects.get(code=response.json()["id"])


@dataclass
class Received:
    """One webhook as the receiver got it: headers, raw body, and the payload
    the standardwebhooks package verified (None when it did not verify)."""

    headers: dict[str, str]
    body: bytes
    verified: Any = None
    error: str = ""


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1. `answers` are the status codes to answer
    with, in turn (the last one repeats); "hang" holds the request until the
    receiver stops (the sender's timeout ends it)."""

    secret: str
    answers: list[int | str] = field(default_factory=lambda: [200])
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _release: threading.Event = field(default_factory=threading.Event)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def answer_for(self, n: int) -> int | str:
        return self.answers[min(n, len(self.answers) - 1)]

    def record(self, item: Received) -> int | str:
        with self._arrived:
            answer = self.answer_for(len(self.received))
            self.received.append(item)
            self._arrived.notify_all()
        return answer

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """Wait until `count` webhooks have arrived (a deadline, not a sleep)."""
        with self._arrived:
            arrived = self._arrived.wait_for(
                lambda: len(self.received) >= count, timeout
            )
        assert arrived, f"{len(self.received)} webhook(s) arrived, not {count}"
        return self.received

    def payloads(self) -> list[dict[str, Any]]:
        """What verified, in order of arrival; fails if any did not verify."""
        failed = [r.error for r in self.received if r.verified is None]
        assert not failed, f"webhooks whose signature did not verify: {failed}"
        return [r.verified for r in self.received]

    def statuses(self) -> list[str]:
        return [p["data"]["status"] for p in self.payloads()]


@contextmanager
def receiver(secret: str, answers: list[int | str] | None = None) -> Iterator[Receiver]:
    found = Receiver(secret=secret, answers=answers or [200])
    verifier = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            item = Received(headers=headers, body=body)
            try:
                item.verified = verifier.verify(body, headers)
            except Exception as error:
                item.error = f"{type(error).__name__}: {error}"
            answer = found.record(item)
            if answer == "hang":
                found._release.wait(60)
                return
            if isinstance(answer, int) and 300 <= answer < 400:
                self.send_response(answer)
                self.send_header("Location", found.url)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(int(answer))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    found.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found._release.set()
        server.shutdown()
        server.server_close()


def deliveries(session: VerificationSession) -> list[WebhookDelivery]:
    return list(session.deliveries.order_by("created_at", "pk"))
