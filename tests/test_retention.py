"""Retention: photos are deleted, then identity data redacted, after the configured
periods; a minimal audit record stays; each pass is recorded with counts; the privacy
notice states the periods in both languages."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.pages import text_of
from tests.reviewing import make_attempt, make_user
from tests.worker import run_worker
from verification import retention
from verification.models import Attempt, RetentionRun, ReviewDecision

pytestmark = pytest.mark.django_db

Status = Attempt.Status
DAY = timedelta(days=1)


def photos_exist(attempt: Attempt) -> bool:
    return attempt.face_image.storage.exists(f"attempts/{attempt.code}/face.jpg")


def aged(status: str, days: float, **fields) -> Attempt:
    return make_attempt(status=status, images=True, age=days * DAY, **fields)


def decided(status: str, days: float) -> Attempt:
    attempt = aged(status, days + 1)
    ReviewDecision.objects.create(
        attempt=attempt,
        reviewer=make_user(f"r{attempt.pk}", reviewer=True),
        decision=status,
        reason="face_mismatch" if status == Status.REJECTED else "",
        note="The selfie shows SITI, not the person on the KTP.",
        applicant_message="Please send a clearer selfie, Siti.",
        decided_at=timezone.now() - days * DAY,
    )
    return attempt


def test_photos_go_after_the_photo_period_and_identity_data_stays(settings):
    settings.RETENTION_PHOTO_DAYS = 30
    old = aged(Status.VERIFIED, 31)
    recent = aged(Status.VERIFIED, 29)

    run = retention.apply_retention()

    old.refresh_from_db()
    recent.refresh_from_db()
    assert run.photos_deleted == 2
    assert not photos_exist(old)
    assert old.face_image.name == ""
    assert old.photos_deleted_at is not None
    assert old.full_name.startswith("TEST APPLICANT")
    assert photos_exist(recent)
    assert recent.photos_deleted_at is None


def test_identity_data_of_an_attempt_without_a_certificate_is_redacted(settings):
    settings.RETENTION_IDENTITY_DAYS = 365
    attempt = aged(Status.NOT_VERIFIED, 366, reject_fields=["faceImage"])
    kept = {
        "code": attempt.code,
        "status": attempt.status,
        "created_at": attempt.created_at,
        "finished_at": attempt.finished_at,
        "provider_id": attempt.provider_id,
        "reference_id": attempt.reference_id,
        "reject_fields": attempt.reject_fields,
    }

    run = retention.apply_retention()

    attempt = Attempt.objects.select_related("applicant").get(pk=attempt.pk)
    assert (run.attempts_redacted, run.applicants_redacted) == (1, 1)
    assert (attempt.full_name, attempt.birth_date) == ("", None)
    assert (attempt.email_address, attempt.phone_number) == ("", "")
    assert (attempt.email_digest, attempt.phone_digest) == ("", "")
    assert attempt.applicant.nik == ""
    assert attempt.applicant.nik_digest is None
    assert attempt.applicant.masked_nik.startswith("317101")  # the audit record's
    assert {key: getattr(attempt, key) for key in kept} == kept
    assert attempt.redacted_at is not None


def test_a_certificate_keeps_its_identity_data_for_the_psre_period(settings):
    settings.PSRE_RECORD_KEEPING_YEARS = 20
    within = aged(Status.VERIFIED, 366)
    beyond = aged(Status.VERIFIED, 365.25 * 20 + 2)

    retention.apply_retention()

    within.refresh_from_db()
    beyond.refresh_from_db()
    assert within.full_name
    assert within.redacted_at is None
    assert not photos_exist(within)
    assert beyond.full_name == ""
    assert beyond.redacted_at is not None


def test_a_rejection_keeps_its_decision_and_loses_its_free_text(settings):
    attempt = decided(Status.REJECTED, 366)

    run = retention.apply_retention()

    decision = ReviewDecision.objects.get(attempt=attempt)
    assert run.decisions_redacted == 1
    assert (decision.decision, decision.reason) == ("rejected", "face_mismatch")
    assert (decision.note, decision.applicant_message) == ("", "")
    assert decision.redacted_at is not None


def test_the_periods_count_from_the_decision_for_reviewed_attempts(settings):
    waited_long_decided_late = decided(Status.REJECTED, 10)  # submitted 11 days ago
    settings.RETENTION_PHOTO_DAYS = 10.5

    retention.apply_retention()

    assert photos_exist(waited_long_decided_late)


def test_attempts_in_flight_or_waiting_for_a_reviewer_are_never_touched():
    waiting = aged(Status.NEEDS_REVIEW, 400)
    queued = aged(Status.QUEUED, 400)

    run = retention.apply_retention()

    assert (run.photos_deleted, run.attempts_redacted) == (0, 0)
    for attempt in (waiting, queued):
        attempt.refresh_from_db()
        assert photos_exist(attempt)
        assert attempt.full_name


def test_an_applicant_keeps_their_nik_while_any_attempt_is_not_redacted():
    old = aged(Status.NOT_VERIFIED, 400)
    make_attempt(applicant=old.applicant, status=Status.VERIFIED, age=DAY)

    run = retention.apply_retention()

    old.applicant.refresh_from_db()
    assert run.attempts_redacted == 1
    assert run.applicants_redacted == 0
    assert old.applicant.nik


def test_each_pass_is_recorded_with_counts_and_the_periods(settings):
    settings.RETENTION_PHOTO_DAYS = 7
    aged(Status.VERIFIED, 8)
    out = StringIO()

    call_command("apply_retention", stdout=out)
    call_command("apply_retention", stdout=StringIO())

    first, second = RetentionRun.objects.order_by("pk")
    assert "Photos deleted: 2" in out.getvalue()
    assert (first.photos_deleted, second.photos_deleted) == (2, 0)
    assert first.periods == {
        "photo_days": 7,
        "identity_days": settings.RETENTION_IDENTITY_DAYS,
        "psre_record_keeping_years": settings.PSRE_RECORD_KEEPING_YEARS,
    }
    assert first.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_daily_pass_runs_in_the_worker_and_schedules_the_next(settings):
    aged(Status.VERIFIED, 40)
    retention.schedule()
    retention.schedule()  # asked twice, queued once
    DBTaskResult.objects.update(run_after=timezone.now())

    run_worker()

    assert RetentionRun.objects.count() == 1
    assert RetentionRun.objects.get().photos_deleted == 2
    waiting = DBTaskResult.objects.filter(
        task_path="verification.tasks.retention_pass", status="READY"
    )
    assert waiting.count() == 1
    assert waiting.get().run_after > timezone.now() + timedelta(hours=23)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                "14 days after the check's outcome",
                "180 days after the outcome",
                "25 years",
            ],
        ),
        ("id", ["14 hari", "180 hari", "25 tahun"]),
    ],
)
def test_the_privacy_notice_states_the_configured_periods(
    client, settings, language, expected
):
    settings.RETENTION_PHOTO_DAYS = 14
    settings.RETENTION_IDENTITY_DAYS = 180
    settings.PSRE_RECORD_KEEPING_YEARS = 25

    page = text_of(client.get("/privacy/", headers={"accept-language": language}))

    for phrase in expected:
        assert phrase in page
