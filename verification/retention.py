"""Retention: identity data is kept only as long as configured, then removed.

Periods (settings, documented in the README and stated in the privacy notice):

- RETENTION_PHOTO_DAYS after an attempt's final outcome (verified, not verified,
  failed) or its reviewer's decision, its photos are deleted.
- RETENTION_IDENTITY_DAYS after that moment, the identity data of an attempt that
  led to no certificate (not verified, failed, rejected) is redacted.
- PSRE_RECORD_KEEPING_YEARS after it, the same for an attempt that did (verified,
  approved): the PSrE's record-keeping duty decides how long.

The keyed digests of client addresses (the limit on sends per address) go after a
day. An applicant's NIK goes when all of their attempts are redacted. Attempts still in
flight or waiting for a reviewer are never touched. What stays is the minimal audit
record (verification.redaction). Every pass is recorded in a RetentionRun, with counts
only. The pass runs daily as a task that schedules its own next run (kept coming by the
worker's sweep and `manage.py recover_attempts`), or from cron with
`manage.py apply_retention`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from verification import queue, redaction, tasks
from verification.models import Attempt, ClientAddress, RetentionRun

logger = logging.getLogger(__name__)

Status = Attempt.Status
RUN_EVERY = timedelta(days=1)
CLIENT_ADDRESSES_KEPT = timedelta(days=1)
BATCH = 500

ENDED_BY_PROVIDER = (Status.VERIFIED, Status.NOT_VERIFIED, Status.FAILED)
DECIDED = (Status.APPROVED, Status.REJECTED)
WITH_CERTIFICATE = (Status.VERIFIED, Status.APPROVED)
WITHOUT_CERTIFICATE = (Status.NOT_VERIFIED, Status.FAILED, Status.REJECTED)


def periods() -> dict[str, int]:
    return {
        "photo_days": settings.RETENTION_PHOTO_DAYS,
        "identity_days": settings.RETENTION_IDENTITY_DAYS,
        "psre_record_keeping_years": settings.PSRE_RECORD_KEEPING_YEARS,
    }


def settled_before(cutoff: datetime, statuses: tuple[str, ...]) -> Q:
    """Attempts in `statuses` whose final outcome or decision came before cutoff."""
    by_provider = [s for s in statuses if s in ENDED_BY_PROVIDER]
    decided = [s for s in statuses if s in DECIDED]
    return Q(status__in=by_provider, finished_at__lt=cutoff) | Q(
        status__in=decided, decisions__decided_at__lt=cutoff
    )


def photos_due(now: datetime) -> QuerySet:
    cutoff = now - timedelta(days=settings.RETENTION_PHOTO_DAYS)
    return (
        Attempt.objects.filter(photos_deleted_at__isnull=True)
        .filter(settled_before(cutoff, ENDED_BY_PROVIDER + DECIDED))
        .distinct()
    )


def identity_due(now: datetime) -> QuerySet:
    without = now - timedelta(days=settings.RETENTION_IDENTITY_DAYS)
    # Years of 365.25 days: the record is never let go early for a leap day.
    with_certificate = now - timedelta(days=365.25 * settings.PSRE_RECORD_KEEPING_YEARS)
    return (
        Attempt.objects.filter(redacted_at__isnull=True)
        .filter(
            settled_before(without, WITHOUT_CERTIFICATE)
            | settled_before(with_certificate, WITH_CERTIFICATE)
        )
        .distinct()
    )


def _in_batches(queryset: QuerySet):
    """The attempts of `queryset`, a batch at a time, read afresh: each one is
    changed as it goes, so the query is asked again until it finds nothing."""
    while batch := list(queryset.order_by("pk")[:BATCH]):
        yield from batch


def apply_retention(*, now: datetime | None = None) -> RetentionRun:
    """One retention pass; returns its record (counts of what it removed)."""
    now = now or timezone.now()
    run = RetentionRun.objects.create(started_at=timezone.now(), periods=periods())
    for attempt in _in_batches(photos_due(now)):
        run.photos_deleted += redaction.delete_photos(attempt)
    for attempt in _in_batches(identity_due(now)):
        photos, decisions = redaction.redact_attempt(attempt)
        run.photos_deleted += photos
        run.decisions_redacted += decisions
        run.attempts_redacted += 1
    for applicant in redaction.fully_redacted_applicants().iterator():
        redaction.redact_applicant(applicant)
        run.applicants_redacted += 1
    forget_client_addresses(now)
    run.finished_at = timezone.now()
    run.save()
    logger.info(
        "Retention: %d photos deleted, %d attempts, %d applicants and %d decision "
        "notes redacted.",
        run.photos_deleted,
        run.attempts_redacted,
        run.applicants_redacted,
        run.decisions_redacted,
    )
    return run


def forget_client_addresses(now: datetime) -> None:
    """The digests of client addresses serve the limit on sends per address (an
    hour); a day on they are removed, from the attempts and the address rows."""
    cutoff = now - CLIENT_ADDRESSES_KEPT
    Attempt.objects.filter(created_at__lt=cutoff).exclude(client_digest="").update(
        client_digest=""
    )
    ClientAddress.objects.filter(last_sent_at__lt=cutoff).delete()


def schedule() -> None:
    """Make sure a retention pass is coming (one, however many callers ask)."""
    queue.enqueue_once(tasks.retention_pass, run_after=timezone.now() + RUN_EVERY)
