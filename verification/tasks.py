"""Background verification: ask Kredibel about a stored attempt and record the answer.

The retry policy lives here, not in the client:

- 5xx, 429 and connection failures before the request was sent are retried with
  exponential backoff and jitter (429 waits at least its Retry-After), up to
  VERIFY_MAX_TRIES calls in all; then the attempt is `failed`.
- A validation answer (4xx) fails at once: our request was wrong and sending it again
  would not change that. The provider's field messages are kept for operators.
- A call whose answer was lost (read timeout, connection dropped after sending, or a
  worker that stopped mid-call) may have been charged. It is repeated at most
  VERIFY_UNKNOWN_OUTCOME_REPEATS times, after VERIFY_UNKNOWN_DELAY_SECONDS, and every
  such call is recorded with `charged = unknown`. Past that the attempt is `failed`
  and the applicant decides whether to try again.
- A worker holds an attempt under a lease longer than any call can take. When it
  claims one, it also schedules `recover_attempt` for the moment the lease ends; if
  the worker died, that task finds the attempt still `verifying` and picks it up again.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.tasks import task
from django.utils import timezone

from verification import kredibel
from verification.emails import send_outcome_email
from verification.models import Applicant, Attempt, ProviderCall, nik_digest

logger = logging.getLogger(__name__)

Status = Attempt.Status
Outcome = ProviderCall.Outcome

NIK_LIMIT_WINDOW = timedelta(hours=24)
# Failures that need an operator: the request, the key or the address is wrong.
OUR_FAULT = (
    Attempt.Failure.INVALID_REQUEST,
    Attempt.Failure.AUTHENTICATION,
    Attempt.Failure.MALFORMED_RESPONSE,
    Attempt.Failure.CONFIGURATION,
)
STALLED_AFTER = timedelta(minutes=10)

RESULT_STATUS = {
    kredibel.Status.VERIFIED: Status.VERIFIED,
    kredibel.Status.NOT_VERIFIED: Status.NOT_VERIFIED,
    kredibel.Status.VERIFIED_WITH_REASON: Status.NEEDS_REVIEW,
}


@task()
def verify(attempt_id: int) -> None:
    verify_attempt(attempt_id=attempt_id)


@task()
def recover(attempt_id: int) -> None:
    recover_attempt(attempt_id=attempt_id)


class LimitReached(Exception):
    """The NIK has used up its attempts for the last 24 hours."""


def attempts_left_for_nik(nik: str) -> tuple[int, datetime | None]:
    """How many attempts this NIK may still make now, and when the next one frees
    up if none is left (ATTEMPTS_PER_NIK_PER_DAY in any 24 hours)."""
    limit = settings.ATTEMPTS_PER_NIK_PER_DAY
    recent = list(
        Attempt.objects.filter(
            applicant__nik_digest=nik_digest(nik),
            created_at__gte=timezone.now() - NIK_LIMIT_WINDOW,
        )
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    left = limit - len(recent)
    if left > 0:
        return left, None
    return 0, recent[len(recent) - limit] + NIK_LIMIT_WINDOW


def submit_attempt(
    *,
    nik: str,
    full_name: str,
    birth_date: date,
    email_address: str,
    phone_number: str,
    face_image: bytes,
    identity_image: bytes,
    consent_version: str,
    language: str,
    submission: uuid.UUID,
    browser: str = "",
    birth_date_confirmed: bool = False,
    retry_of: Attempt | None = None,
) -> tuple[Attempt, bool]:
    """Store an attempt and queue its verification; returns (attempt, created).

    The same `submission` (one form, sent twice by a double click or a resubmit)
    gives back the attempt it already made. Raises LimitReached when the NIK has no
    attempts left.
    """
    for _ in range(2):
        existing = Attempt.objects.filter(submission=submission).first()
        if existing:
            return existing, False
        try:
            with transaction.atomic():
                applicant = Applicant.for_nik(nik)
                # Hold the applicant row while counting, so that two simultaneous
                # submissions cannot both slip under the limit.
                Applicant.objects.select_for_update().filter(pk=applicant.pk).first()
                if attempts_left_for_nik(nik)[0] <= 0:
                    raise LimitReached
                now = timezone.now()
                attempt = Attempt(
                    applicant=applicant,
                    retry_of=retry_of,
                    full_name=full_name,
                    birth_date=birth_date,
                    email_address=email_address,
                    phone_number=phone_number,
                    birth_date_confirmed=birth_date_confirmed,
                    consent_version=consent_version,
                    consented_at=now,
                    language=language,
                    submission=submission,
                    browser=browser,
                    created_at=now,
                )
                attempt.face_image.save("face.jpg", ContentFile(face_image), save=False)
                attempt.identity_image.save(
                    "identity.jpg", ContentFile(identity_image), save=False
                )
                attempt.save()
                enqueue_verification(attempt)
                return attempt, True
        except IntegrityError:
            # Another request created the same applicant or the same attempt at
            # the same moment; look again.
            continue
    return Attempt.objects.get(submission=submission), False


def enqueue_verification(attempt: Attempt) -> None:
    """Queue the attempt's verification once the current transaction commits."""
    attempt_id = attempt.pk
    transaction.on_commit(lambda: verify.enqueue(attempt_id))


