"""Not verified: the applicant fixes only what failed and sends again; the new
attempt belongs to the same applicant and keeps what was right."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from onboarding.models import PendingPhoto
from tests.applying import submit
from tests.pages import form_fields, matched, text_of
from tests.photos import phone_jpeg
from tests.worker import run_worker
from verification.models import Applicant, Attempt

pytestmark = pytest.mark.django_db(transaction=True)


def rejected(applicant, nik: str) -> Attempt:
    sent = submit(applicant, identityId=nik)
    run_worker()
    page = text_of(applicant.get(sent["Location"]))
    assert "Fix and send again" in page
    return Attempt.objects.get()


def open_fix_form(applicant, attempt: Attempt):
    response = applicant.get(f"/register/retry/{attempt.code}/")
    assert response.status_code == 200
    return response


def content(image) -> bytes:
    with image.open("rb") as f:
        return f.read()


def fix_section(response) -> str:
    html = response.content.decode()
    return matched(r'<section class="fix">(.*?)</section>', html, 1, re.S)


def test_a_rejected_selfie_asks_only_for_a_new_selfie(sandbox, applicant):
    first = rejected(applicant, "1234567890111114")

    form = open_fix_form(applicant, first)
    fields = form_fields(form.content.decode(), "data-register")

    assert "Fix and send again" in text_of(form)
    assert 'name="faceImage"' in fix_section(form)
    assert 'name="fullName"' not in fix_section(form)
    assert fields["identityId"] == "1234567890111114"
    assert fields["fullName"] == "ASEP SUPRIYADI"
    assert fields["emailAddress"] == "asep@example.com"
    assert fields["identityPhoto"]  # the KTP photo passed and comes along
    assert not fields["facePhoto"]
    assert fields["consent"] == "on"  # agreed with the last application

    new_selfie = SimpleUploadedFile("selfie.jpg", phone_jpeg((960, 1280)), "image/jpeg")
    review = applicant.post("/register/", {**fields, "faceImage": new_selfie})
    sent = applicant.post("/register/confirm/", form_fields(review.content.decode()))

    second = Attempt.objects.exclude(pk=first.pk).get()
    assert sent["Location"] == f"/status/{second.code}/"
    assert second.retry_of == first
    assert second.applicant == first.applicant
    assert Applicant.objects.count() == 1
    assert content(second.identity_image) == content(first.identity_image)
    assert content(second.face_image) != content(first.face_image)


def test_a_failed_liveness_check_asks_for_a_new_selfie_with_tips(sandbox, applicant):
    first = rejected(applicant, "1234567890111119")

    page = text_of(applicant.get(f"/status/{first.code}/"))
    form = open_fix_form(applicant, first)

    assert "Do not photograph a screen or a printed photo." in page
    assert 'name="faceImage"' in fix_section(form)


def test_a_rejected_name_asks_only_for_the_name_and_keeps_both_photos(
    sandbox, applicant
):
    first = rejected(applicant, "1234567890111112")

    form = open_fix_form(applicant, first)
    fields = form_fields(form.content.decode(), "data-register")

    assert 'name="fullName"' in fix_section(form)
    assert 'name="faceImage"' not in fix_section(form)
    assert fields["facePhoto"]
    assert fields["identityPhoto"]

    review = applicant.post(
        "/register/", {**fields, "fullName": "Asep Supriyadi Putra"}
    )
    applicant.post("/register/confirm/", form_fields(review.content.decode()))
    run_worker()

    second = Attempt.objects.exclude(pk=first.pk).get()
    assert second.full_name == "ASEP SUPRIYADI PUTRA"
    assert second.retry_of == first


def test_a_corrected_nik_sends_the_fix_under_that_nik(sandbox, applicant):
    first = rejected(applicant, "1234567890111111")

    form = open_fix_form(applicant, first)
    fields = form_fields(form.content.decode(), "data-register")
    assert 'name="identityId"' in fix_section(form)

    review = applicant.post("/register/", {**fields, "identityId": "1234567890123456"})
    sent = applicant.post("/register/confirm/", form_fields(review.content.decode()))
    run_worker()

    second = Attempt.objects.exclude(pk=first.pk).get()
    assert second.retry_of == first
    assert second.applicant.nik == "1234567890123456"
    assert second.status == Attempt.Status.VERIFIED
    assert "Your identity is verified" in text_of(applicant.get(sent["Location"]))


def test_only_the_applicants_browser_opens_the_fix_form(sandbox, applicant, client):
    first = rejected(applicant, "1234567890111114")

    assert 'name="faceImage"' in fix_section(open_fix_form(applicant, first))
    assert client.get(f"/register/retry/{first.code}/").status_code == 404


def test_a_verified_attempt_has_nothing_to_fix(sandbox, applicant):
    sent = submit(applicant)
    run_worker()
    attempt = Attempt.objects.get()

    response = applicant.get(f"/register/retry/{attempt.code}/")

    assert response.status_code == 302
    assert response["Location"] == sent["Location"]


def test_the_emailed_link_shows_the_outcome_but_not_the_data_or_photos(
    sandbox, applicant, client
):
    first = rejected(applicant, "1234567890111114")
    link = next(w for w in mail.outbox[0].body.split() if "/status/link/" in w)
    client.get(urlsplit(link).path)

    status = text_of(client.get(f"/status/{first.code}/"))
    form = client.get(f"/register/retry/{first.code}/")
    fields = form_fields(form.content.decode(), "data-register")

    assert "Perbaiki dan kirim lagi" in status
    assert "dikirim dari perangkat lain" in text_of(form)
    assert fields["retryOf"] == str(first.code)
    for name in ("identityId", "fullName", "emailAddress", "phoneNumber"):
        assert fields[name] == ""
    assert not fields["facePhoto"]
    assert not fields["identityPhoto"]
    assert "1234567890111114" not in form.content.decode()
    assert "asep@example.com" not in form.content.decode()
    assert not PendingPhoto.objects.exists()
