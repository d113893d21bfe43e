"""Verification sessions: created for an integrator, opened by the applicant,
followed to the outcome.

A session's status is what the integrator sees (`GET /api/v1/sessions/<id>` and
every webhook):

    created -> in_progress (the applicant opened the URL) -> verifying (sent)
      -> verified | not_verified | needs_review | failed
    needs_review -> approved | rejected             (by a compliance reviewer)
    not_verified | rejected -> verifying            ("fix and send again")
    failed -> verifying                             (the applicant's "try again")
    created | in_progress -> expired                (unused at expiresAt)

Every change goes through `move`, inside the transaction of what caused it, and
writes the webhook delivery with it (webhooks.queue_event): a change is never
without its event, and an event never without its change. The attempt's side
calls `attempt_changed` wherever an attempt's status changes (verifying,
recovery, reviews, submission).

A session leads to at most one attempt at a time: the first is accepted while the
session is unused and not expired; another only as the correction ("fix and send
again") of the current one once it is not verified or rejected.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from verification import tasks
from verification.integrations import webhooks
from verification.integrations.models import ApiKey, VerificationSession
from verification.models import Attempt

logger = logging.getLogger(__name__)

Status = VerificationSession.Status

IDEMPOTENCY_WINDOW = timedelta(hours=24)
LINK_SALT = "verification.integrations.session-link"
# The attempt statuses as the integrator sees them.
FROM_ATTEMPT = {
    Attempt.Status.QUEUED: Status.VERIFYING,
    Attempt.Status.VERIFYING: Status.VERIFYING,
    Attempt.Status.VERIFIED: Status.VERIFIED,
    Attempt.Status.NOT_VERIFIED: Status.NOT_VERIFIED,
    Attempt.Status.NEEDS_REVIEW: Status.NEEDS_REVIEW,
    Attempt.Status.APPROVED: Status.APPROVED,
    Attempt.Status.REJECTED: Status.REJECTED,
    Attempt.Status.FAILED: Status.FAILED,
}
# Attempts a session accepts a correction of.
CORRECTABLE = (Attempt.Status.NOT_VERIFIED, Attempt.Status.REJECTED)
PREFILL_FIELDS = ("fullName", "emailAddress", "phoneNumber")


class SessionClosed(Exception):
    """The session takes no new attempt now: one is in progress or decided, or
    the session expired unused."""

    def __init__(self, session: VerificationSession) -> None:
        super().__init__(f"Session {session.code} takes no new attempt now.")
        self.session = session


class NotCreated(Exception):
    """The session was not created: `created_if` said no (a rate limit)."""


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was used in the last 24 hours for another request."""


@dataclass(frozen=True)
class SessionRequest:
    """What `POST /api/v1/sessions` asked for, checked (see views)."""

    external_reference: str
    return_url: str = ""
    language: str = "id"
    prefill: dict[str, str] = field(default_factory=dict)

    def digest(self) -> str:
        """A keyed digest of the request, to recognise the same one again; keyed,
        since the prefill is identity data."""
        canonical = json.dumps(
            [self.external_reference, self.return_url, self.language, self.prefill],
            sort_keys=True,
            separators=(",", ":"),
        )
        key = settings.NIK_LOOKUP_KEY.encode()
        message = b"idempotency\x00" + canonical.encode()
        return hmac.new(key, message, hashlib.sha256).hexdigest()


# Creating ----------------------------------------------------------------------------


