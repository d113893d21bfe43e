"""Housekeeping tasks that should be waiting once, however many requests and workers
ask for them."""

from __future__ import annotations

from datetime import datetime

from django.tasks import Task, TaskResultStatus
from django_tasks_db.models import DBTaskResult


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
