"""The applicant journey in a real Chromium: a fake camera shows a face, the
applicant captures a selfie, uploads a KTP photo, reviews, sends, and watches the
status page update itself. Also the same form without a camera and without
JavaScript, and an accessibility check of every page on the way."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connections
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.applying import ktp_bytes
from tests.photos import FACE_PORTRAIT, phone_jpeg
from tests.worker import run_worker
from verification.models import Attempt

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Django's live server and Playwright's sync API share this process.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent.parent / "node_modules/axe-core/axe.min.js"
HEADLESS_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def write_y4m(path: Path, size: tuple[int, int] = (1280, 960), frames: int = 2) -> Path:
    """A camera feed of the face portrait, letterboxed into `size`, as the YUV4MPEG2
    file Chromium's fake camera plays."""
    width, height = size
    with Image.open(FACE_PORTRAIT) as portrait:
        face = portrait.convert("RGB").resize(
            (height, height), Image.Resampling.LANCZOS
        )
    frame = Image.new("RGB", size, (40, 40, 40))
    frame.paste(face, ((width - height) // 2, 0))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + planes)
    return path


@pytest.fixture(scope="module")
def camera_feed(tmp_path_factory) -> Path:
    return write_y4m(tmp_path_factory.mktemp("camera") / "face.y4m")


@pytest.fixture
def ktp_file(tmp_path) -> Path:
    path = tmp_path / "ktp.jpg"
    path.write_bytes(ktp_bytes())
    return path


@contextmanager
def chromium(*, camera_feed: Path | None = None) -> Iterator[Browser]:
    """Debian's Chromium, headless, with a fake camera playing `camera_feed`."""
    with sync_playwright() as playwright:
        browser = launch(playwright, camera_feed=camera_feed)
        try:
            yield browser
        finally:
            browser.close()
            # Database queries made while Playwright runs use a connection of their
            # own (Django keeps one per context); it is closed where it lives.
            connections.close_all()


def launch(playwright, *, camera_feed: Path | None):
    args = list(HEADLESS_ARGS)
    if camera_feed:
        args += [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_feed}",
        ]
    return playwright.chromium.launch(executable_path=CHROMIUM, args=args)


def assert_accessible(page: Page) -> None:
    """No serious or critical accessibility problem that axe-core can find."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    problems = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} element(s))"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not problems, problems


def fill_details(page: Page, nik: str = "1234567890123456") -> None:
    page.fill("#id_identityId", nik)
    page.fill("#id_fullName", "Asep Supriyadi")
    page.fill("#id_birthDate", "1990-07-06")
    page.fill("#id_emailAddress", "asep@example.com")
    page.fill("#id_phoneNumber", "0812 3456 7890")


def test_an_applicant_captures_a_selfie_and_follows_the_outcome(
    sandbox, camera_feed, ktp_file
):
    with chromium(camera_feed=camera_feed) as browser:
        # The strict CSP would refuse the injected axe-core script.
        context = browser.new_context(locale="en-US", bypass_csp=True)
        context.grant_permissions(["camera"], origin=sandbox.url)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        page.goto(sandbox.url + "/")
        assert_accessible(page)
        page.get_by_role("link", name="Start").click()
        assert_accessible(page)
        fill_details(page)

        selfie = page.locator("#field-faceImage")
        capture = selfie.get_by_role("button", name="Take selfie")
        expect(capture).to_be_hidden()  # nothing to take before the camera opens
        expect(selfie.get_by_role("button", name="Retake")).to_be_hidden()
        expect(selfie.locator("#id_faceImage")).to_be_hidden()  # the camera replaces it
        selfie.get_by_role("button", name="Open the camera").click()
        expect(capture).to_be_visible()
        expect(capture).to_be_enabled(timeout=15000)  # only once a frame arrived
        expect(selfie.locator("[data-loader]")).to_be_hidden()
        capture.click()
        expect(selfie.locator("[data-captured]")).to_be_visible()
        expect(selfie.get_by_role("button", name="Retake")).to_be_visible()
        chosen = page.evaluate(
            "() => { const f = document.querySelector('#id_faceImage').files[0];"
            " return [f.name, f.type, f.size]; }"
        )
        assert chosen[0] == "selfie.jpg"
        assert chosen[1] == "image/jpeg"

        page.set_input_files("#id_identityImage", str(ktp_file))
        expect(page.locator("#field-identityImage [data-preview]")).to_be_visible()
        page.check("#id_consent")
        page.get_by_role("button", name="Continue to review").click()

        expect(page.get_by_role("heading", name="Check before sending")).to_be_visible()
        assert_accessible(page)
        expect(page.get_by_role("img", name="Your selfie")).to_be_visible()
        page.get_by_role("button", name="Send for verification").click()

        expect(
            page.get_by_role("heading", name="We are checking your identity")
        ).to_be_visible()
        attempt = Attempt.objects.get()
        assert attempt.status == Attempt.Status.QUEUED
        with attempt.face_image.open("rb") as f, Image.open(f) as selfie_sent:
            width, height = selfie_sent.size
        assert width * 4 == height * 3  # a 3:4 portrait around the face guide
        assert width >= 480

        run_worker()

        # The page notices by itself and shows the outcome.
        expect(
            page.get_by_role("heading", name="Your identity is verified")
        ).to_be_visible(timeout=20000)
        assert_accessible(page)
        assert not errors


def test_without_a_camera_the_applicant_gets_a_file_input_and_a_way_to_a_phone(
    sandbox, ktp_file, tmp_path
):
    with chromium(camera_feed=None) as browser:
        page = browser.new_page(locale="en-US")
        page.goto(sandbox.url + "/register/")

        page.locator("#field-faceImage").get_by_role(
            "button", name="Open the camera"
        ).click()

        problem = page.locator("#field-faceImage [data-camera-problem]")
        expect(problem).to_be_visible()
        expect(problem).to_contain_text("choose a photo from your device")
        expect(page.locator("#id_faceImage")).to_be_visible()
        page.get_by_role(
            "button", name="No camera here? Continue on your phone"
        ).click()
        expect(
            page.get_by_role("heading", name="Continue on your phone")
        ).to_be_visible()
        expect(page.locator(".qr svg")).to_be_visible()


def test_the_form_works_without_javascript(sandbox, ktp_file, tmp_path):
    selfie = tmp_path / "selfie.jpg"
    selfie.write_bytes(ktp_bytes())  # any photo will do for the form
    Image.open(FACE_PORTRAIT).convert("RGB").resize((960, 1280)).save(
        selfie, quality=95
    )
    with chromium(camera_feed=None) as browser:
        page = browser.new_page(locale="en-US", java_script_enabled=False)
        page.goto(sandbox.url + "/register/")
        fill_details(page)
        page.set_input_files("#id_faceImage", str(selfie))
        page.set_input_files("#id_identityImage", str(ktp_file))
        page.check("#id_consent")
        page.get_by_role("button", name="Continue to review").click()
        page.get_by_role("button", name="Send for verification").click()

        expect(
            page.get_by_role("heading", name="We are checking your identity")
        ).to_be_visible()
        run_worker()
        # Without JavaScript the page refreshes itself every few seconds.
        expect(
            page.get_by_role("heading", name="Your identity is verified")
        ).to_be_visible(timeout=20000)


def test_a_large_photo_is_shrunk_in_the_browser_before_upload(sandbox, tmp_path):
    big = tmp_path / "phone.jpg"
    big.write_bytes(phone_jpeg((3000, 4000)))
    with chromium(camera_feed=None) as browser:
        page = browser.new_page(locale="en-US")
        page.goto(sandbox.url + "/register/")

        page.set_input_files("#id_identityImage", str(big))
        expect(page.locator("#field-identityImage [data-preview]")).to_be_visible()
        sent = page.evaluate(
            """async () => {
                const file = document.querySelector('#id_identityImage').files[0];
                const bitmap = await createImageBitmap(file);
                return [file.type, file.size, bitmap.width, bitmap.height];
            }"""
        )

    kind, size, width, height = sent
    assert kind == "image/jpeg"
    assert size < big.stat().st_size / 2
    assert (width, height) == (1200, 1600)


def test_on_a_computer_the_ktp_can_be_taken_with_the_webcam(sandbox, camera_feed):
    with chromium(camera_feed=camera_feed) as browser:
        page = browser.new_page(locale="en-US")
        page.goto(sandbox.url + "/register/")
        ktp = page.locator("#field-identityImage")

        ktp.get_by_role("button", name="Use this computer's camera").click()
        capture = ktp.get_by_role("button", name="Take photo of KTP")
        expect(capture).to_be_enabled(timeout=15000)
        capture.click()

        expect(ktp.locator("[data-captured]")).to_be_visible()
        width, height = page.evaluate(
            """async () => {
                const file = document.querySelector('#id_identityImage').files[0];
                const bitmap = await createImageBitmap(file);
                return [bitmap.width, bitmap.height];
            }"""
        )

    assert abs(width / height - 85.6 / 53.98) < 0.01  # the shape of a KTP
    assert width >= 480
    assert height >= 360
