"""One verification: claim a queued attempt, call the provider once, save the
answer, act on it.

The order is what keeps the money safe:

1. The claim moves the attempt to `verifying` under a lease (VERIFY_LEASE_SECONDS:
   the call deadline plus a margin) and, in the same transaction, queues the task
   that recovers it when the lease ends, in case this worker dies.
2. A ProviderCall is on file before the request leaves.
3. The call ends by KREDIBEL_CALL_DEADLINE on the wall clock, whatever the provider
   does; so a live worker always finishes within its lease.
4. The answer is saved on the call's record first, through database blips
   (`durably`: a fresh connection, bounded retries). Then it is applied.
5. A definite answer is applied whatever the attempt's state is by then (queued for
   a repeat, `failed/outcome_unknown`, held by another worker): it was paid for.
   The first one decides the attempt; any later one is kept and flagged as a
   duplicate purchase. A failed call acts only while this worker still holds the
   attempt's lease (fencing): once recovery has taken over, its error changes
   nothing but the call's record.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from verification import crypto, gate, kredibel, outbox, tasks
from verification.durable import durably
from verification.integrations import sessions
from verification.models import Attempt, ProviderCall
from verification.retry_policy import RetryPolicy

logger = logging.getLogger(__name__)

Status = Attempt.Status
Outcome = ProviderCall.Outcome
Charged = ProviderCall.Charged

RESULT_STATUS = {
    kredibel.Status.VERIFIED: Status.VERIFIED,
    kredibel.Status.NOT_VERIFIED: Status.NOT_VERIFIED,
    kredibel.Status.VERIFIED_WITH_REASON: Status.NEEDS_REVIEW,
}


@dataclass(frozen=True)
class Claim:
    """An attempt this worker holds: under `lease` until `lease_expires_at`, as
    the circuit's probe or not. `code` names it in log lines."""

    attempt_id: int
    code: str
    lease: uuid.UUID
    lease_expires_at: datetime
    probe: bool


CallOutcome = kredibel.IssuanceResult | kredibel.KredibelError


def verify_attempt(*, attempt_id: int, policy: RetryPolicy | None = None) -> None:
    """Claim a queued attempt, call the provider once, record the call and act on
    it.

    Does nothing when the attempt is not queued and due (already taken, finished,
    or waiting for a later try): a duplicate task never causes a second call. While
    the gate is closed (circuit open, too many calls in flight) the attempt stays
    queued and a task comes back when it may open.
    """
    policy = policy or RetryPolicy.from_settings()
    claim = claim_attempt(attempt_id=attempt_id, now=policy.clock())
    if claim is None:
        return
    attempt = Attempt.objects.select_related("applicant").get(pk=attempt_id)
    try:
        request = issuance_request(attempt)
    except crypto.Undecryptable as error:
        refuse_unreadable(claim=claim, error=error, now=policy.clock())
        return
    call = ProviderCall.objects.create(attempt=attempt, started_at=policy.clock())
    outcome = call_provider(request)
    settle(claim=claim, call=call, outcome=outcome, policy=policy)


def claim_attempt(*, attempt_id: int, now: datetime) -> Claim | None:
    """Take a queued, due attempt under a new lease, if the gate lets one more call
    through. None when there is nothing to do now."""
    lease = uuid.uuid4()
    lease_expires_at = now + timedelta(seconds=settings.VERIFY_LEASE_SECONDS)
    with transaction.atomic():
        # The gate's row is locked first: claims follow one another, so the limit
        # on calls in flight holds across workers.
        admission = gate.admit(now)
        due = Attempt.objects.filter(pk=attempt_id, status=Status.QUEUED).filter(
            Q(next_try_at__isnull=True) | Q(next_try_at__lte=now)
        )
        if not admission.admitted:
            if admission.budget_spent:
                # Waiting for the budget is the attempt's next try (its tries
                # untouched): the sweep takes it for lost only once that is past.
                waits = due.update(next_try_at=admission.retry_at, updated_at=now)
            else:
                waits = due.exists()
            if waits:
                tasks.verify.using(run_after=admission.retry_at).enqueue(attempt_id)
            return None
        code = due.values_list("code", flat=True).first()
        claimed = due.update(
            status=Status.VERIFYING,
            lease_token=lease,
            lease_expires_at=lease_expires_at,
            tries=F("tries") + 1,
            updated_at=now,
        )
        if not claimed:
            # The probe's place (if this was the probe) is not used.
            transaction.set_rollback(True)
        else:
            # The claim and the task that recovers it commit together: a worker
            # that dies right after claiming still leaves a way back.
            tasks.recover.using(
                run_after=lease_expires_at + timedelta(seconds=1)
            ).enqueue(attempt_id)
    if not claimed:
        _come_back_later(attempt_id, now)
        return None
    return Claim(attempt_id, str(code), lease, lease_expires_at, admission.probe)


