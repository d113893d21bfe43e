"""The applicant journey in a real Chromium with the site's real Content Security
Policy: fake webcams of 640x480 and 1280x720 show a face, the applicant captures a
selfie, uploads a KTP photo, reviews, sends, and watches the status page update
itself while a recording stand-in for the provider answers. Also a camera too small
for the check, hints on a dark preview, retakes, the form without a camera and
without JavaScript, the language switch, and the review page that updates itself."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image
from PIL.JpegImagePlugin import JpegImageFile
from playwright.sync_api import Page, expect

from tests.applying import ktp_bytes
from tests.browsing import (
    Complaints,
    assert_accessible,
    chromium,
    new_context,
    write_y4m,
)
from tests.email_codes import newest_code
from tests.kredibel_payloads import Canned, serve_canned, verified_answer
from tests.photos import FACE_PORTRAIT, phone_jpeg
from tests.reviewing import make_user
from tests.worker import run_worker
from verification import reviews
from verification.kredibel import FACE_IMAGE_LIMITS
from verification.models import Attempt

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def provider(live_server, settings):
    """A stand-in for the provider over real HTTP that answers `verified` and
    records every request it receives."""
    canned = Canned(body=verified_answer())
    with serve_canned(canned) as url:
        settings.KREDIBEL_BASE_URL = url
        settings.KREDIBEL_API_KEY = "stand-in-key"
        yield canned


@pytest.fixture(scope="module")
def cameras(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cameras")
    return {
        "640x480": write_y4m(folder / "vga.y4m", (640, 480)),
        "1280x720": write_y4m(folder / "hd.y4m", (1280, 720)),
        "640x360": write_y4m(folder / "small.y4m", (640, 360)),
        "dark": write_y4m(folder / "dark.y4m", (1280, 720), light=0.15),
    }


@pytest.fixture
def ktp_file(tmp_path) -> Path:
    path = tmp_path / "ktp.jpg"
    path.write_bytes(ktp_bytes())
    return path


def fill_details(page: Page, nik: str = "1234567890123456") -> None:
    page.fill("#id_identityId", nik)
    page.fill("#id_fullName", "Asep Supriyadi")
    page.fill("#id_birthDate", "1990-07-06")
    page.fill("#id_emailAddress", "asep@example.com")
    page.fill("#id_phoneNumber", "0812 3456 7890")


def open_selfie_camera(page: Page):
    selfie = page.locator("#field-faceImage")
    selfie.get_by_role("button", name="Open the camera").click()
    capture = selfie.get_by_role("button", name="Take selfie")
    expect(capture).to_be_enabled(timeout=15000)  # only once a frame arrived
    return selfie, capture


@pytest.mark.parametrize("camera", ["640x480", "1280x720"])
def test_a_webcam_selfie_reaches_the_provider_within_its_limits(
    provider, live_server, cameras, ktp_file, camera
):
    with chromium(camera_feed=cameras[camera]) as browser:
        complaints = Complaints()
        page = complaints.watch(new_context(browser, live_server.url).new_page())

        page.goto("/")
        assert_accessible(page)
        page.get_by_role("link", name="Start").click()
        fill_details(page)

        selfie = page.locator("#field-faceImage")
        capture = selfie.get_by_role("button", name="Take selfie")
        expect(capture).to_be_hidden()  # nothing to take before the camera opens
        expect(selfie.get_by_role("button", name="Retake")).to_be_hidden()
        expect(selfie.locator("#id_faceImage")).to_be_hidden()  # the camera replaces it
        selfie, capture = open_selfie_camera(page)
        expect(selfie.locator("[data-loader]")).to_be_hidden()
        expect(selfie.locator("[data-hint]")).to_have_text("Good: take the photo.")
        capture.click()
        expect(selfie.locator("[data-captured]")).to_be_visible()
        expect(selfie.get_by_role("button", name="Retake")).to_be_visible()

        page.set_input_files("#id_identityImage", str(ktp_file))
        expect(page.locator("#field-identityImage [data-preview]")).to_be_visible()
        page.check("#id_consent")
        page.get_by_role("button", name="Continue to review").click()

        expect(page.get_by_role("heading", name="Check before sending")).to_be_visible()
        expect(page.get_by_role("img", name="Your selfie")).to_be_visible()
        assert_accessible(page)
        page.get_by_role("button", name="Send for verification").click()

        expect(
            page.get_by_role("heading", name="We are checking your identity")
        ).to_be_visible()
        assert not provider.received  # nothing is paid for before the worker runs
        run_worker()

        # The page notices by itself and shows the outcome.
        expect(
            page.get_by_role("heading", name="Your identity is verified")
        ).to_be_visible(timeout=20000)
        assert_accessible(page)
        assert not complaints.errors

    (call,) = provider.received
    sent = base64.b64decode(json.loads(call.body)["faceImage"])
    with Image.open(io.BytesIO(sent)) as face:
        width, height = face.size
        assert face.format == "JPEG"
    assert width * 4 == height * 3  # a 3:4 portrait around the face guide
    assert width >= FACE_IMAGE_LIMITS.min_width
    assert height >= FACE_IMAGE_LIMITS.min_height
    assert FACE_IMAGE_LIMITS.min_bytes <= len(sent) <= FACE_IMAGE_LIMITS.max_bytes
    assert Attempt.objects.get().photo_warnings == []


def test_a_camera_under_480_pixels_high_is_told_at_once(live_server, cameras):
    with chromium(camera_feed=cameras["640x360"]) as browser:
        page = new_context(browser, live_server.url).new_page()
        page.goto("/register/")
        selfie = page.locator("#field-faceImage")

        selfie.get_by_role("button", name="Open the camera").click()

        problem = selfie.locator("[data-camera-problem]")
        expect(problem).to_contain_text("640 by 360 pixels")
        expect(problem).to_contain_text("at least 640 by 480")
        expect(problem).to_contain_text("continue on your phone")
        expect(selfie.get_by_role("button", name="Take selfie")).to_be_hidden()
        expect(selfie.locator("#id_faceImage")).to_be_visible()
        expect(
            selfie.get_by_role("button", name="Open the camera again")
        ).to_be_visible()
        expect(
            page.get_by_role("button", name="No camera here? Continue on your phone")
        ).to_be_visible()


def test_a_dark_preview_says_so_before_the_photo_is_taken(live_server, cameras):
    with chromium(camera_feed=cameras["dark"]) as browser:
        page = new_context(browser, live_server.url).new_page()
        page.goto("/register/")

        selfie, capture = open_selfie_camera(page)

        expect(selfie.locator("[data-hint]")).to_have_text("Too dark: find more light.")
        expect(capture).to_be_enabled()  # a hint, not a lock


def test_the_preview_hints_in_indonesian_too(live_server, cameras):
    with chromium(camera_feed=cameras["dark"]) as browser:
        page = new_context(browser, live_server.url, language="id").new_page()
        page.goto("/register/")
        selfie = page.locator("#field-faceImage")
        selfie.get_by_role("button", name="Buka kamera").click()

        expect(selfie.locator("[data-hint]")).to_contain_text(
            "Terlalu gelap", timeout=15000
        )


def test_retake_and_opening_the_camera_again_are_always_there(live_server, cameras):
    with chromium(camera_feed=cameras["1280x720"]) as browser:
        page = new_context(browser, live_server.url).new_page()
        page.goto("/register/")
        selfie, capture = open_selfie_camera(page)
        capture.click()

        selfie.get_by_role("button", name="Retake").click()
        expect(capture).to_be_enabled(timeout=15000)
        selfie.get_by_role("button", name="Choose a file instead").click()
        expect(selfie.locator("#id_faceImage")).to_be_visible()
        selfie.get_by_role("button", name="Open the camera again").click()

        expect(capture).to_be_enabled(timeout=15000)


def test_without_a_camera_the_applicant_gets_a_file_input_and_a_way_to_a_phone(
    live_server,
):
    with chromium(camera_feed=None) as browser:
        page = new_context(browser, live_server.url).new_page()
        page.goto("/register/")

        page.locator("#field-faceImage").get_by_role(
            "button", name="Open the camera"
        ).click()

        problem = page.locator("#field-faceImage [data-camera-problem]")
        expect(problem).to_be_visible()
        expect(problem).to_contain_text("choose a photo from this device")
        expect(page.locator("#id_faceImage")).to_be_visible()
        page.get_by_role(
            "button", name="No camera here? Continue on your phone"
        ).click()
        expect(
            page.get_by_role("heading", name="Continue on your phone")
        ).to_be_visible()
        expect(page.locator(".qr svg")).to_be_visible()


def test_on_a_phone_the_form_does_not_offer_to_continue_on_a_phone(live_server):
    with chromium(camera_feed=None) as browser:
        context = new_context(browser, live_server.url, has_touch=True, is_mobile=True)
        page = context.new_page()
        page.goto("/register/")

        expect(page.locator("#field-faceImage .handoff")).to_be_hidden()


def selfie_file(tmp_path) -> str:
    """A selfie as a phone's file picker would give it."""
    selfie = tmp_path / "selfie.jpg"
    Image.open(FACE_PORTRAIT).convert("RGB").resize((960, 1280)).save(
        selfie, quality=95
    )
    return str(selfie)


