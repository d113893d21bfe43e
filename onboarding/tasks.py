"""Housekeeping for the form's drafts: photos and hand-offs never sent are deleted
once a day old (the privacy notice promises it)."""

from __future__ import annotations

from datetime import timedelta

from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from onboarding.models import DRAFT_LIFETIME, Handoff, PendingPhoto


@task()
def purge_drafts() -> None:
    """Delete photos and hand-offs that were never sent and are a day old."""
    PendingPhoto.purge_old()
    Handoff.purge_old()


def schedule_purge() -> None:
    """Make sure a purge runs soon after a draft made now turns a day old. One
    waiting purge covers every draft made in the hour before it was scheduled."""
    due = timezone.now() + DRAFT_LIFETIME + timedelta(minutes=5)
    coming = DBTaskResult.objects.filter(
        task_path=purge_drafts.module_path,
        status=TaskResultStatus.READY,
        run_after__gte=due - timedelta(hours=1),
    )
    if not coming.exists():
        purge_drafts.using(run_after=due).enqueue()
