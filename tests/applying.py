"""Filling in the applicant's form as a browser would: the details with both photos,
through the review step to the send."""

from __future__ import annotations

import uuid
from functools import cache

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests import photos
from tests.pages import form_fields, text_of


@cache
def selfie_bytes() -> bytes:
    return photos.phone_jpeg((1200, 1600))


@cache
def ktp_bytes() -> bytes:
    return photos.phone_jpeg((1600, 1000))


def details(**overrides) -> dict:
    """The form as an applicant fills it in, with both photos."""
    data = {
        "identityId": "1234 5678 9012 3456",
        "fullName": "Asep  supriyadi",
        "birthDate": "1990-07-06",
        "emailAddress": "asep@Example.COM",
        "phoneNumber": "0812-3456-7890",
        "consent": "on",
        "submission": str(uuid.uuid4()),
        "faceImage": SimpleUploadedFile("selfie.jpg", selfie_bytes(), "image/jpeg"),
        "identityImage": SimpleUploadedFile("ktp.jpg", ktp_bytes(), "image/jpeg"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def submit(client: Client, **overrides):
    """Fill in the form, go through the review step and send. Returns the last
    response (a redirect to the status page when all went well)."""
    review = client.post("/register/", details(**overrides))
    assert review.status_code == 200
    fields = form_fields(review.content.decode())
    assert fields, "the review step did not appear:\n" + text_of(review)[:2000]
    return client.post("/register/confirm/", fields)