def send_without_javascript(page, selfie: str, ktp_file) -> None:
    """The form filled in with files and sent from its review step."""
    page.goto("/register/")
    fill_details(page)
    page.set_input_files("#id_faceImage", selfie)
    page.set_input_files("#id_identityImage", str(ktp_file))
    page.check("#id_consent")
    page.get_by_role("button", name="Continue to review").click()
    page.get_by_role("button", name="Send for verification").click()


def test_the_form_works_without_javascript(provider, live_server, ktp_file, tmp_path):
    selfie = selfie_file(tmp_path)
    with chromium(camera_feed=None) as browser:
        context = new_context(browser, live_server.url, java_script_enabled=False)
        page = context.new_page()
        send_without_javascript(page, selfie, ktp_file)

        expect(
            page.get_by_role("heading", name="We are checking your identity")
        ).to_be_visible()
        run_worker()
        # Without JavaScript the page refreshes itself every few seconds.
        expect(
            page.get_by_role("heading", name="Your identity is verified")
        ).to_be_visible(timeout=20000)
    assert len(provider.received) == 1


def other_code(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_with_the_email_code_the_applicant_types_the_code_from_the_email(
    provider, live_server, cameras, ktp_file, settings
):
    settings.EMAIL_CODE_REQUIRED = True
    with chromium(camera_feed=cameras["1280x720"]) as browser:
        complaints = Complaints()
        page = complaints.watch(new_context(browser, live_server.url).new_page())
        page.goto("/register/")
        fill_details(page)
        selfie, capture = open_selfie_camera(page)
        capture.click()
        expect(selfie.locator("[data-captured]")).to_be_visible()
        page.set_input_files("#id_identityImage", str(ktp_file))
        page.check("#id_consent")
        page.get_by_role("button", name="Continue to review").click()
        expect(page.get_by_text("we email you a 6-digit code")).to_be_visible()
        page.get_by_role("button", name="Send for verification").click()

        expect(
            page.get_by_role("heading", name="Enter the code from your email")
        ).to_be_visible()
        expect(
            page.get_by_text("We sent a 6-digit code to asep@example.com")
        ).to_be_visible()
        code_field = page.get_by_label("Code from the email")
        expect(code_field).to_be_focused()
        code = newest_code("asep@example.com")
        code_field.fill(other_code(code))
        page.get_by_role("button", name="Confirm and send for verification").click()
        expect(page.locator("#id_code_error")).to_have_text(
            re.compile(r"This is not the code we sent.*4 tries left")
        )
        assert not Attempt.objects.exists()
        assert_accessible(page)
        page.get_by_label("Code from the email").fill(code)
        page.get_by_role("button", name="Confirm and send for verification").click()

        expect(
            page.get_by_role("heading", name="We are checking your identity")
        ).to_be_visible()
        run_worker()
        expect(
            page.get_by_role("heading", name="Your identity is verified")
        ).to_be_visible(timeout=20000)
        assert not complaints.errors

    assert len(provider.received) == 1
    assert Attempt.objects.get().email_address == "asep@example.com"


def test_the_email_code_works_without_javascript_and_a_new_address_gets_its_own(
    provider, live_server, ktp_file, tmp_path, settings
):
    settings.EMAIL_CODE_REQUIRED = True
    selfie = selfie_file(tmp_path)
    with chromium(camera_feed=None) as browser:
        context = new_context(browser, live_server.url, java_script_enabled=False)
        page = context.new_page()
        send_without_javascript(page, selfie, ktp_file)
        expect(
            page.get_by_role("heading", name="Enter the code from your email")
        ).to_be_visible()
        first = newest_code("asep@example.com")

        # A typo in the address: change it; the new address gets a code of its own.
        page.get_by_role("button", name="Change the email address").click()
        expect(page.locator("#id_emailAddress")).to_be_focused()
        expect(page.locator("#id_fullName")).to_have_value("ASEP SUPRIYADI")
        page.fill("#id_emailAddress", "asep.supriyadi@example.com")
        page.get_by_role("button", name="Continue to review").click()
        page.get_by_role("button", name="Send for verification").click()
        expect(
            page.get_by_text("We sent a 6-digit code to asep.supriyadi@example.com")
        ).to_be_visible()
        second = newest_code("asep.supriyadi@example.com")
        if first != second:
            page.get_by_label("Code from the email").fill(first)
            page.get_by_role("button", name="Confirm and send for verification").click()
            expect(page.locator("#id_code_error")).to_contain_text(
                "This is not the code we sent."
            )
        page.get_by_label("Code from the email").fill(second)
        page.get_by_role("button", name="Confirm and send for verification").click()

        expect(
            page.get_by_role("heading", name="We are checking your identity")
        ).to_be_visible()
        run_worker()
        expect(
            page.get_by_role("heading", name="Your identity is verified")
        ).to_be_visible(timeout=20000)
    assert len(provider.received) == 1
    assert Attempt.objects.get().email_address == "asep.supriyadi@example.com"


@pytest.mark.parametrize(
    ("field", "expected"),
    [("#id_faceImage", (960, 1280)), ("#id_identityImage", (1200, 1600))],
    ids=["selfie", "ktp"],
)
def test_a_large_photo_is_shrunk_in_the_browser_to_what_the_server_keeps(
    live_server, tmp_path, field, expected
):
    big = tmp_path / "phone.jpg"
    big.write_bytes(phone_jpeg((3000, 4000)))
    with chromium(camera_feed=None) as browser:
        page = new_context(browser, live_server.url).new_page()
        page.goto("/register/")
        if field == "#id_faceImage":
            page.locator("#field-faceImage").get_by_role(
                "button", name="Open the camera"
            ).click()  # no camera here: the file input appears

        page.set_input_files(field, str(big))
        expect(page.locator(f"{field} ~ [data-preview]")).to_be_visible()
        kind, encoded = page.evaluate(
            """async (field) => {
                const file = document.querySelector(field).files[0];
                const bytes = new Uint8Array(await file.arrayBuffer());
                let text = "";
                for (const byte of bytes) text += String.fromCharCode(byte);
                return [file.type, btoa(text)];
            }""",
            field,
        )

    sent = base64.b64decode(encoded)
    assert kind == "image/jpeg"
    assert len(sent) < big.stat().st_size / 3
    with Image.open(io.BytesIO(sent)) as shrunk:
        assert isinstance(shrunk, JpegImageFile)
        assert shrunk.size == expected
        # Quantised as libjpeg does at quality 85, the server's (not 0.92): the DC
        # step of the luminance table is 16 x (200 - 2 x 85) / 100, rounded.
        assert shrunk.quantization[0][0] == 5


def test_on_a_computer_the_ktp_guide_shows_what_the_webcam_captures(
    live_server, cameras
):
    with chromium(camera_feed=cameras["1280x720"]) as browser:
        page = new_context(browser, live_server.url).new_page()
        page.goto("/register/")
        ktp = page.locator("#field-identityImage")

        ktp.get_by_role("button", name="Use this computer's camera").click()
        capture = ktp.get_by_role("button", name="Take photo of KTP")
        expect(capture).to_be_enabled(timeout=15000)
        viewfinder = ktp.locator("[data-viewfinder]").bounding_box()
        guide = ktp.locator(".guide").bounding_box()
        assert viewfinder is not None
        assert guide is not None
        capture.click()

        expect(ktp.locator("[data-captured]")).to_be_visible()
        width, height = page.evaluate(
            """async () => {
                const file = document.querySelector('#id_identityImage').files[0];
                const bitmap = await createImageBitmap(file);
                return [bitmap.width, bitmap.height];
            }"""
        )

    # The viewfinder has the camera's own 16:9 shape: nothing captured is hidden.
    assert abs(viewfinder["width"] / viewfinder["height"] - 16 / 9) < 0.02
    assert abs(width / height - 85.6 / 53.98) < 0.01  # the shape of a KTP
    # The capture is the guide with a margin: the guide is 80% of the frame's
    # width, the capture the largest card shape within 90% of it (and the height).
    assert abs(guide["width"] / viewfinder["width"] - 0.8) < 0.02
    assert (width, height) == (round(720 * 85.6 / 53.98), 720)


def test_switching_language_keeps_what_was_typed_and_the_selfie(live_server, cameras):
    with chromium(camera_feed=cameras["1280x720"]) as browser:
        page = new_context(browser, live_server.url, language="id").new_page()
        page.goto("/register/")
        fill_details(page)
        selfie = page.locator("#field-faceImage")
        selfie.get_by_role("button", name="Buka kamera").click()
        capture = selfie.get_by_role("button", name="Ambil swafoto")
        expect(capture).to_be_enabled(timeout=15000)
        capture.click()

        page.get_by_role("button", name="English").click()

        expect(page.get_by_role("heading", name="Your details")).to_be_visible()
        expect(page.locator("#id_identityId")).to_have_value("1234567890123456")
        expect(page.locator("#id_fullName")).to_have_value("Asep Supriyadi")
        expect(page.locator("#id_phoneNumber")).to_have_value("0812 3456 7890")
        expect(
            page.get_by_role("img", name="Your selfie, already received")
        ).to_be_visible()
        expect(page.locator("#field-fullName .error")).to_be_hidden()  # no errors yet
        # Enter in a field still goes on to the review step, not to another language.
        page.locator("#id_fullName").press("Enter")
        expect(
            page.get_by_role("heading", name="Please check the following")
        ).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "en")


