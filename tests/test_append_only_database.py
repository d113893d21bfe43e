"""Append-only records hold at the database too: on PostgreSQL a trigger refuses any
UPDATE or DELETE of review decisions, image views and data-subject requests, whoever
sends it, except the one redaction an erasure or the retention job makes. On SQLite
the ORM's guard is the line (see test_review_records)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tests.reviewing import make_attempt, make_user
from verification import reviews
from verification.models import (
    DataSubjectRequest,
    ImageAccess,
    RecordIsAppendOnly,
    ReviewDecision,
)

pytestmark = pytest.mark.django_db

ON_POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture
def decision() -> ReviewDecision:
    record = reviews.decide(
        attempt=make_attempt(),
        reviewer=make_user("rita", reviewer=True),
        decision="rejected",
        reason="face_mismatch",
        note="SITI's selfie does not match.",
        applicant_message="Please retake the selfie.",
    )
    assert isinstance(record, ReviewDecision)  # four-eyes review is off
    return record


def raw(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def refused_by_the_database(sql: str, params: list) -> bool:
    """Whether the trigger refused the statement (and said why)."""
    try:
        raw(sql, params)
    except IntegrityError as error:
        return "append-only" in str(error)
    return False


def test_sql_that_bypasses_the_orm_cannot_change_or_delete_a_decision(decision):
    table = ReviewDecision._meta.db_table
    statements = [
        (f"UPDATE {table} SET decision = 'approved' WHERE id = %s", [decision.pk]),
        (f"UPDATE {table} SET note = 'Rewritten.' WHERE id = %s", [decision.pk]),
        (f"DELETE FROM {table} WHERE id = %s", [decision.pk]),
    ]

    if ON_POSTGRESQL:
        assert [refused_by_the_database(*s) for s in statements] == [True] * 3
    else:
        with pytest.raises(RecordIsAppendOnly):
            ReviewDecision.objects.filter(pk=decision.pk).update(decision="approved")
    decision.refresh_from_db()
    assert (decision.decision, decision.note) == (
        "rejected",
        "SITI's selfie does not match.",
    )


def test_image_views_and_subject_requests_refuse_every_change(decision):
    access = ImageAccess.objects.create(
        user=decision.reviewer, attempt=decision.attempt, image="face"
    )
    request = DataSubjectRequest.objects.create(
        kind="export",
        masked_nik="317101******0001",
        reference="DSR-1",
        performed_by_name="op",
    )
    statements = [
        (
            "UPDATE verification_imageaccess SET image = 'identity' WHERE id = %s",
            [access.pk],
        ),
        ("DELETE FROM verification_imageaccess WHERE id = %s", [access.pk]),
        (
            "UPDATE verification_datasubjectrequest SET reference = '' WHERE id = %s",
            [request.pk],
        ),
        ("DELETE FROM verification_datasubjectrequest WHERE id = %s", [request.pk]),
    ]

    if ON_POSTGRESQL:
        assert [refused_by_the_database(*s) for s in statements] == [True] * 4
    else:
        with pytest.raises(RecordIsAppendOnly):
            DataSubjectRequest.objects.filter(pk=request.pk).delete()
    assert ImageAccess.objects.get(pk=access.pk).image == "face"
    assert DataSubjectRequest.objects.get(pk=request.pk).reference == "DSR-1"


def test_the_one_redaction_path_is_let_through(decision):
    redacted = ReviewDecision.redact(ReviewDecision.objects.filter(pk=decision.pk))
    again = ReviewDecision.redact(ReviewDecision.objects.filter(pk=decision.pk))

    decision.refresh_from_db()
    assert (redacted, again) == (1, 0)
    assert (decision.note, decision.applicant_message) == ("", "")
    assert (decision.decision, decision.reason) == ("rejected", "face_mismatch")
    assert decision.redacted_at is not None


def test_a_redaction_that_changes_anything_else_is_refused(decision):
    table = ReviewDecision._meta.db_table
    now = timezone.now()
    disguised = [
        # Blanked and stamped, but the decision turned round too.
        (
            f"UPDATE {table} SET note = '', applicant_message = '', redacted_at = %s, "
            "decision = 'approved' WHERE id = %s",
            [now, decision.pk],
        ),
        # Stamped, but the note rewritten rather than blanked.
        (
            f"UPDATE {table} SET note = 'Nothing to see.', applicant_message = '', "
            "redacted_at = %s WHERE id = %s",
            [now, decision.pk],
        ),
        # Blanked without the stamp.
        (f"UPDATE {table} SET note = '' WHERE id = %s", [decision.pk]),
    ]

    if ON_POSTGRESQL:
        assert [refused_by_the_database(*s) for s in disguised] == [True] * 3
    else:
        decision.note = ""
        with pytest.raises(RecordIsAppendOnly):
            decision.save()
    decision.refresh_from_db()
    assert decision.note == "SITI's selfie does not match."
    assert decision.decision == "rejected"


def test_a_redacted_decision_cannot_be_redacted_into_something_else(decision):
    ReviewDecision.redact(ReviewDecision.objects.filter(pk=decision.pk))
    table = ReviewDecision._meta.db_table
    statement = (
        f"UPDATE {table} SET note = 'Added later.' WHERE id = %s",
        [decision.pk],
    )

    if ON_POSTGRESQL:
        assert refused_by_the_database(*statement)
    else:
        with pytest.raises(RecordIsAppendOnly):
            ReviewDecision.objects.filter(pk=decision.pk).update(note="Added later.")
    decision.refresh_from_db()
    assert decision.note == ""
