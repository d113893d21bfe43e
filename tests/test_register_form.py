"""The registration form over HTTP: what the applicant sees when something is wrong,
and that nothing they gave is lost."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from onboarding.models import Handoff, PendingPhoto
from tests.applying import details, submit
from tests.pages import error_of, form_fields, matched, summary_of, text_of
from tests.photos import phone_jpeg
from verification.models import Attempt

pytestmark = pytest.mark.django_db

# A structurally valid NIK: DKI Jakarta (31), born 6 July 1990, a woman (day + 40).
VALID_NIK = "3174054607900001"


def test_the_form_asks_for_the_provider_fields_with_plain_photo_inputs(applicant):
    html = applicant.get("/register/").content.decode()

    for name in ("identityId", "fullName", "birthDate", "emailAddress", "phoneNumber"):
        assert f'name="{name}"' in html
    assert re.search(
        r'<input type="file" name="faceImage"[^>]*accept="image/jpeg,image/png"'
        r'[^>]*capture="user"',
        html,
    )
    assert re.search(
        r'<input type="file" name="identityImage"[^>]*capture="environment"', html
    )
    consent = matched(r'<input type="checkbox" name="consent"[^>]*>', html)
    assert "checked" not in consent
    assert 'href="/privacy/"' in html
    assert 'enctype="multipart/form-data"' in html


def test_the_privacy_notice_says_purpose_data_retention_and_rights(applicant):
    page = text_of(applicant.get("/privacy/"))

    for heading in ("Why we ask", "What we keep", "How long we keep it", "Your rights"):
        assert heading in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("identityId", "123456789012345", "exactly 16 digits. You entered 15"),
        ("identityId", "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦", "only the digits 0 to 9"),
        ("identityId", "", "This field is required"),
        ("fullName", "Asep 2nd", "cannot contain digits"),
        ("fullName", "A\u200bsep", "invisible or control character"),
        ("fullName", "A", "at least 2 characters"),
        ("birthDate", "2999-01-01", "cannot be in the future"),
        ("birthDate", "1990-02-30", "Enter a real date"),
        ("birthDate", "1880-01-01", "more than 120 years ago"),
        ("emailAddress", "asep@", "not a valid email address"),
        ("phoneNumber", "021 555 1234", "looks like a landline"),
        ("phoneNumber", "+65 8123 4567", "Indonesian mobile number"),
        ("phoneNumber", "0812-ABCD", "only digits"),
        ("consent", None, "agree to the privacy notice"),
    ],
    ids=lambda v: str(v)[:24] if v else "missing",
)
def test_a_bad_value_gets_a_message_beside_its_field_and_in_the_summary(
    applicant, field, value, message
):
    response = applicant.post("/register/", details(**{field: value}))

    assert response.status_code == 200
    assert message in error_of(response, field)
    assert message in summary_of(response)
    assert not Attempt.objects.exists()


def test_the_selfie_must_be_a_photo_it_can_read(applicant):
    html_as_jpeg = SimpleUploadedFile(
        "selfie.jpg", b"<html><body>hi</body></html>" * 50
    )

    response = applicant.post("/register/", details(faceImage=html_as_jpeg))

    assert "not a photo we can read" in error_of(response, "faceImage")


def test_a_photo_too_small_for_the_provider_asks_for_a_retake(applicant):
    tiny = SimpleUploadedFile("selfie.jpg", phone_jpeg((300, 400)), "image/jpeg")

    response = applicant.post("/register/", details(faceImage=tiny))

    assert error_of(response, "faceImage")
    assert "faceImage" in response.context["form"].errors


def test_missing_photos_are_asked_for(applicant):
    response = applicant.post("/register/", details(faceImage=None, identityImage=None))

    assert "Take a selfie" in error_of(response, "faceImage")
    assert "Take a photo of your KTP" in error_of(response, "identityImage")


def test_an_error_in_one_field_keeps_what_was_typed_and_the_photos(applicant):
    first = applicant.post("/register/", details(emailAddress="asep@"))
    kept = form_fields(first.content.decode(), "data-register")

    assert kept["fullName"] == "Asep  supriyadi"
    assert kept["identityId"] == "1234 5678 9012 3456"
    assert kept["facePhoto"]
    assert kept["identityPhoto"]
    assert PendingPhoto.objects.count() == 2
    photo = applicant.get(f"/register/photo/{kept['facePhoto']}/")
    assert photo["Content-Type"] == "image/jpeg"
    assert b"".join(photo.streaming_content)[:2] == b"\xff\xd8"

    # The applicant fixes the email only; no photo is taken again.
    fixed = {**kept, "emailAddress": "asep@example.com", "consent": "on"}
    review = applicant.post("/register/", fixed)

    assert review.status_code == 200
    assert "Check before sending" in text_of(review)
    assert form_fields(review.content.decode())["facePhoto"] == kept["facePhoto"]


def test_kept_photos_are_shown_only_to_the_browser_that_sent_them(applicant, client):
    first = applicant.post("/register/", details(emailAddress="asep@"))
    token = form_fields(first.content.decode(), "data-register")["facePhoto"]

    response = client.get(f"/register/photo/{token}/")

    assert response.status_code == 404
    mine = applicant.get(f"/register/photo/{token}/")
    assert b"".join(mine.streaming_content)[:2] == b"\xff\xd8"
    assert mine["Cache-Control"] == "no-store, private"
    assert mine["X-Content-Type-Options"] == "nosniff"


def test_a_photo_token_from_another_browser_does_not_count(applicant, client):
    first = applicant.post("/register/", details(emailAddress="asep@"))
    kept = form_fields(first.content.decode(), "data-register")

    response = client.post(
        "/register/", {**kept, "emailAddress": "asep@example.com", "consent": "on"}
    )

    assert "Ambil swafoto" in error_of(response, "faceImage")  # in Indonesian


def test_the_review_step_shows_what_will_be_sent_with_change_links(applicant):
    review = applicant.post("/register/", details())
    page = text_of(review)

    assert "1234567890123456" in page
    assert "ASEP SUPRIYADI" in page
    assert "asep@example.com" in page
    assert "+6281234567890" in page
    assert review.content.decode().count('name="edit"') == 7


def test_change_from_the_review_step_returns_to_the_form_with_everything(applicant):
    review = applicant.post("/register/", details())
    fields = form_fields(review.content.decode())

    back = applicant.post("/register/edit/", {**fields, "edit": "fullName"})

    html = back.content.decode()
    assert 'value="ASEP SUPRIYADI"' in html
    assert re.search(r'name="fullName"[^>]*autofocus', html)
    assert form_fields(html, "data-register")["facePhoto"] == fields["facePhoto"]
    assert not back.context["form"].errors


def test_a_birth_date_unlike_the_nik_is_sent_only_once_confirmed(applicant):
    review = applicant.post(
        "/register/", details(identityId=VALID_NIK, birthDate="1990-07-07")
    )
    assert "not the one encoded in your NIK" in text_of(review)
    fields = form_fields(review.content.decode())

    refused = applicant.post("/register/confirm/", fields)

    assert refused.status_code == 200
    assert "tick the box" in error_of(refused, "confirmBirthDate")
    assert not Attempt.objects.exists()

    sent = applicant.post("/register/confirm/", {**fields, "confirmBirthDate": "on"})

    assert sent.status_code == 302
    assert Attempt.objects.get().birth_date_confirmed


def test_a_birth_date_matching_the_nik_needs_no_confirmation(applicant):
    sent = submit(applicant, identityId=VALID_NIK, birthDate="1990-07-06")

    assert sent.status_code == 302
    assert not Attempt.objects.get().birth_date_confirmed


def test_an_impossible_nik_only_warns_while_the_provider_is_a_sandbox(
    applicant, settings
):
    settings.NIK_STRUCTURE_CHECK = "warn"

    review = applicant.post("/register/", details(identityId="1234567890123456"))

    assert "does not look like a usual NIK" in text_of(review)
    assert (
        applicant.post(
            "/register/confirm/", form_fields(review.content.decode())
        ).status_code
        == 302
    )


def test_an_impossible_nik_is_refused_in_production(applicant, settings):
    settings.NIK_STRUCTURE_CHECK = "block"

    response = applicant.post("/register/", details(identityId="9934567890123456"))

    assert "do not match any Indonesian province" in error_of(response, "identityId")
    valid = applicant.post("/register/", details(identityId=VALID_NIK))
    assert "Check before sending" in text_of(valid)
    assert form_fields(valid.content.decode())["identityId"] == VALID_NIK


def test_a_form_sent_twice_makes_one_attempt(applicant):
    review = applicant.post("/register/", details())
    fields = form_fields(review.content.decode())

    first = applicant.post("/register/confirm/", fields)
    again = applicant.post("/register/confirm/", fields)

    assert Attempt.objects.count() == 1
    assert first["Location"] == again["Location"]


def test_another_browser_cannot_claim_an_attempt_by_replaying_its_form(
    applicant, client
):
    review = applicant.post("/register/", details())
    fields = form_fields(review.content.decode())
    applicant.post("/register/confirm/", fields)

    replayed = client.post("/register/confirm/", fields)

    # The photos were the first browser's: this one is asked for its own.
    assert "Ambil swafoto" in error_of(replayed, "faceImage")
    assert "Ambil foto KTP Anda" in error_of(replayed, "identityImage")
    assert Attempt.objects.count() == 1
    assert client.get(f"/status/{Attempt.objects.get().code}/").status_code == 404


def test_a_nik_gets_five_attempts_a_day_from_one_browser(applicant, settings):
    settings.ATTEMPTS_PER_NIK_PER_DAY = 5
    for _ in range(5):
        assert submit(applicant).status_code == 302

    refused = applicant.post("/register/", details())

    assert (
        "You have sent this NIK 5 times from this browser in the last 24 hours"
        in error_of(refused, "identityId")
    )
    assert Attempt.objects.count() == 5


def test_a_browser_gets_a_limited_number_of_attempts(applicant, settings):
    settings.ATTEMPTS_PER_SESSION = 2
    submit(applicant, identityId="1234567890000001")
    submit(applicant, identityId="1234567890000002")

    refused = applicant.post("/register/", details(identityId="1234567890000003"))

    assert "You have sent 2 applications from this browser today" in summary_of(refused)
    assert Attempt.objects.count() == 2


@pytest.mark.parametrize(
    "hostile",
    [
        "\x00",
        "A" * 100_000,
        "'; DROP TABLE verification_attempt; --",
        "<script>alert(1)</script>",
        "０８１２３４５６７８９０",
        "{{ settings.SECRET_KEY }}",
    ],
    ids=["nul", "huge", "sql", "html", "fullwidth", "template"],
)
def test_hostile_input_in_any_field_gets_messages_not_a_server_error(
    applicant, hostile
):
    data = details(submission=hostile, retryOf=hostile, facePhoto=hostile)
    for name in ("identityId", "fullName", "birthDate", "emailAddress", "phoneNumber"):
        data[name] = hostile

    response = applicant.post("/register/", data)
    confirm = applicant.post(
        "/register/confirm/", {k: v for k, v in data.items() if isinstance(v, str)}
    )

    assert response.status_code == 200
    assert confirm.status_code == 200
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert not Attempt.objects.exists()


def test_bytes_that_are_not_utf8_get_messages_not_a_server_error(applicant):
    body = "identityId=%FF%FE&fullName=%ED%A0%80&consent=on&submission=%C0"

    for url in ("/register/", "/register/confirm/", "/register/handoff/"):
        response = applicant.post(
            url, data=body, content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 200


def test_a_file_over_fifteen_megabytes_is_refused_with_a_message(applicant):
    big = SimpleUploadedFile(
        "selfie.jpg", b"\xff\xd8" + b"\0" * (15 * 1024 * 1024 + 10)
    )

    response = applicant.post("/register/", details(faceImage=big))

    assert response.status_code == 200
    assert error_of(response, "faceImage")


def test_the_handoff_link_opens_the_same_form_on_one_phone(applicant, client):
    first = applicant.post("/register/", details(emailAddress="asep@"))
    kept = form_fields(first.content.decode(), "data-register")

    page = applicant.post("/register/handoff/", kept)
    link = matched(
        r'href="(http://testserver/continue/[^"]+)"', page.content.decode(), 1
    )
    path = link.removeprefix("http://testserver")

    assert "<svg" in page.content.decode()
    opened = client.get(path)
    html = opened.content.decode()
    assert opened.status_code == 200
    assert 'value="Asep  supriyadi"' in html
    phone_fields = form_fields(html, "data-register")
    photo = client.get(f"/register/photo/{phone_fields['facePhoto']}/")
    assert b"".join(photo.streaming_content)[:2] == b"\xff\xd8"
    assert client.get(path).status_code == 200  # the same phone may reload it
    another_phone = Client()
    assert another_phone.get(path).status_code == 410  # any other browser may not
    assert uuid.UUID(phone_fields["submission"]) != uuid.UUID(kept["submission"])


def handoff_path(page) -> str:
    return matched(
        r'href="http://testserver(/continue/[^"]+)"', page.content.decode(), 1
    )


def test_back_to_the_form_on_the_computer_keeps_what_was_typed(applicant, client):
    first = applicant.post("/register/", details(emailAddress="asep@"))
    page = applicant.post(
        "/register/handoff/", form_fields(first.content.decode(), "data-register")
    )
    back = matched(
        r'<a href="(/continue/[^"]+)">Back to the form', page.content.decode(), 1
    )

    again = applicant.get(back)

    assert 'value="Asep  supriyadi"' in again.content.decode()
    assert 'value="0812-3456-7890"' in again.content.decode()
    # Opening it on the computer did not use it up: the phone still gets the form.
    phone = client.get(handoff_path(page))
    assert 'value="Asep  supriyadi"' in phone.content.decode()
    assert Handoff.objects.get().opened_by == client.session["browser"]


def test_an_expired_handoff_link_says_so(applicant, client):
    page = applicant.post("/register/handoff/", {"fullName": "Asep"})
    Handoff.objects.update(created_at=timezone.now() - timedelta(minutes=16))

    response = client.get(handoff_path(page))

    assert response.status_code == 410
    assert "Tautan ini tidak berlaku lagi" in text_of(response)
    assert "15 menit" in text_of(response)


def test_a_huge_upload_is_cut_off_and_refused_keeping_the_rest(applicant, tmp_path):
    huge = SimpleUploadedFile("selfie.jpg", b"\xff\xd8" + b"\0" * (40 * 1024 * 1024))

    response = applicant.post("/register/", details(faceImage=huge, emailAddress="x@"))

    assert "larger than 15 MB" in error_of(response, "faceImage")
    assert form_fields(response.content.decode(), "data-register")["identityPhoto"]
    assert 'value="Asep  supriyadi"' in response.content.decode()


def test_a_handoff_with_nul_characters_is_kept_without_them(applicant):
    page = applicant.post(
        "/register/handoff/", {"fullName": "A\x00sep", "identityId": "\x00"}
    )

    assert page.status_code == 200
    assert Handoff.objects.get().values["fullName"] == "Asep"