def _come_back_later(attempt_id: int, now: datetime) -> None:
    """A task that arrived before the attempt's next try (another host's clock,
    a duplicate) leaves a task for the right moment instead of dropping it."""
    due = (
        Attempt.objects.filter(pk=attempt_id, status=Status.QUEUED, next_try_at__gt=now)
        .values_list("next_try_at", flat=True)
        .first()
    )
    if due:
        tasks.verify.using(run_after=due).enqueue(attempt_id)


def issuance_request(attempt: Attempt) -> kredibel.IssuanceRequest:
    """What the provider is sent, decrypted. Raises crypto.Undecryptable when a
    value or a photo cannot be decrypted with the configured keys."""
    unreadable = attempt.unreadable_fields() + attempt.applicant.unreadable_fields()
    if unreadable or attempt.birth_date is None:
        raise crypto.Undecryptable("cannot decrypt " + ", ".join(unreadable))
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


def refuse_unreadable(
    *, claim: Claim, error: crypto.Undecryptable, now: datetime
) -> None:
    """Never pay for a request made of values that could not be decrypted: the
    attempt fails as a configuration problem, without a call."""
    with transaction.atomic():
        held = (
            Attempt.objects.select_for_update()
            .filter(pk=claim.attempt_id, lease_token=claim.lease)
            .first()
        )
        if held is not None:
            held.fail(Attempt.Failure.CONFIGURATION, now=now)
            held.save()
            outbox.queue_outcome_email(held)
            sessions.attempt_changed(held, now=now)
    logger.error(
        "Attempt %s was not sent: its stored data cannot be decrypted (%s). Check "
        "FIELD_ENCRYPTION_KEYS.",
        claim.code,
        error,
    )


def call_provider(request: kredibel.IssuanceRequest) -> CallOutcome:
    """One call; its verdict or its typed error, never anything else."""
    try:
        return kredibel.get_client().issue_certificate(request)
    except kredibel.KredibelError as error:
        return error


def settle(
    *,
    claim: Claim,
    call: ProviderCall,
    outcome: CallOutcome,
    policy: RetryPolicy,
) -> None:
    """Save what the call brought, then act on it: the answer first, on the call's
    record, through database blips; then its effect on the attempt."""
    now = policy.clock()
    window = settings.VERIFY_ANSWER_WRITE_SECONDS
    # Nothing reads the database before the answer is saved: it may be down.
    code = claim.code
    try:
        durably(
            lambda: record_call(call_id=call.pk, outcome=outcome, now=now),
            seconds=window,
            what=f"Attempt {code}",
        )
    except Exception:
        if isinstance(outcome, kredibel.IssuanceResult):
            # The last place the paid answer can go; ids only, for reconciliation.
            logger.error(
                "Attempt %s: the provider's answer could not be saved (provider id "
                "%s, status %s, reference id %s); reconcile it by hand.",
                code,
                outcome.provider_id,
                outcome.status,
                outcome.reference_id,
            )
        raise
    gate.record(outcome, probe=claim.probe, now=now)
    if isinstance(outcome, kredibel.IssuanceResult):
        durably(
            lambda: apply_answer(call_id=call.pk, now=now),
            seconds=window,
            what=f"Attempt {code}",
        )
    else:
        durably(
            lambda: apply_error(claim=claim, error=outcome, policy=policy, now=now),
            seconds=window,
            what=f"Attempt {code}",
        )


def record_call(*, call_id: int, outcome: CallOutcome, now: datetime) -> None:
    """Write what the provider answered (or did not) on the call's record. It
    always lands, whoever holds the attempt now: the call happened."""
    fields: dict[str, object] = {
        "finished_at": now,
        "http_status": outcome.http_status,
        "duration_ms": round(outcome.duration * 1000),
        "answer": outcome.answer,
    }
    if isinstance(outcome, kredibel.IssuanceResult):
        fields.update(
            outcome=Outcome(outcome.status.value),
            charged=Charged.YES,
            liveness_only=outcome.liveness_only,
            provider_id=outcome.provider_id,
            reference_id=outcome.reference_id,
        )
    else:
        fields.update(
            outcome=outcome.outcome,
            charged=Charged.UNKNOWN if outcome.may_have_been_charged else Charged.NO,
            # Informational, and free text from the provider: kept within the
            # columns.
            error_id=(outcome.error_id or "")[:64],
            error_type=(outcome.error_type or "")[:100],
        )
    ProviderCall.objects.filter(pk=call_id).update(**fields)


