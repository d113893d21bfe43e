"""The review step's "send" clicked twice: two real requests at the same moment.
The applicant lands on the one attempt's status page either way, no request fails,
and no photo is left without its row; a sweep removes any that a dead process left
behind."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from onboarding.models import PendingPhoto
from tests.applying import details, ktp_bytes, selfie_bytes
from tests.attempts import stored_attempt
from tests.pages import form_fields
from tests.processes import private_media_root
from verification import recovery
from verification.models import Attempt

pytestmark = pytest.mark.django_db(transaction=True)

CLICKS = 5


def private_files() -> list[Path]:
    root = private_media_root()
    return sorted(path for path in root.rglob("*") if path.is_file())


def review_step(browser: requests.Session, base: str) -> dict[str, str]:
    browser.get(base + "/register/", timeout=30)
    values = details()
    files = {
        "faceImage": ("selfie.jpg", selfie_bytes(), "image/jpeg"),
        "identityImage": ("ktp.jpg", ktp_bytes(), "image/jpeg"),
    }
    fields = {k: v for k, v in values.items() if k not in files}
    fields["csrfmiddlewaretoken"] = browser.cookies["csrftoken"]
    review = browser.post(base + "/register/", data=fields, files=files, timeout=60)
    sent = form_fields(review.text)
    assert sent, "the review step did not appear"
    return sent


def double_click(browser: requests.Session, url: str, fields: dict[str, str]):
    start = threading.Barrier(2)
    answers: list[requests.Response] = []

    def click() -> None:
        start.wait()
        answers.append(
            browser.post(url, data=fields, allow_redirects=False, timeout=60)
        )

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    return answers


def test_a_double_click_leads_both_requests_to_the_one_attempt(live_server, settings):
    settings.ATTEMPTS_PER_SESSION = 100
    settings.ATTEMPTS_PER_NIK_PER_DAY = 100
    for _ in range(CLICKS):
        browser = requests.Session()
        browser.headers["Accept-Language"] = "en"
        fields = review_step(browser, live_server.url)

        answers = double_click(browser, live_server.url + "/register/confirm/", fields)

        assert [answer.status_code for answer in answers] == [302, 302]
        (location,) = {answer.headers["Location"] for answer in answers}
        attempt = Attempt.objects.get(submission=fields["submission"])
        assert location == f"/status/{attempt.code}/"
        page = browser.get(live_server.url + location, timeout=30)
        assert page.status_code == 200
        assert "We are checking your identity" in page.text

    assert Attempt.objects.count() == CLICKS
    assert not PendingPhoto.objects.exists()
    expected = sorted(
        Path(attempt.face_image.path) for attempt in Attempt.objects.all()
    ) + sorted(Path(attempt.identity_image.path) for attempt in Attempt.objects.all())
    assert sorted(private_files()) == sorted(expected)


def age(path: Path, hours: float) -> None:
    then = (timezone.now() - timedelta(hours=hours)).timestamp()
    os.utime(path, (then, then))


def test_the_sweep_removes_photo_folders_left_without_their_row():
    kept = stored_attempt()
    root = private_media_root()
    orphan = root / "attempts" / str(uuid.uuid4())
    young = root / "attempts" / str(uuid.uuid4())
    for folder in (orphan, young):
        folder.mkdir(parents=True)
        (folder / "face.jpg").write_bytes(b"photo")
    pending = root / "pending" / ("x" * 32)
    pending.mkdir(parents=True)
    (pending / "face.jpg").write_bytes(b"photo")
    age(orphan / "face.jpg", hours=2)
    age(pending / "face.jpg", hours=25)
    for path in (Path(kept.face_image.path), Path(kept.identity_image.path)):
        age(path, hours=2)

    assert recovery.remove_orphan_photos() == 1
    PendingPhoto.purge_old()

    assert not orphan.exists()
    assert not pending.exists()
    assert (young / "face.jpg").exists()  # may belong to a submission committing now
    assert Path(kept.face_image.path).exists()
    assert Path(kept.identity_image.path).exists()
