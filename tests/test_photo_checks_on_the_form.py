"""The photo quality checks where the applicant meets them: a photo too dark,
overexposed or blurred is refused beside its field with a retake, before any money
is spent; a selfie without a face (a check that can be wrong) comes with a warning
the applicant may override, and that choice is kept for reviewers."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from onboarding.models import PendingPhoto
from tests.applying import details, selfie_bytes
from tests.kredibel_payloads import Canned, serve_canned
from tests.pages import error_of, form_fields, text_of
from tests.photos import encode, ktp_scene
from tests.reviewing import admin_url, make_user
from tests.worker import run_worker
from verification.models import Attempt

pytestmark = pytest.mark.django_db


def upload(data: bytes, name: str = "selfie.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, "image/jpeg")


def selfie(picture: Image.Image) -> SimpleUploadedFile:
    return upload(encode(picture))


def portrait() -> Image.Image:
    with Image.open(io.BytesIO(selfie_bytes())) as im:
        return im.convert("RGB")


def no_face() -> SimpleUploadedFile:
    """A sharp, well-lit KTP in the selfie slot: no face the size of a selfie's."""
    return upload(encode(ktp_scene((1600, 1000))))


@pytest.mark.parametrize(
    ("picture", "message"),
    [
        pytest.param(
            lambda: ImageEnhance.Brightness(portrait()).enhance(0.15),
            "too dark",
            id="dark",
        ),
        pytest.param(
            lambda: ImageEnhance.Brightness(portrait()).enhance(3),
            "too bright",
            id="overexposed",
        ),
        pytest.param(
            lambda: portrait().filter(ImageFilter.GaussianBlur(14)),
            "blurred",
            id="blurred",
        ),
    ],
)
def test_a_photo_the_provider_would_reject_is_refused_beside_its_field(
    applicant, picture, message
):
    response = applicant.post("/register/", details(faceImage=selfie(picture())))

    assert message in error_of(response, "faceImage")
    assert "take it again" in error_of(response, "faceImage")
    assert not PendingPhoto.objects.filter(kind="face").exists()
    # Everything else is kept: the typed values and the KTP photo.
    kept = form_fields(response.content.decode(), "data-register")
    assert kept["fullName"] == "Asep  supriyadi"
    assert PendingPhoto.objects.get(token=kept["identityPhoto"]).kind == "identity"
    assert "Open the camera" in text_of(response)  # the retake


def test_a_refused_photo_never_reaches_the_provider(applicant, live_server, settings):
    canned = Canned()
    with serve_canned(canned) as url:
        settings.KREDIBEL_BASE_URL = url
        dark = selfie(ImageEnhance.Brightness(portrait()).enhance(0.15))
        review = applicant.post("/register/", details(faceImage=dark))
        fields = form_fields(review.content.decode(), "data-register")
        applicant.post("/register/confirm/", {**fields, "consent": "on"})
        run_worker()

    assert not Attempt.objects.exists()
    assert canned.received == []


def test_a_low_detail_photo_is_asked_for_again_not_padded(applicant):
    # Sharp and well lit, but plain: lines of text on grey, far under 100 KB even
    # at quality 95.
    plain = Image.new("RGB", (600, 800), (150, 150, 150))
    draw = ImageDraw.Draw(plain)
    for top in range(20, 800, 60):
        draw.text((20, top), "Lorem ipsum dolor sit amet", fill="black", font_size=20)

    response = applicant.post("/register/", details(faceImage=selfie(plain)))

    assert "too little detail" in error_of(response, "faceImage")


def test_a_selfie_without_a_face_may_be_sent_once_the_warning_is_accepted(applicant):
    review = applicant.post("/register/", details(faceImage=no_face()))
    assert "No face could be found in the selfie." in text_of(review)
    fields = form_fields(review.content.decode())

    refused = applicant.post("/register/confirm/", fields)

    assert "tick the box to send it as it is" in error_of(
        refused, "acceptPhotoWarnings"
    )
    assert "Check before sending" in text_of(refused)  # still the review step
    assert not Attempt.objects.exists()

    sent = applicant.post("/register/confirm/", {**fields, "acceptPhotoWarnings": "on"})

    assert sent.status_code == 302
    assert Attempt.objects.get().photo_warnings == ["no_face"]


def test_the_warning_shows_beside_the_kept_photo_when_the_form_comes_back(applicant):
    response = applicant.post(
        "/register/", details(faceImage=no_face(), emailAddress="asep@")
    )

    assert "No face could be found in the selfie." in text_of(response)
    assert "send it as it is from the next step" in text_of(response)


def test_reviewers_see_which_warnings_the_applicant_overrode(applicant, client):
    review = applicant.post("/register/", details(faceImage=no_face()))
    applicant.post(
        "/register/confirm/",
        {**form_fields(review.content.decode()), "acceptPhotoWarnings": "on"},
    )
    attempt = Attempt.objects.get()
    client.force_login(make_user("dewi", reviewer=True))

    page = text_of(client.get(admin_url("attempt_change", attempt.pk)))

    assert "memilih untuk tetap mengirimnya" in page
    assert "Swafoto: tidak ada wajah yang ditemukan" in page


def test_a_good_selfie_needs_no_confirmation(applicant):
    review = applicant.post("/register/", details())

    assert "acceptPhotoWarnings" not in review.content.decode()
    sent = applicant.post("/register/confirm/", form_fields(review.content.decode()))
    assert sent.status_code == 302
    assert Attempt.objects.get().photo_warnings == []
