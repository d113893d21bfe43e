"""Housekeeping for the form's drafts."""

from __future__ import annotations

from django.tasks import task

from onboarding.models import Handoff, PendingPhoto


@task()
def purge_drafts() -> None:
    """Delete photos and hand-offs that were never sent and are a day old."""
    PendingPhoto.purge_old()
    Handoff.purge_old()
