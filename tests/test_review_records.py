"""Review decisions and photo views are append-only: once written, no code path
changes or deletes them, and what they refer to cannot be deleted from under them."""

from __future__ import annotations

import pytest
from django.db.models import ProtectedError

from tests.reviewing import make_attempt, make_user
from verification import reviews
from verification.models import ImageAccess, RecordIsAppendOnly, ReviewDecision

pytestmark = pytest.mark.django_db


@pytest.fixture
def decision() -> ReviewDecision:
    record = reviews.decide(
        attempt=make_attempt(),
        reviewer=make_user("rita", reviewer=True),
        decision="rejected",
        reason="face_mismatch",
        note="Different person on the selfie.",
    )
    assert isinstance(record, ReviewDecision)  # four-eyes review is off
    return record


@pytest.fixture
def access() -> ImageAccess:
    return ImageAccess.objects.create(
        user=make_user("tono", reviewer=True), attempt=make_attempt(), image="face"
    )


def test_a_decision_cannot_be_changed_once_recorded(decision):
    decision.note = "Rewritten after the fact."

    with pytest.raises(RecordIsAppendOnly):
        decision.save()

    assert ReviewDecision.objects.get().note == "Different person on the selfie."


def test_a_decision_cannot_be_deleted(decision):
    with pytest.raises(RecordIsAppendOnly):
        decision.delete()
    with pytest.raises(RecordIsAppendOnly):
        ReviewDecision.objects.all().delete()
    with pytest.raises(RecordIsAppendOnly):
        ReviewDecision.objects.update(decision="approved")

    assert ReviewDecision.objects.get().decision == "rejected"


def test_an_image_access_cannot_be_changed_or_deleted(access):
    access.image = "identity"

    with pytest.raises(RecordIsAppendOnly):
        access.save()
    with pytest.raises(RecordIsAppendOnly):
        access.delete()
    with pytest.raises(RecordIsAppendOnly):
        ImageAccess.objects.filter(pk=access.pk).delete()

    assert ImageAccess.objects.get().image == "face"


def test_a_decided_attempt_and_its_reviewer_cannot_be_deleted(decision):
    with pytest.raises(ProtectedError):
        decision.attempt.delete()
    with pytest.raises(ProtectedError):
        decision.reviewer.delete()


def test_an_attempt_whose_photos_were_viewed_cannot_be_deleted(access):
    with pytest.raises(ProtectedError):
        access.attempt.delete()


def test_new_records_can_still_be_written_after_one_is_refused(decision):
    with pytest.raises(RecordIsAppendOnly):
        decision.save()

    ImageAccess.objects.create(
        user=decision.reviewer, attempt=decision.attempt, image="identity"
    )

    assert ImageAccess.objects.count() == 1
