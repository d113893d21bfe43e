"""Logs as JSON lines (LOG_FORMAT=json): one object a line, with the attempt's code
when the line is about one, and nothing else a caller attaches; a whole verification
logged this way carries no identity data."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import RequestFactory

from onboarding.logformat import FIELDS, JsonLines
from tests.applying import submit
from tests.worker import run_worker
from verification.lookups import nik_digest
from verification.models import Attempt

CODE = "1f0c7a52-6d0e-4c52-9a7e-3c1f6a2b9d10"


@pytest.fixture
def json_lines():
    """Everything logged while the test runs, through the JSON formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def test_a_line_about_an_attempt_carries_its_code_and_nothing_attached(json_lines):
    request = RequestFactory().get("/status/?email=dewi@example.com")
    logging.getLogger("verification.verifying").warning(
        "Attempt %s: provider call failed (%s).",
        CODE,
        "read_timeout",
        extra={"request": request, "status_code": 500},
    )
    logging.getLogger("verification.worker").info("Worker started.")

    first, second = lines(json_lines)
    assert set(first) <= set(FIELDS)
    assert first["attempt"] == CODE
    assert first["level"] == "WARNING"
    assert first["logger"] == "verification.verifying"
    assert first["message"] == f"Attempt {CODE}: provider call failed (read_timeout)."
    assert first["time"].endswith("+00:00")
    assert "dewi" not in json_lines.getvalue()
    assert second["attempt"] is None


def test_an_error_keeps_its_traceback_in_the_line(json_lines):
    try:
        raise RuntimeError("the mail server closed the connection")
    except RuntimeError:
        logging.getLogger("verification.outbox").exception("Attempt %s: send.", CODE)

    (line,) = lines(json_lines)
    assert "RuntimeError" in line["exc_info"]
    assert line["attempt"] == CODE


@pytest.mark.django_db(transaction=True)
def test_a_whole_verification_logs_codes_and_never_identity_data(
    sandbox, applicant, json_lines
):
    submit(
        applicant,
        identityId="3171 0123 4567 8901",
        fullName="Dewi Lestari",
        emailAddress="dewi.lestari@example.com",
        phoneNumber="0812-7777-6666",
    )
    run_worker()

    attempt = Attempt.objects.get(applicant__nik_digest=nik_digest("3171012345678901"))
    logged = lines(json_lines)
    assert any(line["attempt"] == str(attempt.code) for line in logged)
    text = json_lines.getvalue()
    for value in ("3171012345678901", "Dewi", "Lestari", "dewi.lestari", "7777"):
        assert value not in text


def test_the_setting_switches_the_console_to_json_lines(tmp_path):
    script = (
        "import logging, django; django.setup(); "
        f"logging.getLogger('verification.worker').warning('Attempt {CODE}: late.')"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "onboarding.settings",
            "LOG_FORMAT": "json",
            "DATA_DIR": str(tmp_path),
            "PYTHONPATH": str(settings.BASE_DIR),
        },
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    )

    (line,) = [json.loads(text) for text in run.stderr.splitlines() if text]
    assert line["attempt"] == CODE
    assert line["message"] == f"Attempt {CODE}: late."
