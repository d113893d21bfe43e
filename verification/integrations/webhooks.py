"""Webhooks: `session.updated`, posted to the key's webhook URL on every status
change, signed as the Standard Webhooks specification says (the `standardwebhooks`
package signs), and sent by the worker's webhook lane, never in a web request.

- Written with the change: a WebhookDelivery row (the exact body, with the session
  as GET shows it at that moment) and its task commit in the transaction of the
  status change.
- At least once: a send first claims the row (`pending` -> `sending`); a 2xx answer
  marks it delivered. Any other answer, a redirect (never followed), a timeout, a
  refused connection or an address not allowed goes back to `pending` with
  exponential backoff and jitter (WEBHOOK_RETRY_BASE_SECONDS doubling up to
  WEBHOOK_RETRY_MAX_SECONDS) until WEBHOOK_RETRY_HOURS after the event; then it is
  `failed`. A worker that dies mid-send leaves its row `sending`; once its claim is
  over the sweep puts it back to `pending` and it is sent again.
- The same `webhook-id` on every try and on "send again", so receivers can
  deduplicate; `webhook-timestamp` and the signature are made afresh for each try
  (receivers refuse old timestamps).
- Bounded: every try ends within WEBHOOK_TIMEOUT_SECONDS on the wall clock,
  whatever the receiver does; the answer's body is not read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from requests.adapters import HTTPAdapter
from standardwebhooks.webhooks import Webhook
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

from verification import tasks
from verification.durable import durably
from verification.integrations import targets
from verification.integrations.models import VerificationSession, WebhookDelivery
from verification.retry_policy import backoff_seconds

logger = logging.getLogger(__name__)

State = WebhookDelivery.State

EVENT = "session.updated"
# Longer than any one try can take.
SEND_MARGIN = timedelta(seconds=30)
MARK_SECONDS = 20.0
HISTORY_KEPT = 50
USER_AGENT = "ktp-onboarding-webhooks/1"

_random = random.Random()  # noqa: S311 - jitter, not secrets


def queue_event(
    session: VerificationSession, *, body: dict[str, Any], now: datetime | None = None
) -> WebhookDelivery | None:
    """Write the `session.updated` event for `body` (the session as GET shows it)
    and queue its delivery. Call inside the transaction of the change. None when
    the key has no webhook URL."""
    api_key = session.api_key
    if not api_key.webhook_url:
        return None
    now = now or timezone.now()
    delivery = WebhookDelivery(
        api_key=api_key,
        session=session,
        event=EVENT,
        about=body["status"],
        created_at=now,
        give_up_at=now + timedelta(hours=settings.WEBHOOK_RETRY_HOURS),
    )
    delivery.body = encode({"type": EVENT, "timestamp": _iso(now), "data": body})
    delivery.save()
    tasks.deliver_webhook.enqueue(delivery.pk)
    return delivery


def encode(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _iso(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


# Sending -----------------------------------------------------------------------------


def send_delivery(
    *,
    delivery_id: int,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> None:
    """Try one delivery if it is waiting and due; otherwise do nothing (a
    duplicate task sends nothing twice at once)."""
    now = now or timezone.now()
    claim_until = (
        now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS) + SEND_MARGIN
    )
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, state=State.PENDING)
        .filter(Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))
        .update(state=State.SENDING, claimed_until=claim_until, tries=F("tries") + 1)
    )
    if not claimed:
        _come_back_later(delivery_id, now)
        return
    delivery = WebhookDelivery.objects.select_related("api_key", "session").get(
        pk=delivery_id
    )
    outcome = post(delivery)
    durably(
        lambda: _record(delivery, outcome, now=now, rng=rng or _random),
        seconds=MARK_SECONDS,
        what=f"Webhook {delivery.webhook_id}",
    )


class Outcome:
    """How one try went: the answer's status code, or the failure's kind."""

    def __init__(
        self, *, status: int | None = None, error: str = "", duration: float = 0.0
    ) -> None:
        self.status = status
        self.error = error
        self.duration = duration

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def signed_headers(delivery: WebhookDelivery, *, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for one try at `at`."""
    signature = Webhook(delivery.api_key.webhook_secret).sign(
        delivery.webhook_id, at.astimezone(UTC), delivery.body
    )
    return {
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def post(delivery: WebhookDelivery) -> Outcome:
    """One try: POST the body to the key's current webhook URL; never raises."""
    url = delivery.api_key.webhook_url
    started = time.monotonic()
    problem = targets.url_problem(url)
    if problem:
        return Outcome(error=f"webhook URL refused: {problem}")
    headers = signed_headers(delivery, at=timezone.now())
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    with requests.Session() as http, _Deadline(timeout) as deadline:
        http.trust_env = False  # no proxy from the environment: we check the peer
        adapter = _CheckedAdapter()
        http.mount("http://", adapter)
        http.mount("https://", adapter)
        try:
            response = http.post(
                url,
                data=delivery.body.encode(),
                headers=headers,
                timeout=(min(5.0, timeout), timeout),
                allow_redirects=False,
                stream=True,
            )
            response.close()
        except AddressRefused as refused:
            return Outcome(
                error=f"address not allowed: {refused.address}",
                duration=time.monotonic() - started,
            )
        except requests.RequestException as error:
            kind = "timeout" if deadline.expired else _describe(error)
            return Outcome(error=kind, duration=time.monotonic() - started)
    duration = time.monotonic() - started
    if 300 <= response.status_code < 400:
        return Outcome(
            status=response.status_code,
            error="redirect not followed",
            duration=duration,
        )
    return Outcome(status=response.status_code, duration=duration)


def _describe(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout):
        return "timeout"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS error"
    if isinstance(error, requests.ConnectionError):
        return "connection failed"
    return type(error).__name__


def _record(
    delivery: WebhookDelivery, outcome: Outcome, *, now: datetime, rng: random.Random
) -> None:
    # On the clock the send was given (a test's, or now), plus how long it took.
    finished = now + timedelta(seconds=outcome.duration)
    entry = {
        "at": _iso(finished),
        "status": outcome.status,
        "error": outcome.error,
        "ms": round(outcome.duration * 1000),
    }
    history = [*delivery.history, entry][-HISTORY_KEPT:]
    common = {
        "history": history,
        "last_status_code": outcome.status,
        "last_error": outcome.error[:200],
        "last_tried_at": finished,
        "claimed_until": None,
    }
    sending = WebhookDelivery.objects.filter(pk=delivery.pk, state=State.SENDING)
    if outcome.delivered:
        sending.update(
            state=State.DELIVERED, delivered_at=finished, next_try_at=None, **common
        )
        logger.info(
            "Webhook %s delivered (HTTP %s).", delivery.webhook_id, outcome.status
        )
        return
    delay = backoff_seconds(
        delivery.tries,
        base=settings.WEBHOOK_RETRY_BASE_SECONDS,
        cap=settings.WEBHOOK_RETRY_MAX_SECONDS,
        rng=rng,
    )
    at = finished + timedelta(seconds=delay)
    what = outcome.error or f"HTTP {outcome.status}"
    if at > delivery.give_up_at:
        sending.update(state=State.FAILED, next_try_at=None, **common)
        logger.error(
            "Webhook %s: gave up after %d tries (%s).",
            delivery.webhook_id,
            delivery.tries,
            what,
        )
        return
    with transaction.atomic():
        sending.update(state=State.PENDING, next_try_at=at, **common)
        tasks.deliver_webhook.using(run_after=at).enqueue(delivery.pk)
    logger.warning(
        "Webhook %s not delivered (%s); trying again in %.0f s.",
        delivery.webhook_id,
        what,
        delay,
    )


def _come_back_later(delivery_id: int, now: datetime) -> None:
    due = (
        WebhookDelivery.objects.filter(
            pk=delivery_id, state=State.PENDING, next_try_at__gt=now
        )
        .values_list("next_try_at", flat=True)
        .first()
    )
    if due:
        tasks.deliver_webhook.using(run_after=due).enqueue(delivery_id)


# Operators ---------------------------------------------------------------------------


def send_again(deliveries: Any, *, now: datetime | None = None) -> int:
    """The admin's "send again": each delivery not being sent right now is sent
    once more, soon, with the same webhook-id and body, and retried for another
    WEBHOOK_RETRY_HOURS. Returns how many."""
    now = now or timezone.now()
    count = 0
    for pk in deliveries.exclude(state=State.SENDING).values_list("pk", flat=True):
        with transaction.atomic():
            moved = (
                WebhookDelivery.objects.filter(pk=pk)
                .exclude(state=State.SENDING)
                .update(
                    state=State.PENDING,
                    next_try_at=None,
                    give_up_at=now + timedelta(hours=settings.WEBHOOK_RETRY_HOURS),
                )
            )
            if moved:
                tasks.deliver_webhook.enqueue(pk)
                count += moved
    return count


def recover_abandoned(*, now: datetime | None = None) -> int:
    """Put back every send whose worker stopped mid-way (its claim is over): it
    may or may not have arrived, and is sent again (at least once). Returns how
    many."""
    now = now or timezone.now()
    count = 0
    stale = WebhookDelivery.objects.filter(state=State.SENDING, claimed_until__lt=now)
    for pk in stale.values_list("pk", flat=True):
        with transaction.atomic():
            if (
                WebhookDelivery.objects.filter(pk=pk, state=State.SENDING)
                .filter(claimed_until__lt=now)
                .update(
                    state=State.PENDING,
                    claimed_until=None,
                    next_try_at=None,
                    last_error="worker stopped while sending; sent again",
                )
            ):
                tasks.deliver_webhook.enqueue(pk)
                count += 1
    if count:
        logger.warning("%d webhook(s) left half-sent by a stopped worker.", count)
    return count


def queue_forgotten(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Queue a task again for every waiting delivery due for a while (its task was
    lost with a worker that died). Returns how many."""
    now = now or timezone.now()
    cutoff = now - older_than
    waiting = WebhookDelivery.objects.filter(state=State.PENDING).filter(
        Q(next_try_at__lt=cutoff) | Q(next_try_at__isnull=True, created_at__lt=cutoff)
    )
    count = 0
    for pk in waiting.values_list("pk", flat=True):
        tasks.deliver_webhook.enqueue(pk)
        count += 1
    return count


def waiting() -> bool:
    """Whether any delivery still waits to be sent or is being sent."""
    return WebhookDelivery.objects.filter(
        state__in=(State.PENDING, State.SENDING)
    ).exists()


# HTTP: a deadline on the wall clock, and the address connected to ------------------


class AddressRefused(Exception):
    """The webhook's host is at an address webhooks may not reach (targets)."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.address = address


_local = threading.local()


class _Deadline:
    """Ends one try at its deadline: the connections made in this thread during
    the try register their sockets, which are shut down when the time is up (a
    receiver that trickles its answer a byte at a time never holds a thread)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        _local.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        _local.deadline = None
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError, ValueError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _CheckedConnection:
    """Checks the address actually connected to, before anything is sent (before
    TLS too), and puts the socket under the try's deadline."""

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        deadline = getattr(_local, "deadline", None)
        if deadline is not None:
            deadline.watch(sock)
        address = sock.getpeername()[0]
        if not targets.address_allowed(address):
            sock.close()
            raise AddressRefused(address)
        return sock


class _CheckedHTTPConnection(_CheckedConnection, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnection, HTTPSConnection):
    pass


class _CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    """requests' adapter with the checked connections and no retries of its own
    (a retry is the delivery's business, with its backoff)."""

    def __init__(self) -> None:
        super().__init__(max_retries=Retry(total=0, read=False, redirect=False))

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPConnectionPool,
            "https": _CheckedHTTPSConnectionPool,
        }
