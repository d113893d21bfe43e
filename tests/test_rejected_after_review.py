"""After a reviewer's rejection the status page gives the next step: apply again,
with the form prefilled and only what the rejection was about asked for again."""

from __future__ import annotations

import re

import pytest

from tests.applying import submit
from tests.pages import form_fields, matched, text_of
from tests.reviewing import make_user
from tests.worker import run_worker
from verification import reviews
from verification.models import Attempt

pytestmark = pytest.mark.django_db(transaction=True)

PHONE_SHARED_NIK = "1234567890111117"


def rejected(applicant, *, reason: str, message: str = "") -> Attempt:
    submit(applicant, identityId=PHONE_SHARED_NIK)
    run_worker()
    attempt = Attempt.objects.get()
    assert attempt.status == Attempt.Status.NEEDS_REVIEW
    reviews.decide(
        attempt=attempt,
        reviewer=make_user("dewi", reviewer=True),
        decision="rejected",
        reason=reason,
        note="Checked by phone.",
        applicant_message=message,
    )
    run_worker()  # the decision's email goes out through the outbox
    attempt.refresh_from_db()
    return attempt


def fix_section(response) -> str:
    html = response.content.decode()
    return matched(r'<section class="fix">(.*?)</section>', html, 1, re.S)


def test_the_rejected_page_says_what_to_do_next(sandbox, applicant):
    attempt = rejected(
        applicant,
        reason="contact_of_another_person",
        message="Please register again with your own mobile number.",
    )

    page = applicant.get(f"/status/{attempt.code}/")

    assert "Please register again with your own mobile number." in text_of(page)
    assert "What you can do" in text_of(page)
    assert f'href="/register/retry/{attempt.code}/"' in page.content.decode()


def test_applying_again_asks_only_for_the_contact_that_belongs_to_someone_else(
    sandbox, applicant
):
    attempt = rejected(
        applicant,
        reason="contact_of_another_person",
        message="Please register again with your own mobile number.",
    )

    form = applicant.get(f"/register/retry/{attempt.code}/")

    fix = fix_section(form)
    assert 'name="phoneNumber"' in fix
    assert 'name="identityId"' not in fix
    assert "Please register again with your own mobile number." in text_of(form)
    kept = form_fields(form.content.decode(), "data-register")
    assert kept["retryOf"] == str(attempt.code)
    assert kept["facePhoto"]
    assert kept["identityPhoto"]

    review = applicant.post("/register/", {**kept, "phoneNumber": "0813 1111 2222"})
    sent = applicant.post("/register/confirm/", form_fields(review.content.decode()))

    again = Attempt.objects.latest("created_at")
    assert sent["Location"] == f"/status/{again.code}/"
    assert again.retry_of == attempt
    assert again.phone_number == "6281311112222"


def test_applying_again_after_a_face_mismatch_asks_for_a_new_selfie(sandbox, applicant):
    attempt = rejected(applicant, reason="face_mismatch")

    form = applicant.get(f"/register/retry/{attempt.code}/")

    fix = fix_section(form)
    assert 'name="faceImage"' in fix
    assert 'name="phoneNumber"' not in fix
    assert not form_fields(form.content.decode(), "data-register")["facePhoto"]


def test_applying_again_after_suspected_fraud_asks_for_everything(sandbox, applicant):
    attempt = rejected(applicant, reason="suspected_fraud")

    form = applicant.get(f"/register/retry/{attempt.code}/")

    fix = fix_section(form)
    for name in ("identityId", "fullName", "phoneNumber", "faceImage", "identityImage"):
        assert f'name="{name}"' in fix
    kept = form_fields(form.content.decode(), "data-register")
    assert not kept["facePhoto"]
    assert not kept["identityPhoto"]


def test_the_rejection_email_has_its_own_subject(sandbox, applicant, mailoutbox):
    rejected(applicant, reason="suspected_fraud")

    subjects = [message.subject for message in mailoutbox]

    assert subjects[-1] == "Your application was not approved after review"
    assert "Your identity could not be verified" not in subjects