def verify_attempt(*, attempt_id: int) -> None:
    """Claim a queued attempt, call the provider once, record the call and act on it.

    Does nothing when the attempt is not queued (already taken, finished, or waiting
    for a later try): a duplicate task never causes a second call.
    """
    now = timezone.now()
    lease = uuid.uuid4()
    lease_expires_at = now + timedelta(seconds=settings.VERIFY_LEASE_SECONDS)
    # The claim and the task that recovers it commit together: a worker that dies
    # right after claiming still leaves a way back.
    with transaction.atomic():
        claimed = (
            Attempt.objects.filter(pk=attempt_id, status=Status.QUEUED)
            .filter(Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))
            .update(
                status=Status.VERIFYING,
                lease_token=lease,
                lease_expires_at=lease_expires_at,
                tries=F("tries") + 1,
                updated_at=now,
            )
        )
        if not claimed:
            return
        recover.using(run_after=lease_expires_at + timedelta(seconds=1)).enqueue(
            attempt_id
        )

    attempt = Attempt.objects.select_related("applicant").get(pk=attempt_id)
    request = issuance_request(attempt)
    # Record, then call, then record the outcome: a call is on file even if this
    # worker dies while waiting for the answer.
    call = ProviderCall.objects.create(attempt=attempt)
    try:
        result = kredibel.get_client().issue_certificate(request)
    except kredibel.KredibelError as error:
        _record_error(call, error)
        _after_error(attempt, error, lease)
    else:
        _record_result(call, result)
        _after_result(attempt, result, lease)


def issuance_request(attempt: Attempt) -> kredibel.IssuanceRequest:
    with (
        attempt.face_image.open("rb") as face,
        attempt.identity_image.open("rb") as ktp,
    ):
        face_bytes, ktp_bytes = face.read(), ktp.read()
    return kredibel.IssuanceRequest(
        identity_id=attempt.applicant.nik,
        full_name=attempt.full_name,
        birth_date=attempt.birth_date,
        email_address=attempt.email_address,
        phone_number=attempt.phone_number,
        face_image=face_bytes,
        identity_image=ktp_bytes,
    )


