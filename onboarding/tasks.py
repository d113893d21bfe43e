"""Housekeeping for the form's drafts: photos and hand-offs never sent are deleted
once a day old (the privacy notice promises it)."""

from __future__ import annotations

from datetime import timedelta

from django.tasks import task
from django.utils import timezone

from onboarding.models import DRAFT_LIFETIME, Handoff, PendingPhoto
from verification.queue import enqueue_once


@task(queue_name="housekeeping")
def purge_drafts() -> None:
    """Delete photos and hand-offs that were never sent and are a day old."""
    PendingPhoto.purge_old()
    Handoff.purge_old()


def schedule_purge() -> None:
    """Make sure a purge runs soon after a draft made now turns a day old. One
    waiting purge covers every draft made in the hour before it was scheduled."""
    due = timezone.now() + DRAFT_LIFETIME + timedelta(minutes=5)
    enqueue_once(purge_drafts, run_after=due, unless_due_after=due - timedelta(hours=1))
