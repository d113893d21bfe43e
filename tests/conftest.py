from __future__ import annotations

import re
import uuid
from functools import cache
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests import photos
from verification.tasks import run_due_tasks


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Each test writes identity images to its own private directory."""
    default = settings.STORAGES["default"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            **default,
            "OPTIONS": {**default["OPTIONS"], "location": tmp_path / "private"},
        },
    }


@pytest.fixture
def sandbox(live_server, settings):
    """The built-in sandbox, served over a real socket by the live server, as the
    provider; retries without waiting so a test sees every try."""
    settings.KREDIBEL_BASE_URL = live_server.url + "/sandbox"
    settings.KREDIBEL_API_KEY = settings.SANDBOX_API_KEY
    settings.KREDIBEL_SANDBOX_FAULTS = {}
    settings.VERIFY_RETRY_BASE_SECONDS = 0
    settings.VERIFY_UNKNOWN_DELAY_SECONDS = 0
    return live_server


def run_worker() -> None:
    """Run every task that is due, in this process."""
    run_due_tasks()


@pytest.fixture
def applicant() -> Client:
    """An applicant's browser, reading the site in English."""
    client = Client(headers={"accept-language": "en"})
    return client


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


class _FormFields(HTMLParser):
    def __init__(self, form_marker: str):
        super().__init__()
        self.marker = form_marker
        self.inside = False
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and self.marker in attrs:
            self.inside = True
        elif tag == "input" and self.inside and attrs.get("name"):
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind != "file":
                self.fields[attrs["name"]] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def form_fields(html: str, marker: str = "data-review") -> dict[str, str]:
    """The values a browser would send from the form carrying `marker`."""
    parser = _FormFields(marker)
    parser.feed(html)
    return parser.fields


def submit(client: Client, **overrides):
    """Fill in the form, go through the review step and send. Returns the last
    response (a redirect to the status page when all went well)."""
    review = client.post("/register/", details(**overrides))
    assert review.status_code == 200
    fields = form_fields(review.content.decode())
    assert fields, "the review step did not appear:\n" + text_of(review)[:2000]
    return client.post("/register/confirm/", fields)


def text_of(response) -> str:
    """The page's visible text, spaces collapsed, for asserting what people read."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html)
    return " ".join(unescape(text).split())


def pytest_sessionfinish(session, exitstatus):
    """SQLite's write-ahead log files outlive the test database they belong to."""
    from django.conf import settings

    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and name:
        for suffix in ("-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)