def recover_attempt(*, attempt_id: int) -> None:
    """Pick up an attempt whose worker stopped while holding it.

    A call left pending by that worker is marked lost (it may have been charged) and
    counts as a lost answer under the same policy as a read timeout.
    """
    now = timezone.now()
    with transaction.atomic():
        attempt = (
            Attempt.objects.select_for_update()
            .filter(pk=attempt_id, status=Status.VERIFYING, lease_expires_at__lt=now)
            .first()
        )
        if attempt is None:
            return
        lost = attempt.calls.filter(outcome=Outcome.PENDING).update(
            outcome=Outcome.LOST, charged=ProviderCall.Charged.UNKNOWN
        )
        logger.warning(
            "Attempt %s: its worker stopped during verification; picking it up again.",
            attempt.code,
        )
        if lost:
            attempt.unknown_outcomes += 1
            if attempt.unknown_outcomes > settings.VERIFY_UNKNOWN_OUTCOME_REPEATS:
                _fail(attempt, Attempt.Failure.OUTCOME_UNKNOWN)
            else:
                _requeue(attempt, settings.VERIFY_UNKNOWN_DELAY_SECONDS)
        elif attempt.tries >= settings.VERIFY_MAX_TRIES:
            _fail(attempt, Attempt.Failure.PROVIDER_UNAVAILABLE)
        else:
            _requeue(attempt, 0)
    if attempt.status == Status.FAILED:
        _notify(attempt)


def recover_stalled_attempts(*, older_than: timedelta = STALLED_AFTER) -> int:
    """Queue again every attempt that should be moving and is not: queued but
    due for a while (its task was lost, say with a process that died between
    commit and enqueue), or verifying past its lease. Safe to run any time and
    anywhere: a claim lets only one worker call the provider. Returns how many."""
    now = timezone.now()
    cutoff = now - older_than
    queued = Attempt.objects.filter(status=Status.QUEUED).filter(
        Q(next_try_at__lt=cutoff) | Q(next_try_at__isnull=True, updated_at__lt=cutoff)
    )
    verifying = Attempt.objects.filter(
        status=Status.VERIFYING, lease_expires_at__lt=now
    )
    count = 0
    for attempt_id in queued.values_list("pk", flat=True):
        verify.enqueue(attempt_id)
        count += 1
    for attempt_id in verifying.values_list("pk", flat=True):
        recover.enqueue(attempt_id)
        count += 1
    return count


def retry_failed_attempt(attempt: Attempt) -> bool:
    """The applicant's "try again" on a failed attempt: nothing to re-enter, a fresh
    budget of automatic tries. Returns False when the attempt is not failed."""
    with transaction.atomic():
        updated = Attempt.objects.filter(pk=attempt.pk, status=Status.FAILED).update(
            status=Status.QUEUED,
            failure="",
            tries=0,
            unknown_outcomes=0,
            next_try_at=None,
            finished_at=None,
            applicant_retries=F("applicant_retries") + 1,
            updated_at=timezone.now(),
        )
        if updated:
            enqueue_verification(attempt)
    return bool(updated)


def backoff_seconds(tries: int) -> float:
    """Exponential backoff with jitter: half the step fixed, half random, so that
    attempts failed by one outage do not all come back at the same second."""
    step = min(
        settings.VERIFY_RETRY_MAX_SECONDS,
        settings.VERIFY_RETRY_BASE_SECONDS * 2 ** max(0, tries - 1),
    )
    return step / 2 + random.uniform(0, step / 2)  # noqa: S311 (not security)


def _record_result(call: ProviderCall, result: kredibel.IssuanceResult) -> None:
    call.outcome = Outcome(result.status.value)
    call.http_status = result.http_status
    call.duration_ms = round(result.duration * 1000)
    call.charged = ProviderCall.Charged.YES
    call.save()


def _record_error(call: ProviderCall, error: kredibel.KredibelError) -> None:
    call.outcome = error.outcome
    call.http_status = error.http_status
    call.duration_ms = round(error.duration * 1000)
    call.charged = (
        ProviderCall.Charged.UNKNOWN
        if error.may_have_been_charged
        else ProviderCall.Charged.NO
    )
    call.error_id = error.error_id or ""
    call.error_type = error.error_type or ""
    call.save()


