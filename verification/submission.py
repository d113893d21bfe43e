"""Storing an applicant's attempt and queueing its verification; the limits that
keep the money safe; the applicant's own "try again".

No photo is ever kept without its row: the attempt's row is inserted before its
photos are read or written, and the photos written are deleted again if the
transaction does not commit. (A process that dies in between can still leave
files behind; the sweep removes them, see verification.recovery.)
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from verification import tasks
from verification.integrations import sessions
from verification.integrations.models import VerificationSession
from verification.ledger import local_midnight
from verification.lookups import address_digest, nik_digest
from verification.models import Applicant, Attempt, ClientAddress
from verification.queue import schedule_sweep

logger = logging.getLogger(__name__)

Status = Attempt.Status

NIK_LIMIT_WINDOW = timedelta(hours=24)
ADDRESS_LIMIT_WINDOW = timedelta(hours=1)
# Failures the applicant's "try again" may follow, and how many times.
RETRYABLE_BY_APPLICANT = (
    Attempt.Failure.PROVIDER_UNAVAILABLE,
    Attempt.Failure.OUTCOME_UNKNOWN,
    Attempt.Failure.AUTHENTICATION,
    Attempt.Failure.CONFIGURATION,
)
APPLICANT_RETRIES = 3

# A photo as bytes, or as a function that reads it: read only once the attempt's
# row is in, so that of two requests sending the same form, the one that lost
# never touches photos the winner has already cleared away.
PhotoSource = bytes | Callable[[], bytes]


class LimitReached(Exception):
    """A limit on sends is reached: this NIK from this browser, or this client
    address (see AddressLimitReached)."""


class AddressLimitReached(LimitReached):
    """The client address has sent VERIFICATIONS_PER_IP_PER_HOUR in the last hour."""


def attempts_left_for_nik(nik: str, *, browser: str) -> int:
    """How many attempts this NIK may still make from this browser now
    (ATTEMPTS_PER_NIK_PER_DAY in any 24 hours).

    Counted per browser, never over everyone: someone who knows another person's
    NIK can use up only their own browser's attempts, not that person's, and a
    refusal tells nothing of what anybody else sent. (A browser that drops its
    cookies starts again, and is held by the limit on its address instead.)
    Without a browser there is nothing to count by and no limit."""
    if not browser:
        return settings.ATTEMPTS_PER_NIK_PER_DAY
    sent = Attempt.objects.filter(
        applicant__nik_digest=nik_digest(nik),
        browser=browser,
        created_at__gte=timezone.now() - NIK_LIMIT_WINDOW,
    ).count()
    return max(0, settings.ATTEMPTS_PER_NIK_PER_DAY - sent)


def attempts_sent_today(*, browser: str) -> int:
    """Attempts this browser sent on the local calendar day (ATTEMPTS_PER_SESSION
    counts them)."""
    if not browser:
        return 0
    midnight = local_midnight(timezone.localdate())
    return Attempt.objects.filter(browser=browser, created_at__gte=midnight).count()


def sends_left_from(client_address: str, *, now: datetime | None = None) -> int:
    """How many attempts the client address (verification.clients) may still send
    now: VERIFICATIONS_PER_IP_PER_HOUR in any hour, whatever its cookies say.
    Without an address (not a web request) there is no limit."""
    limit = settings.VERIFICATIONS_PER_IP_PER_HOUR
    if not client_address:
        return limit
    sent = Attempt.objects.filter(
        client_digest=address_digest(client_address),
        created_at__gte=(now or timezone.now()) - ADDRESS_LIMIT_WINDOW,
    ).count()
    return max(0, limit - sent)


def submit_attempt(
    *,
    nik: str,
    full_name: str,
    birth_date: date,
    email_address: str,
    phone_number: str,
    face_image: PhotoSource,
    identity_image: PhotoSource,
    consent_version: str,
    language: str,
    submission: uuid.UUID,
    browser: str = "",
    client_address: str = "",
    birth_date_confirmed: bool = False,
    retry_of: Attempt | None = None,
    photo_warnings: Sequence[str] = (),
    session: VerificationSession | None = None,
) -> tuple[Attempt, bool]:
    """Store an attempt and queue its verification; returns (attempt, created).

    `photo_warnings` are the codes of the photo quality warnings the applicant saw
    and chose to send anyway (onboarding.quality), kept for reviewers.

    The same `submission` (one form, sent twice by a double click or a resubmit)
    gives back the attempt it already made, even when both requests arrive at
    once: the second waits for the first at the database. Raises LimitReached when
    the NIK has no attempts left from this `browser`, AddressLimitReached when
    `client_address` (verification.clients.client_address of the request; empty
    when the send is not a web request) has sent its attempts for the hour. Both
    are counted while holding the applicant's and the address's rows, so that two
    sends at once cannot both slip under a limit.

    With an integrator's `session`, the attempt becomes the session's (its first,
    or the correction of its current one: `retry_of`); raises
    integrations.sessions.SessionClosed when the session takes no new attempt now.
    """
    client_digest = address_digest(client_address) if client_address else ""
    for _ in range(2):
        existing = Attempt.objects.filter(submission=submission).first()
        if existing:
            return existing, False
        written: list[FieldFile] = []
        try:
            with transaction.atomic():
                now = timezone.now()
                # The address's row first, then the applicant's (always in this
                # order): held while counting, so that two simultaneous sends
                # cannot both slip under a limit.
                if client_digest:
                    ClientAddress.hold(client_digest, now=now)
                applicant = Applicant.for_nik(nik)
                Applicant.objects.select_for_update().filter(pk=applicant.pk).first()
                # The same form, sent again while this one waited for that lock.
                existing = Attempt.objects.filter(submission=submission).first()
                if existing:
                    return existing, False
                if sends_left_from(client_address, now=now) <= 0:
                    raise AddressLimitReached
                if attempts_left_for_nik(nik, browser=browser) <= 0:
                    raise LimitReached
                if session is not None:
                    session = sessions.lock_for_submission(session, retry_of=retry_of)
                attempt = Attempt(
                    applicant=applicant,
                    retry_of=retry_of,
                    full_name=full_name,
                    birth_date=birth_date,
                    email_address=email_address,
                    phone_number=phone_number,
                    birth_date_confirmed=birth_date_confirmed,
                    photo_warnings=list(photo_warnings),
                    consent_version=consent_version,
                    consented_at=now,
                    language=language,
                    submission=submission,
                    browser=browser,
                    client_digest=client_digest,
                    created_at=now,
                )
                # The row first: a second request for the same submission fails
                # here (or waits here for this one), before any file exists.
                attempt.save()
                for field, source, name in (
                    (attempt.face_image, face_image, "face.jpg"),
                    (attempt.identity_image, identity_image, "identity.jpg"),
                ):
                    data = source if isinstance(source, bytes) else source()
                    field.save(name, ContentFile(data), save=False)
                    written.append(field)
                attempt.save(update_fields=["face_image", "identity_image"])
                if session is not None:
                    sessions.attach(session, attempt, now=now)
                enqueue_verification(attempt)
                # In the same transaction as the attempt: even if this process
                # dies before its verification is queued, a sweep will find it.
                schedule_sweep()
        except IntegrityError:
            # Another request created the same applicant or the same attempt at
            # the same moment; look again.
            _delete(written)
            continue
        except BaseException:
            _delete(written)
            raise
        return attempt, True
    return Attempt.objects.get(submission=submission), False


def _delete(files: list[FieldFile]) -> None:
    for field in files:
        if field.name:
            with suppress(OSError):
                field.storage.delete(field.name)


def enqueue_verification(attempt: Attempt) -> None:
    """Queue the attempt's verification with the current transaction (the queue
    is in the same database: the task commits with the attempt, or neither)."""
    tasks.verify.enqueue(attempt.pk)


def can_retry(attempt: Attempt) -> bool:
    """Whether the applicant may try a failed attempt again: only when the failure
    was the provider's or a configuration since fixed, never for a request the
    provider refused as invalid or an answer it sent garbled (those need us), and
    at most APPLICANT_RETRIES times."""
    return (
        attempt.status == Status.FAILED
        and attempt.failure in RETRYABLE_BY_APPLICANT
        and attempt.applicant_retries < APPLICANT_RETRIES
        and attempt.photos_deleted_at is None
        and attempt.redacted_at is None
    )


def retry_failed_attempt(attempt: Attempt) -> bool:
    """The applicant's "try again" on a failed attempt: nothing to re-enter, a fresh
    budget of automatic tries. Calls whose answer was lost keep counting, so each
    try again allows at most one more call that may be charged. Returns False when
    the attempt may not be retried."""
    if not can_retry(attempt):
        return False
    with transaction.atomic():
        updated = Attempt.objects.filter(
            pk=attempt.pk,
            status=Status.FAILED,
            # A late answer may have decided it since the page was shown.
            provider_id="",
            applicant_retries__lt=APPLICANT_RETRIES,
            # Retention or an erasure may have removed what would be sent.
            photos_deleted_at__isnull=True,
            redacted_at__isnull=True,
        ).update(
            status=Status.QUEUED,
            failure="",
            tries=0,
            next_try_at=None,
            finished_at=None,
            applicant_retries=F("applicant_retries") + 1,
            updated_at=timezone.now(),
        )
        if updated:
            attempt.refresh_from_db()
            sessions.attempt_changed(attempt)
            enqueue_verification(attempt)
            schedule_sweep()
    return bool(updated)
