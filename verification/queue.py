"""The task queue's lanes, and the helpers every part shares: tasks that should be
waiting once however many ask for them, and what an operator wants to know about
the queue.

Provider calls, applicant emails, housekeeping and integrators' webhooks run in
lanes of their own (`queue_name`), each with its own threads in the worker, so that
none waits behind another: a slow provider never delays an email, a recovery or a
purge, and a slow webhook receiver delays nothing but its own webhooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Case, Count, F, Min, When
from django.db.models.functions import Greatest
from django.tasks import Task, TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from verification import tasks

PROVIDER = "provider"
EMAIL = "email"
HOUSEKEEPING = "housekeeping"
WEBHOOK = "webhook"
# Tasks queued before the lanes existed, and any without a lane, run with the
# housekeeping.
DEFAULT = "default"
LANES = (PROVIDER, EMAIL, HOUSEKEEPING, WEBHOOK, DEFAULT)

SWEEP_EVERY = timedelta(minutes=5)
# Expired browser and reviewer sessions are deleted this often.
CLEAR_SESSIONS_EVERY = timedelta(hours=6)


def enqueue_once(
    task: Task, *, run_after: datetime, unless_due_after: datetime | None = None
) -> bool:
    """Queue `task` (without arguments) for `run_after` unless one is already
    waiting; with `unless_due_after`, only a waiting one due at or after that moment
    counts. Returns whether it queued one.

    Two callers at the same instant may both queue one: these tasks are safe to run
    twice, and the next caller finds them waiting.
    """
    waiting = DBTaskResult.objects.filter(
        task_path=task.module_path, status=TaskResultStatus.READY
    )
    if unless_due_after is not None:
        waiting = waiting.filter(run_after__gte=unless_due_after)
    if waiting.exists():
        return False
    task.using(run_after=run_after).enqueue()
    return True


def schedule_sweep() -> None:
    """Make sure a sweep is coming (one, however many workers and requests ask)."""
    enqueue_once(tasks.sweep, run_after=timezone.now() + SWEEP_EVERY)


def schedule_clear_sessions() -> None:
    """Make sure the next clearing of expired sessions is coming (one, however
    many callers ask)."""
    enqueue_once(tasks.clear_sessions, run_after=timezone.now() + CLEAR_SESSIONS_EVERY)


@dataclass(frozen=True)
class LaneLoad:
    due: int
    oldest_due_seconds: int


def lane_loads(now: datetime | None = None) -> dict[str, LaneLoad]:
    """Per lane: the tasks that could run now, and how long the oldest of them has
    been waiting (since it was queued, or since it became due if it was deferred).
    One query."""
    now = now or timezone.now()
    # A deferred task waits from the moment it became due, not from its queueing.
    waiting_since = Greatest(
        "enqueued_at",
        Case(
            When(run_after=get_date_max(), then=F("enqueued_at")),
            default=F("run_after"),
        ),
    )
    rows = (
        DBTaskResult.objects.ready()
        .values("queue_name")
        .annotate(due=Count("pk"), since=Min(waiting_since))
        .order_by()
    )
    loads = {lane: LaneLoad(0, 0) for lane in LANES}
    for row in rows:
        waited = (now - row["since"]).total_seconds()
        loads[row["queue_name"]] = LaneLoad(row["due"], max(0, round(waited)))
    return loads