def create_session(
    *,
    api_key: ApiKey,
    request: SessionRequest,
    idempotency_key: str | None = None,
    created_if: Callable[[], bool] | None = None,
    now: datetime | None = None,
) -> tuple[VerificationSession, bool]:
    """A new session for `api_key`; returns (session, created). With an
    `idempotency_key` used by this key in the last 24 hours for the same request,
    the session it made, created=False (also when both requests arrive at once).
    Raises IdempotencyKeyReused when that key came with another request, and
    NotCreated when a new session was needed and `created_if()` is false."""
    digest = request.digest()
    for _ in range(2):
        now = now or timezone.now()
        try:
            with transaction.atomic():
                if idempotency_key is not None:
                    earlier = _earlier(api_key, idempotency_key, now)
                    if earlier is not None:
                        if earlier.request_digest != digest:
                            raise IdempotencyKeyReused
                        return earlier, False
                if created_if is not None and not created_if():
                    raise NotCreated
                session = VerificationSession.objects.create(
                    api_key=api_key,
                    external_reference=request.external_reference,
                    return_url=request.return_url,
                    language=request.language,
                    prefill=dict(request.prefill),
                    idempotency_key=idempotency_key,
                    request_digest=digest if idempotency_key is not None else "",
                    created_at=now,
                    expires_at=now
                    + timedelta(hours=settings.API_SESSION_LIFETIME_HOURS),
                    status_changed_at=now,
                )
                # With the session: it expires even if no one ever opens it.
                tasks.expire_session.using(
                    run_after=session.expires_at + timedelta(seconds=1)
                ).enqueue(session.pk)
        except IntegrityError:
            # The same key, sent twice at once: the other request's session won.
            continue
        logger.info("Session %s created for API key %s.", session.code, api_key.prefix)
        return session, True
    earlier = _earlier(api_key, idempotency_key or "", timezone.now())
    if earlier is None or earlier.request_digest != digest:
        raise IdempotencyKeyReused
    return earlier, False


def _earlier(
    api_key: ApiKey, idempotency_key: str, now: datetime
) -> VerificationSession | None:
    """The session made with this key in the window; a key older than the window
    is released, so that it can make a new one."""
    found = (
        VerificationSession.objects.select_for_update()
        .filter(api_key=api_key, idempotency_key=idempotency_key)
        .first()
    )
    if found is None:
        return None
    if found.created_at >= now - IDEMPOTENCY_WINDOW:
        return found
    VerificationSession.objects.filter(pk=found.pk).update(idempotency_key=None)
    return None


# The applicant's link ----------------------------------------------------------------


def link_token(session: VerificationSession) -> str:
    """The session URL's token: the session's code, signed. The code alone (which
    the integrator's return URL shows) does not open the form; the token does, until
    the session expires. The same session always has the same URL."""
    return signing.Signer(salt=LINK_SALT).sign(str(session.code))


def from_link_token(token: str) -> VerificationSession | None:
    try:
        code = UUID(signing.Signer(salt=LINK_SALT).unsign(token))
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return (
        VerificationSession.objects.select_related("api_key", "attempt")
        .filter(code=code)
        .first()
    )


def link(session: VerificationSession) -> str:
    """The absolute URL to send the applicant to."""
    return settings.SITE_URL + reverse("session_open", args=[link_token(session)])


def of_attempt(attempt: Attempt) -> VerificationSession | None:
    """The session whose current attempt this is, if any."""
    return (
        VerificationSession.objects.select_related("api_key")
        .filter(attempt_id=attempt.pk)
        .first()
    )