def apply_answer(*, call_id: int, now: datetime | None = None) -> Attempt | None:
    """Apply the definite answer on a call's record to its attempt, whatever the
    attempt's state: queued for a repeat, failed with its outcome unknown, held by
    another worker. The first answer decides; a later one is flagged as a duplicate
    purchase and changes nothing else. Safe to run again for the same call.

    Returns the attempt when this answer decided it now, else None.
    """
    now = now or timezone.now()
    with transaction.atomic():
        call = ProviderCall.objects.select_for_update().get(pk=call_id)
        attempt = Attempt.objects.select_for_update().filter(pk=call.attempt_id).first()
        if attempt is None or not call.is_definite:
            return None
        if attempt.has_answer:
            if attempt.provider_id != call.provider_id and not call.duplicate:
                call.duplicate = True
                call.save(update_fields=["duplicate"])
                logger.warning(
                    "Attempt %s: a second paid answer arrived (provider id %s); "
                    "kept as a duplicate purchase.",
                    attempt.code,
                    call.provider_id,
                )
            return None
        late = attempt.status != Status.VERIFYING or call.outcome == Outcome.LOST
        answer = call.answer
        attempt.status = RESULT_STATUS[kredibel.Status(call.outcome)]
        attempt.provider_id = call.provider_id
        attempt.reference_id = call.reference_id
        attempt.reject_fields = list(answer.get("rejectFields", []))
        attempt.error_id = ""
        attempt.failure = ""
        attempt.lease_token = None
        attempt.lease_expires_at = None
        attempt.next_try_at = None
        attempt.finished_at = now
        attempt.updated_at = now
        attempt.save()
        outbox.queue_outcome_email(attempt)
        sessions.attempt_changed(attempt, now=now)
    if late:
        logger.warning(
            "Attempt %s: a late answer was applied (%s).", attempt.code, attempt.status
        )
    else:
        logger.info("Attempt %s: %s.", attempt.code, attempt.status)
    return attempt


def apply_error(
    *,
    claim: Claim,
    error: kredibel.KredibelError,
    policy: RetryPolicy,
    now: datetime,
) -> Attempt | None:
    """Apply the retry policy to a failed call. Returns the updated attempt, or
    None when this worker no longer holds it (recovery or an answer took over)."""
    with transaction.atomic():
        attempt = (
            Attempt.objects.select_for_update()
            .filter(pk=claim.attempt_id, lease_token=claim.lease)
            .first()
        )
        if attempt is None:
            logger.warning(
                "Attempt %s: a failed call came back after the attempt was taken "
                "over; only the call's record changed.",
                claim.code,
            )
            return None
        attempt.error_id = (error.error_id or attempt.error_id)[:64]
        logger.warning(
            "Attempt %s: provider call failed (%s, HTTP %s, retryable=%s).",
            attempt.code,
            error.outcome,
            error.http_status,
            error.retryable,
        )
        step = policy.after_error(
            error, tries=attempt.tries, unknown_outcomes=attempt.unknown_outcomes
        )
        if isinstance(error, kredibel.InvalidRequest):
            attempt.provider_field_errors = error.field_errors
        if step.lost_answer:
            attempt.unknown_outcomes += 1
        if step.failure:
            attempt.fail(step.failure, now=now)
            attempt.save()
            outbox.queue_outcome_email(attempt)
            sessions.attempt_changed(attempt, now=now)
        else:
            requeue(attempt, delay=step.delay, now=now)
    if attempt.failure in Attempt.OUR_FAULT:
        logger.error(
            "Attempt %s failed in a way retrying cannot fix (%s): check the "
            "configuration and the provider's field messages.",
            attempt.code,
            attempt.failure,
        )
    return attempt


def requeue(attempt: Attempt, *, delay: float, now: datetime) -> None:
    """Back to the queue for a try in `delay` seconds, with its task (inside the
    caller's transaction: the database queue commits the task with the state)."""
    at = now + timedelta(seconds=delay)
    attempt.requeue(at=at, now=now)
    attempt.save()
    tasks.verify.using(run_after=at).enqueue(attempt.pk)
