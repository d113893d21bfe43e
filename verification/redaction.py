"""Removing a person's data from the records while the minimal audit record stays.

What stays of an attempt: its code, status, timestamps, the provider's ids and answer
(reference id, provider id, rejected fields, error id, failure), the calls made, the
decision and its reason, and the applicant's masked NIK. What goes: the photos, the
NIK and its blind index, the name, birth date, email and phone and their blind
indexes, the provider's field messages, and the reviewers' free text (through the one
redaction append-only records allow).

Used by the retention job (verification.retention) and by erasure on request
(verification.subjects). Every function is safe to run twice.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from verification.models import (
    Applicant,
    Attempt,
    ReviewCheck,
    ReviewDecision,
    ReviewProposal,
)


def delete_photos(attempt: Attempt) -> int:
    """Delete the attempt's photos from storage and forget their names; returns how
    many files were removed. Files go first: if the database update then fails,
    the next run finds the attempt again and finishes."""
    removed = 0
    for stored in (attempt.face_image, attempt.identity_image):
        if stored.name:
            stored.storage.delete(stored.name)
            removed += 1
    now = timezone.now()
    Attempt.objects.filter(pk=attempt.pk).update(
        face_image="", identity_image="", photos_deleted_at=now, updated_at=now
    )
    return removed


def redact_attempt(attempt: Attempt) -> tuple[int, int]:
    """Remove the attempt's identity data, photos included, and blank its
    decisions' free text; returns (photos removed, decisions redacted)."""
    photos = delete_photos(attempt)
    now = timezone.now()
    with transaction.atomic():
        Attempt.objects.filter(pk=attempt.pk).update(
            full_name="",
            birth_date=None,
            email_address="",
            phone_number="",
            email_digest="",
            phone_digest="",
            client_digest="",
            provider_field_errors={},
            redacted_at=now,
            updated_at=now,
        )
        decisions = ReviewDecision.redact(
            ReviewDecision.objects.filter(attempt_id=attempt.pk)
        )
        # The four-eyes steps hold the same free text (and the second reviewer's).
        decisions += ReviewProposal.redact(
            ReviewProposal.objects.filter(attempt_id=attempt.pk)
        )
        decisions += ReviewCheck.redact(
            ReviewCheck.objects.filter(proposal__attempt_id=attempt.pk)
        )
    return photos, decisions


def redact_applicant(applicant: Applicant) -> None:
    """Remove the NIK and its blind index (the masked NIK stays): the person is not
    found again by NIK, and a new attempt starts a new applicant."""
    Applicant.objects.filter(pk=applicant.pk).update(
        nik="", nik_digest=None, redacted_at=timezone.now()
    )


def fully_redacted_applicants() -> QuerySet:
    """Applicants not yet redacted whose every attempt is."""
    return (
        Applicant.objects.filter(redacted_at__isnull=True, attempts__isnull=False)
        .exclude(attempts__redacted_at__isnull=True)
        .distinct()
    )
