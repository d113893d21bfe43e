"""Photos kept between requests (drafts) are bounded per browser, in number and
bytes, and per client address: past a browser's bound its oldest photos go, past an
address's bound a new photo is refused beside its field."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.test import Client
from PIL import Image

from onboarding.models import PendingPhoto
from tests.applying import details
from tests.pages import error_of, form_fields

pytestmark = pytest.mark.django_db


def checkerboard() -> SimpleUploadedFile:
    """A few kilobytes of PNG that become a draft of hundreds of kilobytes."""
    small = Image.new("L", (150, 200))
    small.putdata([255 * ((x + y) % 2) for y in range(200) for x in range(150)])
    board = small.resize((1200, 1600), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    board.save(buffer, "PNG", optimize=True)
    return SimpleUploadedFile("board.png", buffer.getvalue(), "image/png")


def send_form_again(browser: Client, **photos):
    """The form sent with a mistake in another field: the photos are kept as
    drafts and the form comes back."""
    response = browser.post("/register/", details(emailAddress="x@", **photos))
    assert error_of(response, "emailAddress")
    return form_fields(response.content.decode(), "data-register")


def test_a_browser_keeps_at_most_its_count_of_drafts_losing_the_oldest(
    applicant, settings
):
    settings.DRAFTS_PER_BROWSER = 4
    for _ in range(5):
        kept = send_form_again(applicant)

    assert PendingPhoto.objects.count() == 4
    # What the form holds now is what is kept: the newest selfie and KTP photo.
    newest = PendingPhoto.objects.order_by("-created_at", "-id")[:2]
    assert {kept["facePhoto"], kept["identityPhoto"]} == {p.token for p in newest}


def test_a_browser_retaking_one_photo_keeps_its_other_photo(applicant, settings):
    settings.DRAFTS_PER_BROWSER = 2
    ktp = send_form_again(applicant)["identityPhoto"]

    for _ in range(3):
        kept = send_form_again(applicant, identityImage=None, identityPhoto=ktp)

    assert kept["identityPhoto"] == ktp
    assert PendingPhoto.objects.count() == 2
    assert PendingPhoto.objects.filter(token=ktp).exists()


def test_a_browser_keeps_at_most_its_bytes_of_drafts(applicant, settings):
    board = checkerboard()
    assert (board.size or 0) < 20_000
    settings.DRAFT_BYTES_PER_BROWSER = 2_500_000

    for _ in range(6):
        send_form_again(applicant, faceImage=checkerboard())

    stored = PendingPhoto.objects.aggregate(total=Sum("size"))["total"]
    assert stored is not None
    assert 0 < stored <= 2_500_000
    assert all(photo.size == len(photo.read()) for photo in PendingPhoto.objects.all())


def test_past_an_address_bound_a_new_photo_is_refused_beside_its_field(settings):
    settings.DRAFTS_PER_CLIENT_ADDRESS = 2
    first = Client(headers={"accept-language": "en"})
    send_form_again(first)

    # Another browser on the same address: nothing more is kept from it.
    second = Client(headers={"accept-language": "en"})
    response = second.post("/register/", details())

    assert "Too many photos have been sent from your internet connection" in (
        error_of(response, "faceImage")
    )
    assert 'value="Asep  supriyadi"' in response.content.decode()
    assert PendingPhoto.objects.count() == 2
    # Another address is not held back by this one.
    elsewhere = Client(headers={"accept-language": "en"}, REMOTE_ADDR="192.0.2.7")
    assert send_form_again(elsewhere)["facePhoto"]


def test_a_draft_stores_a_keyed_digest_of_the_address_never_the_address(applicant):
    send_form_again(applicant)

    clients = set(PendingPhoto.objects.values_list("client", flat=True))
    assert len(clients) == 1
    (digest,) = clients
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert "127.0.0.1" not in digest