def return_link(session: VerificationSession) -> str:
    """The integrator's return URL with `session=<id>` added, or "" without one."""
    if not session.return_url:
        return ""
    parts = urlsplit(session.return_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    query = [(k, v) for k, v in query if k != "session"]
    query.append(("session", str(session.code)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def open_form(session: VerificationSession, *, now: datetime | None = None) -> bool:
    """The applicant opened the session URL: whether the form may be shown (the
    session is unused and not expired). The first opening moves it to
    `in_progress`."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = VerificationSession.objects.select_for_update().get(pk=session.pk)
        if locked.status not in VerificationSession.UNUSED or now >= locked.expires_at:
            return False
        if locked.opened_at is None:
            locked.opened_at = now
            locked.save(update_fields=["opened_at"])
            move(locked, Status.IN_PROGRESS, now=now)
    return True


# Attempts in a session ---------------------------------------------------------------


def lock_for_submission(
    session: VerificationSession,
    *,
    retry_of: Attempt | None,
    now: datetime | None = None,
) -> VerificationSession:
    """Hold the session for an attempt about to be stored in it (call inside the
    submission's transaction). Raises SessionClosed when the session takes no
    new attempt now."""
    now = now or timezone.now()
    locked = (
        VerificationSession.objects.select_for_update(of=("self",))
        .select_related("attempt")
        .get(pk=session.pk)
    )
    current = locked.attempt
    if current is None:
        usable = locked.status in VerificationSession.UNUSED and now < locked.expires_at
    else:
        usable = (
            retry_of is not None
            and retry_of.pk == current.pk
            and current.status in CORRECTABLE
        )
    if not usable:
        raise SessionClosed(locked)
    return locked


def attach(
    session: VerificationSession, attempt: Attempt, *, now: datetime | None = None
) -> None:
    """Make `attempt` the session's current attempt (inside the submission's
    transaction, after lock_for_submission). The prefill is no longer needed:
    the attempt holds what was sent."""
    session.attempt = attempt
    session.prefill = {}
    session.save(update_fields=["attempt", "prefill"])
    move(session, FROM_ATTEMPT[Attempt.Status(attempt.status)], now=now)


def attempt_changed(attempt: Attempt, *, now: datetime | None = None) -> None:
    """Where every attempt's status change is reported, inside its transaction:
    the session whose current attempt it is moves with it."""
    session = (
        VerificationSession.objects.select_for_update()
        .filter(attempt_id=attempt.pk)
        .first()
    )
    if session is None:
        return
    session.attempt = attempt
    move(session, FROM_ATTEMPT[Attempt.Status(attempt.status)], now=now)


def expire(*, session_id: int, now: datetime | None = None) -> bool:
    """Expire a session still unused at its expiry (and forget its prefill).
    Does nothing otherwise; returns whether it expired it."""
    now = now or timezone.now()
    with transaction.atomic():
        session = (
            VerificationSession.objects.select_for_update()
            .filter(
                pk=session_id,
                status__in=VerificationSession.UNUSED,
                attempt__isnull=True,
                expires_at__lte=now,
            )
            .first()
        )
        if session is None:
            return False
        session.prefill = {}
        session.save(update_fields=["prefill"])
        move(session, Status.EXPIRED, now=session.expires_at)
    return True


def expire_due(*, now: datetime | None = None) -> int:
    """Expire every session past its expiry and still unused (their tasks may
    have been lost with a worker). Returns how many."""
    now = now or timezone.now()
    due = VerificationSession.objects.filter(
        status__in=VerificationSession.UNUSED,
        attempt__isnull=True,
        expires_at__lte=now,
    ).values_list("pk", flat=True)
    return sum(expire(session_id=pk, now=now) for pk in list(due))


def move(
    session: VerificationSession, status: str, *, now: datetime | None = None
) -> bool:
    """Set the session's status (the caller holds its row, inside the
    transaction of the change) and, when it changed, write its webhook event.
    Returns whether it changed."""
    if session.status == status:
        return False
    now = now or timezone.now()
    session.status = status
    # Strictly later than the previous change, so receivers can order events.
    session.status_changed_at = max(
        now, session.status_changed_at + timedelta(microseconds=1)
    )
    session.save(update_fields=["status", "status_changed_at"])
    webhooks.queue_event(session, body=representation(session), now=now)
    logger.info("Session %s: %s.", session.code, status)
    return True


# What the integrator sees ------------------------------------------------------------


def status_of(session: VerificationSession, now: datetime | None = None) -> str:
    """The status now: an unused session past its expiry is `expired`, even
    before its expiry task has run."""
    now = now or timezone.now()
    if session.status in VerificationSession.UNUSED and now >= session.expires_at:
        return Status.EXPIRED
    return session.status


def representation(
    session: VerificationSession, *, now: datetime | None = None
) -> dict[str, Any]:
    """The body of `GET /api/v1/sessions/<id>` and the `data` of every webhook:
    statuses, the provider's reference id, the reviewer's decision and reason
    codes. Never a photo, never the NIK, never anything the applicant typed."""
    status = status_of(session, now)
    attempt = session.attempt
    decision = None
    if attempt is not None and status in (Status.APPROVED, Status.REJECTED):
        decided = attempt.latest_decision
        if decided is not None:
            decision = {
                "outcome": decided.decision,
                "reason": decided.reason or None,
                "decidedAt": iso(decided.decided_at),
            }
    updated = session.status_changed_at
    if status == Status.EXPIRED and session.status != Status.EXPIRED:
        updated = session.expires_at
    return {
        "id": str(session.code),
        "externalReference": session.external_reference,
        "status": str(status),
        "rejectFields": list(attempt.reject_fields) if attempt is not None else [],
        "referenceId": (attempt.reference_id or None) if attempt is not None else None,
        "decision": decision,
        "updatedAt": iso(updated),
    }


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds: `2026-12-01T08:30:00.000Z`."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