def _after_result(
    attempt: Attempt, result: kredibel.IssuanceResult, lease: uuid.UUID
) -> None:
    now = timezone.now()
    status = RESULT_STATUS[result.status]
    updated = Attempt.objects.filter(pk=attempt.pk, lease_token=lease).update(
        status=status,
        provider_id=result.provider_id,
        reference_id=result.reference_id,
        reject_fields=list(result.reject_fields),
        error_id="",
        failure="",
        lease_token=None,
        lease_expires_at=None,
        next_try_at=None,
        finished_at=now,
        updated_at=now,
    )
    if not updated:
        logger.warning(
            "Attempt %s: answer arrived after the lease ended.", attempt.code
        )
        return
    attempt.refresh_from_db()
    logger.info("Attempt %s: %s.", attempt.code, status)
    _notify(attempt)


def _after_error(
    attempt: Attempt, error: kredibel.KredibelError, lease: uuid.UUID
) -> None:
    with transaction.atomic():
        attempt = (
            Attempt.objects.select_for_update()
            .filter(pk=attempt.pk, lease_token=lease)
            .first()
        )
        if attempt is None:
            logger.warning("Attempt: error arrived after the lease ended.")
            return
        attempt.error_id = error.error_id or attempt.error_id
        logger.warning(
            "Attempt %s: provider call failed (%s, HTTP %s, retryable=%s).",
            attempt.code,
            error.outcome,
            error.http_status,
            error.retryable,
        )
        if isinstance(error, kredibel.InvalidRequest):
            attempt.provider_field_errors = error.field_errors
            _fail(attempt, Attempt.Failure.INVALID_REQUEST)
        elif isinstance(error, kredibel.AuthenticationFailed):
            _fail(attempt, Attempt.Failure.AUTHENTICATION)
        elif isinstance(error, kredibel.MalformedResponse):
            _fail(attempt, Attempt.Failure.MALFORMED_RESPONSE)
        elif error.may_have_been_charged:
            attempt.unknown_outcomes += 1
            if attempt.unknown_outcomes > settings.VERIFY_UNKNOWN_OUTCOME_REPEATS:
                _fail(attempt, Attempt.Failure.OUTCOME_UNKNOWN)
            else:
                _requeue(attempt, settings.VERIFY_UNKNOWN_DELAY_SECONDS)
        elif not error.retryable:
            _fail(attempt, Attempt.Failure.CONFIGURATION)
        elif attempt.tries >= settings.VERIFY_MAX_TRIES:
            _fail(attempt, Attempt.Failure.PROVIDER_UNAVAILABLE)
        else:
            delay = backoff_seconds(attempt.tries)
            if isinstance(error, kredibel.RateLimited) and error.retry_after:
                delay = max(delay, error.retry_after)
            _requeue(attempt, delay)
    if attempt.status == Status.FAILED:
        if attempt.failure in OUR_FAULT:
            logger.error(
                "Attempt %s failed in a way retrying cannot fix (%s): check the "
                "configuration and the provider's field messages.",
                attempt.code,
                attempt.failure,
            )
        _notify(attempt)


def _fail(attempt: Attempt, failure: Attempt.Failure) -> None:
    now = timezone.now()
    attempt.status = Status.FAILED
    attempt.failure = failure
    attempt.lease_token = None
    attempt.lease_expires_at = None
    attempt.next_try_at = None
    attempt.finished_at = now
    attempt.save()


def _requeue(attempt: Attempt, delay: float) -> None:
    attempt.status = Status.QUEUED
    attempt.lease_token = None
    attempt.lease_expires_at = None
    attempt.next_try_at = timezone.now() + timedelta(seconds=delay)
    attempt.save()
    run_after = attempt.next_try_at
    attempt_id = attempt.pk
    transaction.on_commit(lambda: verify.using(run_after=run_after).enqueue(attempt_id))


def _notify(attempt: Attempt) -> None:
    send_outcome_email(attempt)
