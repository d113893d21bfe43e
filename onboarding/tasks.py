"""The form's tasks: the email code's email (email lane), and housekeeping for the
drafts: photos, hand-offs and email codes never sent are deleted once a day old (the
privacy notice promises it)."""

from __future__ import annotations

from datetime import timedelta

from django.tasks import task
from django.utils import timezone

from onboarding import email_codes
from onboarding.models import DRAFT_LIFETIME, EmailCode, Handoff, PendingPhoto
from verification.queue import enqueue_once


@task(queue_name="housekeeping")
def purge_drafts() -> None:
    """Delete photos, hand-offs and email codes a day old (sent or not)."""
    PendingPhoto.purge_old()
    Handoff.purge_old()
    EmailCode.purge_old()


@task(queue_name="email")
def send_email_code(code_id: int) -> None:
    email_codes.send_code(code_id=code_id)


def schedule_purge() -> None:
    """Make sure a purge runs soon after a draft made now turns a day old. One
    waiting purge covers every draft made in the hour before it was scheduled."""
    due = timezone.now() + DRAFT_LIFETIME + timedelta(minutes=5)
    enqueue_once(purge_drafts, run_after=due, unless_due_after=due - timedelta(hours=1))
