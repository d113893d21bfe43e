"""Recovery after workers that died, froze or lost their database, and the sweep
that finds what stalled.

- An attempt whose worker stopped while holding it (its lease ran out) is picked up
  again: an answer already saved on one of its calls is applied; a call left
  pending is marked lost (it may have been charged) and counts as a lost answer,
  under the same rule as a call with no answer by its deadline.
- Task rows left `running` by a worker that died are finished (as failed, with the
  reason) and their task queued again; every task here is safe to run twice.
- Queued attempts, emails and webhooks whose task was lost are queued again; a
  webhook left half-sent is sent again; sessions unused past their expiry expire.
- Photo folders without their attempt (a process that died between writing a
  photo and committing its row) are removed.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import suppress
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import Q
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from verification import outbox, queue, tasks, verifying
from verification.integrations import sessions, webhooks
from verification.models import Attempt, ProviderCall
from verification.retry_policy import RetryPolicy

logger = logging.getLogger(__name__)

Status = Attempt.Status
Outcome = ProviderCall.Outcome

STALLED_AFTER = timedelta(minutes=10)
# An attempt verifying this long past its lease is stuck (recovery should have
# taken it within a second of the lease's end).
STUCK_AFTER = timedelta(minutes=1)
# Photo folders younger than this may belong to a submission still committing.
ORPHANS_AFTER = timedelta(hours=1)
PHOTO_FOLDER = "attempts"


class WorkerStopped(Exception):
    """The worker running a task stopped before finishing it."""


def recover_attempt(
    *,
    attempt_id: int,
    now: datetime | None = None,
    policy: RetryPolicy | None = None,
) -> None:
    """Pick up an attempt whose worker stopped while holding it (its lease is
    over). Does nothing for an attempt that is not verifying past its lease."""
    policy = policy or RetryPolicy.from_settings()
    now = now or policy.clock()
    with transaction.atomic():
        attempt = (
            Attempt.objects.select_for_update()
            .filter(pk=attempt_id, status=Status.VERIFYING, lease_expires_at__lt=now)
            .first()
        )
        if attempt is None:
            return
        answered = _unapplied_answer(attempt)
        if answered is not None:
            # The worker saved the answer and stopped before acting on it.
            verifying.apply_answer(call_id=answered, now=now)
            return
        logger.warning(
            "Attempt %s: its worker stopped during verification; picking it up again.",
            attempt.code,
        )
        lost = attempt.calls.filter(outcome=Outcome.PENDING).update(
            outcome=Outcome.LOST, charged=ProviderCall.Charged.UNKNOWN
        )
        if lost:
            step = policy.after_lost_answer(unknown_outcomes=attempt.unknown_outcomes)
            attempt.unknown_outcomes += 1
        else:
            step = policy.after_stop(tries=attempt.tries)
        if step.failure:
            attempt.fail(step.failure, now=now)
            attempt.save()
            outbox.queue_outcome_email(attempt)
            sessions.attempt_changed(attempt, now=now)
        else:
            verifying.requeue(attempt, delay=step.delay, now=now)


def _unapplied_answer(attempt: Attempt) -> int | None:
    return (
        attempt.calls.filter(outcome__in=ProviderCall.DEFINITE, duplicate=False)
        .order_by("finished_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )


def recover_stalled_attempts(
    *, older_than: timedelta = STALLED_AFTER, now: datetime | None = None
) -> int:
    """Queue again every attempt that should be moving and is not: queued but
    due for a while (its task was lost, say with a process that died between
    commit and enqueue), or verifying past its lease; and apply every saved answer
    that was never applied. Safe to run any time and anywhere: a claim lets only
    one worker call the provider. Returns how many it acted on."""
    now = now or timezone.now()
    cutoff = now - older_than
    queued = Attempt.objects.filter(status=Status.QUEUED).filter(
        Q(next_try_at__lt=cutoff) | Q(next_try_at__isnull=True, updated_at__lt=cutoff)
    )
    verifying = Attempt.objects.filter(
        status=Status.VERIFYING, lease_expires_at__lt=now
    )
    count = 0
    for attempt_id in queued.values_list("pk", flat=True):
        tasks.verify.enqueue(attempt_id)
        count += 1
    for attempt_id in verifying.values_list("pk", flat=True):
        tasks.recover.enqueue(attempt_id)
        count += 1
    return count + apply_saved_answers(now=now)


def apply_saved_answers(*, now: datetime | None = None) -> int:
    """Apply every definite answer on file whose attempt never heard of it (a
    worker that saved it and then lost the database for good, or died). Returns
    how many decided their attempt."""
    unapplied = ProviderCall.objects.filter(
        outcome__in=ProviderCall.DEFINITE, duplicate=False, attempt__provider_id=""
    ).exclude(attempt__status=Status.VERIFYING, attempt__lease_expires_at__gte=now)
    applied = 0
    for call_id in unapplied.order_by("finished_at", "pk").values_list("pk", flat=True):
        if verifying.apply_answer(call_id=call_id, now=now):
            applied += 1
    return applied


def abandoned_after(lane: str) -> timedelta:
    """How long a task in `lane` may run before its worker is taken for dead:
    longer than any live worker takes."""
    if lane == queue.PROVIDER:
        # The lease covers the call; then two saves through database blips.
        return timedelta(
            seconds=settings.VERIFY_LEASE_SECONDS
            + 2 * settings.VERIFY_ANSWER_WRITE_SECONDS
            + 60
        )
    if lane == queue.EMAIL:
        return outbox.SEND_CLAIM + timedelta(minutes=1)
    if lane == queue.WEBHOOK:
        return timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + 120)
    return timedelta(minutes=30)


def finish_abandoned_tasks(*, now: datetime | None = None) -> int:
    """Finish every task row a dead worker left `running` (as failed, saying
    why) and queue its task again. Returns how many."""
    now = now or timezone.now()
    count = 0
    for lane in queue.LANES:
        stale = DBTaskResult.objects.running().filter(
            queue_name=lane, started_at__lt=now - abandoned_after(lane)
        )
        for row in stale:
            finished = DBTaskResult.objects.filter(
                pk=row.pk, status=TaskResultStatus.RUNNING
            ).update(
                status=TaskResultStatus.FAILED,
                finished_at=now,
                exception_class_path=f"{__name__}.{WorkerStopped.__qualname__}",
                traceback=f"The worker running this task ({row.worker_ids[-1:]}) "
                "stopped before it finished.",
            )
            if not finished:
                continue
            count += 1
            try:
                task = row.task
            except (ImportError, ValueError):
                continue
            args = row.args_kwargs
            task.using(run_after=None).enqueue(*args["args"], **args["kwargs"])
    if count:
        logger.warning(
            "Finished %d task(s) left running by a stopped worker; queued them again.",
            count,
        )
    return count


def stuck_attempts(*, now: datetime | None = None) -> int:
    """Attempts still verifying a while after their lease ended: nobody is
    recovering them (no worker takes housekeeping tasks)."""
    now = now or timezone.now()
    return Attempt.objects.filter(
        status=Status.VERIFYING, lease_expires_at__lt=now - STUCK_AFTER
    ).count()


def remove_orphan_photos(
    *, older_than: timedelta = ORPHANS_AFTER, now: datetime | None = None
) -> int:
    """Delete photo folders (`attempts/<code>/`) whose attempt does not exist,
    once every file in them is older than `older_than`. Returns how many
    folders."""
    now = now or timezone.now()
    storage: Storage = Attempt.face_image.field.storage
    try:
        folders, _ = storage.listdir(PHOTO_FOLDER)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    codes: dict[uuid.UUID, str] = {}
    for name in folders:
        with suppress(ValueError):
            codes[uuid.UUID(name)] = name
    kept = set(
        Attempt.objects.filter(code__in=list(codes)).values_list("code", flat=True)
    )
    removed = 0
    for code, name in codes.items():
        if code in kept:
            continue
        folder = f"{PHOTO_FOLDER}/{name}"
        if _remove_if_old(storage, folder, now - older_than):
            removed += 1
    if removed:
        logger.warning("Removed %d photo folder(s) left without an attempt.", removed)
    return removed


def _remove_if_old(storage: Storage, folder: str, cutoff: datetime) -> bool:
    _, files = storage.listdir(folder)
    paths = [f"{folder}/{name}" for name in files]
    try:
        if any(storage.get_modified_time(path) > cutoff for path in paths):
            return False
    except NotImplementedError:
        return False
    for path in paths:
        storage.delete(path)
    # Folders exist on a file system only; object storage has none to remove.
    with suppress(OSError):
        storage.delete(folder)
    return True


def in_flight() -> bool:
    """Whether anything still needs the sweep: attempts in progress, emails
    waiting, tasks running."""
    return (
        Attempt.objects.filter(status__in=Attempt.IN_PROGRESS).exists()
        or outbox.waiting()
        or webhooks.waiting()
        or DBTaskResult.objects.running()
        .exclude(task_path=tasks.sweep.module_path)
        .exists()
    )


def sweep(*, now: datetime | None = None) -> None:
    """Everything above, in one go (the periodic sweep and `recover_attempts`)."""
    now = now or timezone.now()
    finish_abandoned_tasks(now=now)
    recover_stalled_attempts(now=now)
    outbox.finish_abandoned(now=now)
    outbox.queue_forgotten(older_than=STALLED_AFTER, now=now)
    webhooks.recover_abandoned(now=now)
    webhooks.queue_forgotten(older_than=STALLED_AFTER, now=now)
    sessions.expire_due(now=now)
    remove_orphan_photos(now=now)
