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
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.tasks import task
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from verification import kredibel
from verification.emails import send_outcome_email
from verification.models import Applicant, Attempt, ProviderCall, nik_digest
from verification.queue import enqueue_once

logger = logging.getLogger(__name__)

Status = Attempt.Status
Outcome = ProviderCall.Outcome

NIK_LIMIT_WINDOW = timedelta(hours=24)
# Failures the applicant's "try again" may follow, and how many times.
RETRYABLE_BY_APPLICANT = (
    Attempt.Failure.PROVIDER_UNAVAILABLE,
    Attempt.Failure.OUTCOME_UNKNOWN,
    Attempt.Failure.AUTHENTICATION,
    Attempt.Failure.CONFIGURATION,
)
APPLICANT_RETRIES = 3
# The longest a provider's Retry-After is honoured; a wilder value is a defect.
RETRY_AFTER_CAP_SECONDS = 3600
# Failures that need an operator: the request, the key or the address is wrong.
OUR_FAULT = (
    Attempt.Failure.INVALID_REQUEST,
    Attempt.Failure.AUTHENTICATION,
    Attempt.Failure.MALFORMED_RESPONSE,
    Attempt.Failure.CONFIGURATION,
)
STALLED_AFTER = timedelta(minutes=10)
SWEEP_EVERY = timedelta(minutes=5)

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


@task()
def sweep() -> None:
    """Every SWEEP_EVERY while attempts are in flight: queue again what stalled,
    and drop the queue's finished records after a week."""
    recover_stalled_attempts()
    call_command("prune_db_task_results", min_age_days=7, queue_name="*", verbosity=0)
    if Attempt.objects.filter(status__in=Attempt.IN_PROGRESS).exists():
        schedule_sweep()


def schedule_sweep() -> None:
    """Make sure a sweep is coming (one, however many workers and requests ask)."""
    enqueue_once(sweep, run_after=timezone.now() + SWEEP_EVERY)


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
    photo_warnings: Sequence[str] = (),
) -> tuple[Attempt, bool]:
    """Store an attempt and queue its verification; returns (attempt, created).

    `photo_warnings` are the codes of the photo quality warnings the applicant saw
    and chose to send anyway (onboarding.quality), kept for reviewers.

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
                    photo_warnings=list(photo_warnings),
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
                # In the same transaction as the attempt: even if this process
                # dies before its verification is queued, a sweep will find it.
                schedule_sweep()
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
            _come_back_later(attempt_id, now)
            return
        recover.using(run_after=lease_expires_at + timedelta(seconds=1)).enqueue(
            attempt_id
        )

    attempt = Attempt.objects.select_related("applicant").get(pk=attempt_id)
    request = issuance_request(attempt)
    # Record, then call, then record the outcome: a call is on file even if this
    # worker dies while waiting for the answer. The outcome and what it does to the
    # attempt commit together, so no answer is ever on file without its effect.
    call = ProviderCall.objects.create(attempt=attempt)
    try:
        result = kredibel.get_client().issue_certificate(request)
    except kredibel.KredibelError as error:
        with transaction.atomic():
            _record_error(call, error)
            settled = _after_error(attempt, error, lease)
    else:
        with transaction.atomic():
            _record_result(call, result)
            settled = _after_result(attempt, result)
    if settled and settled.status != Status.QUEUED:
        _notify(settled)


def _come_back_later(attempt_id: int, now: datetime) -> None:
    """A task that arrived before the attempt's next try (another host's clock,
    a duplicate) leaves a task for the right moment instead of dropping it."""
    due = (
        Attempt.objects.filter(pk=attempt_id, status=Status.QUEUED, next_try_at__gt=now)
        .values_list("next_try_at", flat=True)
        .first()
    )
    if due:
        verify.using(run_after=due).enqueue(attempt_id)


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


def can_retry(attempt: Attempt) -> bool:
    """Whether the applicant may try a failed attempt again: only when the failure
    was the provider's or a configuration since fixed, never for a request the
    provider refused as invalid or an answer it sent garbled (those need us), and
    at most APPLICANT_RETRIES times."""
    return (
        attempt.status == Status.FAILED
        and attempt.failure in RETRYABLE_BY_APPLICANT
        and attempt.applicant_retries < APPLICANT_RETRIES
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
            applicant_retries__lt=APPLICANT_RETRIES,
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
            enqueue_verification(attempt)
    return bool(updated)


def run_due_tasks() -> None:
    """Run every task that is due, in this process, the way `db_worker --batch`
    does (without touching the process's signal handlers). For tests and the demo
    data; applications run `manage.py db_worker`."""
    Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=f"in-process-{uuid.uuid4().hex[:8]}",
        excluded_queue_names=[],
    ).run()


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
    # Informational, and free text from the provider: kept within the columns.
    call.error_id = (error.error_id or "")[:64]
    call.error_type = (error.error_type or "")[:100]
    call.save()


def _after_result(attempt: Attempt, result: kredibel.IssuanceResult) -> Attempt | None:
    """Apply a definite answer, even one that arrives after the lease ended: the
    call was paid for, and the repeat that recovery queued then has nothing to do.
    Returns the updated attempt, or None when it was already finished."""
    now = timezone.now()
    status = RESULT_STATUS[result.status]
    updated = Attempt.objects.filter(
        pk=attempt.pk, status__in=Attempt.IN_PROGRESS
    ).update(
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
        logger.warning("Attempt %s: an answer arrived after it finished.", attempt.code)
        return None
    attempt.refresh_from_db()
    logger.info("Attempt %s: %s.", attempt.code, status)
    return attempt


def _after_error(
    attempt: Attempt, error: kredibel.KredibelError, lease: uuid.UUID
) -> Attempt | None:
    """Apply the retry policy to a failed call. Returns the updated attempt, or
    None when this worker no longer holds it (recovery has taken over)."""
    attempt = (
        Attempt.objects.select_for_update()
        .filter(pk=attempt.pk, lease_token=lease)
        .first()
    )
    if attempt is None:
        logger.warning("A failed call came back after its attempt was taken over.")
        return None
    attempt.error_id = (error.error_id or attempt.error_id)[:64]
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
            delay = max(delay, min(error.retry_after, RETRY_AFTER_CAP_SECONDS))
        _requeue(attempt, delay)
    if attempt.failure in OUR_FAULT:
        logger.error(
            "Attempt %s failed in a way retrying cannot fix (%s): check the "
            "configuration and the provider's field messages.",
            attempt.code,
            attempt.failure,
        )
    return attempt


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
