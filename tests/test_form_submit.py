"""`RegistrationForm.submit`: the one way an attempt is made from the applicant's
form (the review step's send, the demo data, these tests)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from onboarding.forms import RegistrationForm
from onboarding.models import PendingPhoto
from tests.applying import ktp_bytes, selfie_bytes
from verification.models import Attempt

pytestmark = pytest.mark.django_db


def filled_in(**overrides) -> RegistrationForm:
    data = {
        "identityId": "1234 5678 9012 3456",
        "fullName": "asep supriyadi",
        "birthDate": "1990-07-06",
        "emailAddress": "Asep@Example.com",
        "phoneNumber": "0812 3456 7890",
        "consent": "on",
        "submission": str(uuid.uuid4()),
        **overrides,
    }
    files = {
        "faceImage": SimpleUploadedFile("selfie.jpg", selfie_bytes()),
        "identityImage": SimpleUploadedFile("ktp.jpg", ktp_bytes()),
    }
    return RegistrationForm(data, files, browser="browser-1", confirming=True)


def test_it_stores_the_normalised_attempt_and_lets_go_of_the_pending_photos():
    form = filled_in()
    assert form.is_valid(), form.errors

    attempt, created = form.submit(language="en")

    assert created
    attempt.refresh_from_db()
    assert attempt.applicant.nik == "1234567890123456"
    assert attempt.full_name == "ASEP SUPRIYADI"
    assert attempt.birth_date == date(1990, 7, 6)
    assert attempt.email_address == "Asep@example.com"  # only the domain is case-free
    assert attempt.phone_number == "6281234567890"
    assert attempt.browser == "browser-1"
    assert attempt.language == "en"
    assert attempt.status == Attempt.Status.QUEUED
    with attempt.face_image.open("rb") as f:
        assert f.read(2) == b"\xff\xd8"
    assert not PendingPhoto.objects.exists()


def test_the_same_submission_gives_back_the_attempt_it_made():
    submission = str(uuid.uuid4())
    first = filled_in(submission=submission)
    assert first.is_valid()
    made, _ = first.submit(language="id")
    again = filled_in(submission=submission)
    assert again.is_valid()

    attempt, created = again.submit(language="id")

    assert not created
    assert attempt == made
    assert Attempt.objects.count() == 1


def test_a_birth_date_unlike_the_nik_is_not_sent_unconfirmed():
    form = filled_in(identityId="3174054607900001", birthDate="1990-07-07")

    assert not form.is_valid()
    assert form.only_confirmations_missing()
    assert form.has_error("confirmBirthDate", "confirm_birth_date")
