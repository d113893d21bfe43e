"""Switching language in the middle of the form, or on the review step, keeps what
was typed and every photo received: the page posts itself to the switch, with and
without JavaScript."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from onboarding.models import PendingPhoto
from tests.applying import details
from tests.pages import form_fields, text_of
from tests.photos import encode

pytestmark = pytest.mark.django_db


def test_the_form_page_switches_language_with_everything_typed(client):
    page = client.get("/register/").content.decode()
    assert re.search(
        r'<button type="submit" name="language" value="en" lang="en" '
        r'form="registration" formaction="/register/language/"',
        page,
    )

    switched = client.post(
        "/register/language/",
        {**details(emailAddress="asep@"), "language": "en"},
    )

    html = switched.content.decode()
    assert '<html lang="en">' in html
    assert "Your details" in text_of(switched)
    kept = form_fields(html, "data-register")
    assert kept["identityId"] == "1234 5678 9012 3456"
    assert kept["emailAddress"] == "asep@"
    assert PendingPhoto.objects.get(token=kept["facePhoto"]).kind == "face"
    # Not sent, so nothing is marked wrong yet.
    assert "Please check the following" not in text_of(switched)
    assert switched.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert '<html lang="en">' in client.get("/").content.decode()


def test_the_review_step_switches_language_and_stays_the_review_step(client):
    review = client.post("/register/", details())
    fields = form_fields(review.content.decode())
    assert fields["step"] == "review"

    switched = client.post("/register/language/", {**fields, "language": "en"})

    assert "Check before sending" in text_of(switched)
    again = form_fields(switched.content.decode())
    assert {k: v for k, v in again.items() if k != "csrfmiddlewaretoken"} == {
        k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"
    }


def test_only_a_refused_photo_is_said_after_the_switch(client):
    dark = Image.new("RGB", (960, 1280), (12, 12, 12))
    response = client.post(
        "/register/language/",
        {
            **details(identityImage=None, emailAddress=""),
            "faceImage": SimpleUploadedFile("selfie.jpg", encode(dark), "image/jpeg"),
            "language": "en",
        },
    )

    form = response.context["form"]
    assert "too dark" in " ".join(form.errors["faceImage"])
    # Not sent yet: a missing KTP photo or email is nothing to point out.
    assert set(form.errors) == {"faceImage"}
    assert "too dark" in text_of(response)


def test_an_unknown_language_keeps_the_current_one(client):
    response = client.post("/register/language/", {**details(), "language": "xx"})

    assert '<html lang="id">' in response.content.decode()