def test_the_review_page_shows_the_decision_by_itself(live_server):
    attempt = reviewed_attempt()
    with chromium(camera_feed=None) as browser:
        page = new_context(browser, live_server.url).new_page()
        page.clock.install()
        page.goto(f"/status/link/{attempt.signed_token()}/")
        expect(
            page.get_by_role("heading", name="Your application is being reviewed")
        ).to_be_visible()

        reviews.decide(
            attempt=attempt,
            reviewer=make_user("dewi", reviewer=True),
            decision="approved",
            note="The email belongs to her sister; confirmed by phone.",
        )
        page.clock.run_for("00:35")  # the slow poll's first look

        expect(
            page.get_by_role("heading", name="Your identity is verified")
        ).to_be_visible(timeout=20000)


def reviewed_attempt() -> Attempt:
    from tests.reviewing import make_attempt

    return make_attempt(status=Attempt.Status.NEEDS_REVIEW, images=True)


def status_code_of(page: Page, path: str) -> int:
    response = page.request.get(path)
    return response.status


def test_the_favicon_is_found_on_every_page(live_server):
    with chromium(camera_feed=None) as browser:
        page = new_context(browser, live_server.url).new_page()
        assert status_code_of(page, "/favicon.ico") == 200
        assert re.match(
            r"image/", page.request.get("/favicon.ico").headers["content-type"]
        )
