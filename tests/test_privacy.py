"""Identity data (NIK, names, birth dates, contacts, photos) never reaches a log
line, a URL or public storage."""

from __future__ import annotations

import logging
import re
import stat
from pathlib import Path

import pytest
from django.core import mail

from tests.applying import details, submit
from tests.pages import form_fields
from tests.worker import run_worker
from verification.models import Attempt

pytestmark = pytest.mark.django_db(transaction=True)

NIK = "1234567890111116"  # a sandbox NIK that ends in review
IDENTITY = [
    NIK,
    "1234 5678 9011 1116",
    "ASEP SUPRIYADI",
    "Asep  supriyadi",
    "asep@example.com",
    "6281234567890",
    "0812-3456-7890",
    "1990-07-06",
]


@pytest.fixture
def every_log_line(caplog):
    """Every record from every logger, at DEBUG, including Django's own (which do
    not propagate to the root logger)."""
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("django", "django_tasks_db")]
    for logger in loggers:
        logger.addHandler(caplog.handler)
    yield caplog
    for logger in loggers:
        logger.removeHandler(caplog.handler)


def test_no_identity_data_reaches_a_log_line_or_a_url(
    sandbox, settings, applicant, every_log_line
):
    settings.DEBUG = True  # the embedded default, where SQL logging is possible
    urls = []
    first = applicant.post("/register/", details(identityId=NIK, emailAddress="asep@"))
    kept = form_fields(first.content.decode(), "data-register")
    urls += re.findall(r'(?:href|src|action)="([^"]+)"', first.content.decode())
    sent = submit(applicant, identityId="1234 5678 9011 1116")
    urls.append(sent["Location"])
    page = applicant.get(sent["Location"])
    urls += re.findall(
        r'(?:href|src|action|data-poll-url)="([^"]+)"', page.content.decode()
    )
    run_worker()
    urls += re.findall(r"https?://\S+", str(mail.outbox[0].body))
    applicant.get("/register/photo/not-a-token/")  # a 404 is logged, with its path

    logged = "\n".join(
        record.getMessage() + " " + str(record.exc_text or "")
        for record in every_log_line.records
    )
    assert every_log_line.records, "nothing was logged, so nothing was checked"
    assert kept["facePhoto"]
    for value in IDENTITY:
        assert value not in logged
        for url in urls:
            assert value not in url
            assert value.replace(" ", "%20") not in url


def test_photos_are_kept_private_on_disk_and_under_no_url(sandbox, applicant, settings):
    submit(applicant)
    attempt = Attempt.objects.get()
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    face = Path(attempt.face_image.path)

    assert face.is_relative_to(root)
    assert stat.S_IMODE(face.stat().st_mode) == 0o600
    assert stat.S_IMODE(face.parent.stat().st_mode) == 0o700
    assert attempt.face_image.name == f"attempts/{attempt.code}/face.jpg"
    for guess in (
        f"/{attempt.face_image.name}",
        f"/media/{attempt.face_image.name}",
        f"/static/{attempt.face_image.name}",
        f"/private/{attempt.face_image.name}",
    ):
        assert applicant.get(guess).status_code == 404
