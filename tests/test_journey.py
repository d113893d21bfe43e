"""The whole journey against the sandbox over HTTP: form, review, send, background
verification, status page and email, for every answer the sandbox documents."""

from __future__ import annotations

import pytest
from django.core import mail

from onboarding.privacy import PRIVACY_NOTICE_VERSION
from tests.applying import submit
from tests.pages import text_of
from tests.worker import run_worker
from verification.lookups import nik_digest
from verification.models import Applicant, Attempt, ProviderCall

pytestmark = pytest.mark.django_db(transaction=True)

SEED = [
    # NIK, stored status, rejectFields, what the applicant reads
    ("1234567890123456", "verified", [], "Your identity is verified"),
    ("1234567890111111", "not_verified", ["identityId"], "Your NIK was not found"),
    ("1234567890111112", "not_verified", ["fullName"], "Your name does not match"),
    ("1234567890111113", "not_verified", ["birthDate"], "date of birth does not match"),
    ("1234567890111114", "not_verified", ["faceImage"], "Your selfie does not match"),
    ("1234567890111115", "not_verified", ["identityImage"], "KTP photo could not be read"),
    ("1234567890111116", "needs_review", ["emailAddress"], "your email address is already registered"),
    ("1234567890111117", "needs_review", ["phoneNumber"], "your mobile number is already registered"),
    ("1234567890111118", "needs_review", ["phoneNumber", "emailAddress"], "your email address and your mobile number are already registered with another NIK"),
    ("1234567890111119", "not_verified", ["liveness_check"], "did not pass the liveness check"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("nik", "status", "reject_fields", "reads"), SEED, ids=[s[0] for s in SEED]
)
def test_each_seed_nik_reaches_its_documented_outcome(
    sandbox, applicant, nik, status, reject_fields, reads
):
    sent = submit(applicant, identityId=nik)

    attempt = Attempt.objects.get()
    assert sent.status_code == 302
    assert sent["Location"] == f"/status/{attempt.code}/"
    assert attempt.status == Attempt.Status.QUEUED
    assert (
        text_of(applicant.get(sent["Location"])).count("We are checking your identity")
        == 1
    )

    run_worker()

    attempt.refresh_from_db()
    assert attempt.status == status
    assert attempt.reject_fields == reject_fields
    assert attempt.reference_id.startswith("ref_certel#")
    assert attempt.provider_id
    assert attempt.applicant == Applicant.objects.get(nik_digest=nik_digest(nik))
    assert attempt.full_name == "ASEP SUPRIYADI"
    assert attempt.email_address == "asep@example.com"
    assert attempt.phone_number == "6281234567890"
    assert attempt.consent_version == PRIVACY_NOTICE_VERSION
    assert attempt.consented_at <= attempt.created_at
    assert attempt.language == "en"
    (call,) = attempt.calls.all()
    assert call.outcome == {"needs_review": "verified_with_reason"}.get(status, status)
    assert call.http_status == 200
    assert call.charged == ProviderCall.Charged.YES
    assert call.duration_ms is not None

    page = text_of(applicant.get(sent["Location"]))
    assert reads in page
    if status == "not_verified":
        assert "Fix and send again" in page

    (email,) = mail.outbox
    assert email.to == ["asep@example.com"]
    assert "/status/link/" in email.body
    assert nik not in email.body


def test_the_status_page_is_not_shown_to_another_browser(sandbox, applicant, client):
    sent = submit(applicant)

    assert "We are checking your identity" in text_of(applicant.get(sent["Location"]))
    assert applicant.get(sent["Location"] + "poll").json()["status"] == "queued"
    assert client.get(sent["Location"]).status_code == 404
    assert client.get(sent["Location"] + "poll").status_code == 404


def test_the_emailed_link_reopens_the_status_page_in_another_browser(
    sandbox, applicant, client
):
    submit(applicant)
    run_worker()
    link = next(line for line in mail.outbox[0].body.split() if "/status/link/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]

    reopened = client.get("/" + path, follow=True)

    assert reopened.status_code == 200
    assert "Identitas Anda sudah terverifikasi" in text_of(reopened)


def test_a_tampered_status_link_shows_that_it_no_longer_works(applicant, db):
    response = applicant.get("/status/link/not-a-real-token/")

    assert response.status_code == 410
    assert "This link no longer works" in text_of(response)


def test_the_poll_answers_with_the_status_while_waiting(sandbox, applicant):
    sent = submit(applicant)

    waiting = applicant.get(sent["Location"] + "poll").json()
    run_worker()
    done = applicant.get(sent["Location"] + "poll").json()

    assert waiting == {"status": "queued", "waiting": True}
    assert done == {"status": "verified", "waiting": False}


def test_the_page_refreshes_itself_without_javascript_only_while_waiting(
    sandbox, applicant
):
    sent = submit(applicant)
    waiting = applicant.get(sent["Location"]).content.decode()
    run_worker()
    done = applicant.get(sent["Location"]).content.decode()

    assert '<meta http-equiv="refresh" content="5">' in waiting
    assert "js/status.js" in waiting
    assert "refresh" not in done


def test_the_review_page_keeps_watching_for_the_decision(sandbox, applicant):
    sent = submit(applicant, identityId="1234567890111116")
    run_worker()

    html = applicant.get(sent["Location"]).content.decode()

    assert 'data-waiting="review"' in html
    assert "js/status.js" in html
    assert '<meta http-equiv="refresh" content="60">' in html
