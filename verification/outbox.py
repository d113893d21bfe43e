"""The email outbox: every email to an applicant is an OutboxEmail row, written in
the transaction that decides what it tells (an outcome, a reviewer's decision),
with its task; the worker's email lane sends it.

- Sent at most once: a send first claims the row (`pending` -> `sending`), and only
  the claimant sends; the sent marker is committed right after the mail server
  accepts the message, through database blips.
- Never lost while the mail server is down: a failed send goes back to `pending`
  with exponential backoff and jitter (EMAIL_RETRY_BASE_SECONDS doubling up to
  EMAIL_RETRY_MAX_SECONDS), for EMAIL_MAX_TRIES tries (about two and a half hours
  with the defaults); then it is `failed`, and says so in the admin.
- Recorded: tries, the last error's kind (never its text, which may carry the
  address), when it was sent.
- An outcome email whose attempt has moved on by the time it is sent (a late
  answer, the applicant's "try again", a reviewer's decision) is not sent: it would
  be wrong, and a newer email tells the applicant.
- A worker that stops in the middle of a send leaves its row `sending`; the sweep
  marks it failed once its claim is over. It may or may not have gone out, and is
  not sent again.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from verification import queue, tasks
from verification.durable import durably
from verification.emails import outcome_message
from verification.models import Attempt, OutboxEmail, ReviewDecision
from verification.retry_policy import backoff_seconds

logger = logging.getLogger(__name__)

State = OutboxEmail.State

# Longer than any one send can take (every SMTP step has its own timeout).
SEND_CLAIM = timedelta(minutes=5)
# Seconds the sent marker is retried through a database outage.
MARK_SECONDS = 20.0

_random = random.Random()  # noqa: S311 - jitter, not secrets


def queue_outcome_email(attempt: Attempt) -> OutboxEmail:
    """Tell the applicant where the attempt stands now. Call inside the
    transaction that moved it there: the row and its task commit with it."""
    email = OutboxEmail.objects.create(
        attempt=attempt, kind=OutboxEmail.Kind.OUTCOME, about=attempt.status
    )
    tasks.send_email.enqueue(email.pk)
    return email


def queue_decision_email(decision: ReviewDecision) -> OutboxEmail:
    """Tell the applicant a reviewer's decision, with its message to them. Call
    inside the transaction that records the decision."""
    email = OutboxEmail.objects.create(
        attempt_id=decision.attempt_id,
        decision=decision,
        kind=OutboxEmail.Kind.DECISION,
        about=decision.decision,
    )
    tasks.send_email.enqueue(email.pk)
    # Outcome emails come while attempts are in flight, with a sweep coming; a
    # decision may come when nothing else is, and its email must not be forgotten.
    queue.schedule_sweep()
    return email


def send_email(
    *,
    email_id: int,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> None:
    """Send one outbox email if it is waiting and due; otherwise do nothing (a
    duplicate task never sends twice)."""
    now = now or timezone.now()
    claimed = (
        OutboxEmail.objects.filter(pk=email_id, state=State.PENDING)
        .filter(Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))
        .update(
            state=State.SENDING, claimed_until=now + SEND_CLAIM, tries=F("tries") + 1
        )
    )
    if not claimed:
        _come_back_later(email_id, now)
        return
    email = OutboxEmail.objects.select_related("attempt", "decision").get(pk=email_id)
    attempt = email.attempt
    what = f"Attempt {attempt.code}"
    outdated = email.kind == OutboxEmail.Kind.OUTCOME and attempt.status != email.about
    # Retention or an erasure may have removed the address since it was queued.
    erased = attempt.redacted_at is not None or not attempt.email_address
    if outdated or erased:
        state = State.ERASED if erased else State.SUPERSEDED
        durably(
            lambda: _finish(email_id, state=state),
            seconds=MARK_SECONDS,
            what=what,
        )
        return
    message = outcome_message(
        attempt,
        applicant_message=email.decision.applicant_message if email.decision else "",
    )
    try:
        message.send()
    except Exception as error:
        failure = error
        durably(
            lambda: _after_failure(email, failure, now=now, rng=rng or _random),
            seconds=MARK_SECONDS,
            what=what,
        )
        return
    durably(
        lambda: _finish(email_id, state=State.SENT, sent_at=timezone.now()),
        seconds=MARK_SECONDS,
        what=what,
    )
    logger.info("Attempt %s: %s email sent.", attempt.code, email.kind)


def _finish(email_id: int, *, state: str, sent_at: datetime | None = None) -> None:
    OutboxEmail.objects.filter(pk=email_id, state=State.SENDING).update(
        state=state, sent_at=sent_at, claimed_until=None, next_try_at=None
    )


def _after_failure(
    email: OutboxEmail, error: Exception, *, now: datetime, rng: random.Random
) -> None:
    kind = describe_error(error)
    code = email.attempt.code
    with transaction.atomic():
        if email.tries >= settings.EMAIL_MAX_TRIES:
            OutboxEmail.objects.filter(pk=email.pk, state=State.SENDING).update(
                state=State.FAILED, last_error=kind, claimed_until=None
            )
            logger.error(
                "Attempt %s: gave up on the %s email after %d tries (%s).",
                code,
                email.kind,
                email.tries,
                kind,
            )
            return
        delay = backoff_seconds(
            email.tries,
            base=settings.EMAIL_RETRY_BASE_SECONDS,
            cap=settings.EMAIL_RETRY_MAX_SECONDS,
            rng=rng,
        )
        at = now + timedelta(seconds=delay)
        OutboxEmail.objects.filter(pk=email.pk, state=State.SENDING).update(
            state=State.PENDING, last_error=kind, claimed_until=None, next_try_at=at
        )
        tasks.send_email.using(run_after=at).enqueue(email.pk)
    logger.warning(
        "Attempt %s: the %s email could not be sent (%s); trying again in %.0f s.",
        code,
        email.kind,
        kind,
        delay,
    )


def describe_error(error: Exception) -> str:
    """The kind of a send failure, for the record: the exception's class and the
    SMTP reply code when there is one; never the message, which may name the
    address."""
    kind = type(error).__name__
    code = getattr(error, "smtp_code", None)
    return f"{kind} {code}" if isinstance(code, int) else kind


def _come_back_later(email_id: int, now: datetime) -> None:
    due = (
        OutboxEmail.objects.filter(
            pk=email_id, state=State.PENDING, next_try_at__gt=now
        )
        .values_list("next_try_at", flat=True)
        .first()
    )
    if due:
        tasks.send_email.using(run_after=due).enqueue(email_id)


def finish_abandoned(*, now: datetime | None = None) -> int:
    """Mark failed every send whose worker stopped mid-way (its claim is over):
    it may have gone out, so it is not sent again. Returns how many."""
    now = now or timezone.now()
    count = OutboxEmail.objects.filter(
        state=State.SENDING, claimed_until__lt=now
    ).update(
        state=State.FAILED,
        last_error="worker stopped while sending; may have been delivered",
        claimed_until=None,
    )
    if count:
        logger.error("%d email(s) were left half-sent by a stopped worker.", count)
    return count


def queue_forgotten(*, older_than: timedelta, now: datetime | None = None) -> int:
    """Queue a task again for every waiting email due for a while (its task was
    lost with a worker that died). A duplicate task does nothing. Returns how
    many."""
    now = now or timezone.now()
    cutoff = now - older_than
    waiting = OutboxEmail.objects.filter(state=State.PENDING).filter(
        Q(next_try_at__lt=cutoff) | Q(next_try_at__isnull=True, created_at__lt=cutoff)
    )
    count = 0
    for email_id in waiting.values_list("pk", flat=True):
        tasks.send_email.enqueue(email_id)
        count += 1
    return count


def waiting() -> bool:
    """Whether any email still waits to be sent or is being sent."""
    return OutboxEmail.objects.filter(state__in=(State.PENDING, State.SENDING)).exists()
