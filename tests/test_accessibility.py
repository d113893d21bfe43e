"""axe-core finds nothing, of any impact, on every page and state an applicant or a
reviewer meets, in both languages, with the site's real Content Security Policy:
the form (empty, with errors, with the camera, after a capture, with a file
instead), the review step (with warnings and their errors), the email code page
(as it comes, with an error, with a new code asked for too soon), the status page in
every outcome, a fix and an apply-again form, the hand-off, an expired link, the
secondary buttons while hovered, and the admin's login, index, lists, search and
attempt page; the authenticator app's setup, the code asked at login (with their
errors) and a locked-out login."""

from __future__ import annotations

from pathlib import Path

import pytest
from django_otp.oath import TOTP, totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from tests.applying import ktp_bytes, selfie_bytes
from tests.browsing import (
    Complaints,
    axe_violations,
    chromium,
    new_context,
    write_y4m,
)
from tests.photos import encode, ktp_scene
from tests.reviewing import make_attempt, make_user
from tests.worker import run_worker
from verification import reviews
from verification.models import Attempt, ProviderCall

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Status = Attempt.Status
# A NIK whose encoded birth date is 6 July 1990 (DKI Jakarta, a woman).
VALID_NIK = "3174054607900001"
SELFIE_REJECTED_NIK = "1234567890111114"
WORDS = {
    "en": {
        "start": "Start",
        "continue": "Continue to review",
        "send": "Send for verification",
        "open": "Open the camera",
        "take": "Take selfie",
        "retake": "Retake",
        "file": "Choose a file instead",
        "again": "Open the camera again",
        "fix": "Fix and send again",
        "phone": "No camera here? Continue on your phone",
        "login": "Log in",
        "codes spent": "Too many email codes",
    },
    "id": {
        "start": "Mulai",
        "continue": "Lanjut ke pemeriksaan",
        "send": "Kirim untuk verifikasi",
        "open": "Buka kamera",
        "take": "Ambil swafoto",
        "retake": "Ambil ulang",
        "file": "Pilih berkas saja",
        "again": "Buka kamera lagi",
        "fix": "Perbaiki dan kirim lagi",
        "phone": "Tidak ada kamera? Lanjutkan di ponsel",
        "login": "Masuk",
        "codes spent": "Terlalu banyak kode email",
    },
}


@pytest.fixture(scope="module")
def camera(tmp_path_factory) -> Path:
    return write_y4m(tmp_path_factory.mktemp("camera") / "hd.y4m", (1280, 720))


@pytest.fixture
def photos(tmp_path) -> dict[str, Path]:
    files = {
        "selfie": selfie_bytes(),
        "ktp": ktp_bytes(),
        # A KTP in the selfie slot: no face the size of a selfie's (a warning).
        "no_face": encode(ktp_scene((1600, 1000))),
    }
    for name, data in files.items():
        (tmp_path / f"{name}.jpg").write_bytes(data)
    return {name: tmp_path / f"{name}.jpg" for name in files}


class Audit:
    """axe on each page as it stands, the findings kept to report all at once."""

    def __init__(self, page: Page, language: str) -> None:
        self.page = page
        self.language = language
        self.problems: list[str] = []
        self.checked: list[str] = []

    def check(self, what: str) -> None:
        self.page.wait_for_load_state()
        self.checked.append(what)
        self.problems += axe_violations(self.page, what=f"[{self.language}] {what}:")

    def hovered(self, what: str, locator) -> None:
        locator.hover()
        self.check(f"{what} (hovered)")
        self.page.mouse.move(0, 0)


def fill_details(page: Page, nik: str, birth_date: str = "1990-07-06") -> None:
    page.fill("#id_identityId", nik)
    page.fill("#id_fullName", "Asep Supriyadi")
    page.fill("#id_birthDate", birth_date)
    page.fill("#id_emailAddress", "asep@example.com")
    page.fill("#id_phoneNumber", "0812 3456 7890")


def send_with_files(page: Page, words: dict, photos: dict, *, nik: str, selfie: str):
    page.goto("/register/")
    fill_details(page, nik)
    page.locator("#field-faceImage").get_by_role("button", name=words["file"]).click()
    page.set_input_files("#id_faceImage", str(photos[selfie]))
    page.set_input_files("#id_identityImage", str(photos["ktp"]))
    page.check("#id_consent")
    page.get_by_role("button", name=words["continue"]).click()
    page.locator("[data-review] [data-submit]").wait_for()


def status_of(attempt: Attempt) -> str:
    return f"/status/link/{attempt.signed_token()}/"


@pytest.mark.parametrize("language", ["id", "en"])
def test_no_accessibility_violations_anywhere_an_applicant_goes(
    sandbox, camera, photos, language
):
    words = WORDS[language]
    with chromium(camera_feed=camera) as browser:
        context = new_context(browser, sandbox.url, language=language)
        complaints = Complaints()
        page = complaints.watch(context.new_page())
        audit = Audit(page, language)

        page.goto("/")
        audit.check("start")
        page.goto("/privacy/")
        audit.check("privacy notice")

        page.goto("/register/")
        audit.check("empty form")
        page.get_by_role("button", name=words["continue"]).click()
        page.locator("[data-error-summary]").wait_for()
        audit.check("form with errors")

        selfie = page.locator("#field-faceImage")
        selfie.get_by_role("button", name=words["open"]).click()
        capture = selfie.get_by_role("button", name=words["take"])
        expect(capture).to_be_enabled(timeout=15000)
        expect(selfie.locator("[data-hint]")).to_be_visible()
        audit.check("camera open, with a hint")
        capture.click()
        audit.hovered(
            "selfie captured", selfie.get_by_role("button", name=words["retake"])
        )
        selfie.get_by_role("button", name=words["retake"]).click()
        selfie.get_by_role("button", name=words["file"]).click()
        audit.hovered("file instead", selfie.get_by_role("button", name=words["again"]))

        page.get_by_role("button", name=words["phone"]).click()
        page.locator(".qr svg").wait_for()
        audit.check("hand-off to a phone")
        # An expired link answers 410, which the browser reports: seen in a page
        # of its own.
        expired = context.new_page()
        expired.goto("/continue/not-a-token/")
        Audit(expired, language).check("expired link")
        audit.problems += axe_violations(expired, what=f"[{language}] expired link:")
        expired.close()

        # The review step with both warnings, then with their errors.
        page.goto("/register/")
        fill_details(page, VALID_NIK, "1990-07-07")
        selfie.get_by_role("button", name=words["file"]).click()
        page.set_input_files("#id_faceImage", str(photos["no_face"]))
        page.set_input_files("#id_identityImage", str(photos["ktp"]))
        page.check("#id_consent")
        page.get_by_role("button", name=words["continue"]).click()
        page.locator("#id_acceptPhotoWarnings").wait_for()
        audit.check("review step with warnings")
        page.get_by_role("button", name=words["send"]).click()
        page.locator("#id_acceptPhotoWarnings_error:not(:empty)").wait_for()
        audit.check("review step with errors")
        page.check("#id_confirmBirthDate")
        page.check("#id_acceptPhotoWarnings")
        page.get_by_role("button", name=words["send"]).click()
        page.locator("[data-status][data-waiting]").wait_for()
        audit.check("status: checking")
        run_worker()
        page.reload()
        audit.check("status: verified")

        # Not verified (the sandbox turns this NIK's selfie down), then its fix.
        send_with_files(page, words, photos, nik=SELFIE_REJECTED_NIK, selfie="selfie")
        page.locator("[data-review] [data-submit]").click()
        page.locator("[data-status]").wait_for()
        run_worker()
        page.reload()
        audit.check("status: not verified")
        page.get_by_role("link", name=words["fix"]).click()
        page.locator("section.fix").wait_for()
        audit.check("fix and send again")

        reviewer = make_user("dewi", reviewer=True)
        outcomes = {
            "needs review": make_attempt(status=Status.NEEDS_REVIEW),
            "failed, try again": make_attempt(
                status=Status.FAILED, failure=Attempt.Failure.PROVIDER_UNAVAILABLE
            ),
            "failed on our side": make_attempt(
                status=Status.FAILED, failure=Attempt.Failure.INVALID_REQUEST
            ),
        }
        for decision in ("approved", "rejected"):
            attempt = make_attempt(status=Status.NEEDS_REVIEW)
            reviews.decide(
                attempt=attempt,
                reviewer=reviewer,
                decision=decision,
                reason="" if decision == "approved" else "contact_of_another_person",
                note="Checked by phone.",
                applicant_message="Please use your own mobile number.",
            )
            outcomes[decision] = attempt
        for what, attempt in outcomes.items():
            page.goto(status_of(attempt))
            audit.check(f"status: {what}")
        page.goto(status_of(outcomes["failed on our side"]))
        audit.hovered("status: failed on our side", page.locator(".button--secondary"))
        page.goto(f"/register/retry/{outcomes['rejected'].code}/")
        audit.check("apply again, from another device")

    assert not audit.problems, "\n".join(audit.problems)
    assert len(audit.checked) >= 20
    assert not complaints.errors, complaints.errors


@pytest.mark.parametrize("language", ["id", "en"])
def test_no_accessibility_violations_on_the_email_code_page(
    sandbox, settings, photos, language
):
    settings.EMAIL_CODE_REQUIRED = True
    words = WORDS[language]
    with chromium() as browser:
        context = new_context(browser, sandbox.url, language=language)
        complaints = Complaints()
        page = complaints.watch(context.new_page())
        audit = Audit(page, language)
        send_with_files(page, words, photos, nik=VALID_NIK, selfie="selfie")
        page.locator("[data-review] [data-submit]").click()
        page.locator("[data-email-code]").wait_for()
        audit.check("email code")

        page.fill("#id_code", "12")
        page.locator("[data-email-code] [data-submit]").click()
        page.locator("#id_code_error:not(:empty)").wait_for()
        audit.check("email code, refused")
        page.locator("button[name=resend]").click()
        page.locator("#resend-wait[role=alert]").wait_for()
        audit.check("email code, a new one asked for too soon")

        # Past the codes one address may have sent in an hour: a new code is
        # refused beside the code field, a changed address's first code beside
        # the address on the review step.
        settings.EMAIL_CODE_RESEND_SECONDS = 0
        settings.EMAIL_CODES_PER_IP_PER_HOUR = 1
        page.locator("button[name=resend]").click()
        page.locator("#id_code_error", has_text=words["codes spent"]).wait_for()
        audit.check("email code, no new one this hour")
        page.locator("[data-email-code] button[value=emailAddress]").click()
        page.fill("#id_emailAddress", "asep.lain@example.com")
        page.get_by_role("button", name=words["continue"]).click()
        page.locator("[data-review] [data-submit]").click()
        page.locator("#emailAddress_error", has_text=words["codes spent"]).wait_for()
        audit.check("review step, no code this hour")

    assert not audit.problems, "\n".join(audit.problems)
    assert len(audit.checked) == 5
    assert not complaints.errors, complaints.errors


@pytest.mark.parametrize("language", ["id", "en"])
def test_no_accessibility_violations_in_the_reviewer_workspace(
    live_server, settings, language
):
    # A real login through the form, without a production password hash's cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    reviewer = make_user("dewi", reviewer=True, password="a long demo passphrase")
    waiting = make_attempt(status=Status.NEEDS_REVIEW, images=True)
    make_attempt(status=Status.VERIFIED, email=waiting.email_address)
    decided = make_attempt(status=Status.NEEDS_REVIEW, images=True)
    reviews.decide(
        attempt=decided, reviewer=reviewer, decision="approved", note="Her sister's."
    )
    # A rejection by a colleague that waits for this reviewer's check (four eyes),
    # and the provider's calls in the cost ledger.
    settings.REVIEW_FOUR_EYES = "rejections"
    proposed = make_attempt(status=Status.NEEDS_REVIEW, images=True)
    reviews.decide(
        attempt=proposed,
        reviewer=make_user("tono", reviewer=True),
        decision="rejected",
        reason="face_mismatch",
        note="Not her.",
    )
    ProviderCall.objects.create(attempt=waiting, outcome="verified", charged="yes")
    with chromium() as browser:
        context = new_context(browser, live_server.url, language=language)
        complaints = Complaints()
        page = complaints.watch(context.new_page())
        audit = Audit(page, language)

        page.goto("/admin/")
        audit.check("admin login")
        page.fill("#id_username", "dewi")
        page.fill("#id_password", "not the passphrase")
        page.get_by_role("button", name=WORDS[language]["login"]).click()
        page.locator(".errornote").wait_for()
        audit.check("admin login, refused")
        page.fill("#id_password", "a long demo passphrase")
        page.get_by_role("button", name=WORDS[language]["login"]).click()
        page.locator("#review-dashboard").wait_for()
        audit.check("admin index")

        for what, path in (
            ("attempt list", "/admin/verification/attempt/"),
            ("review queue", "/admin/verification/reviewcase/"),
            ("decisions", "/admin/verification/reviewdecision/"),
            ("attempt page", f"/admin/verification/attempt/{waiting.pk}/change/"),
            ("decided attempt", f"/admin/verification/attempt/{decided.pk}/change/"),
            ("decision to check", f"/admin/verification/attempt/{proposed.pk}/change/"),
            ("cost ledger", "/admin/verification/providercall/"),
        ):
            page.goto(path)
            audit.check(what)
        page.goto("/admin/verification/attempt/")
        page.fill("#searchbar", waiting.email_address)
        page.locator("#searchbar").press("Enter")
        page.locator("#result_list").wait_for()
        audit.check("attempt list, searched")

    assert not audit.problems, "\n".join(audit.problems)
    assert not complaints.errors, complaints.errors


WRONG_CODE = {"en": "That code is not right", "id": "Kode itu tidak benar"}
CONTINUE = {"en": "Continue", "id": "Lanjutkan"}


@pytest.mark.parametrize("language", ["id", "en"])
def test_no_accessibility_violations_on_the_login_protection_pages(
    live_server, settings, language
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STAFF_TOTP_REQUIRED = True
    settings.AXES_FAILURE_LIMIT = 2
    make_user("dewi", reviewer=True, password="a long demo passphrase")
    words = WORDS[language]
    with chromium() as browser:
        complaints = Complaints()

        def logged_in_page() -> Page:
            context = new_context(browser, live_server.url, language=language)
            page = complaints.watch(context.new_page())
            page.goto("/admin/")
            page.fill("#id_username", "dewi")
            page.fill("#id_password", "a long demo passphrase")
            page.get_by_role("button", name=words["login"]).click()
            page.locator("#two-step-form").wait_for()
            return page

        page = logged_in_page()
        audit = Audit(page, language)
        audit.check("authenticator setup")
        page.fill("#id_code", "12ab")
        page.get_by_role("button", name=CONTINUE[language]).click()
        page.locator("#code-error").wait_for()
        audit.check("authenticator setup, refused")
        device = TOTPDevice.objects.get(user__username="dewi")
        page.fill("#id_code", f"{totp(device.bin_key):06d}")
        page.get_by_role("button", name=CONTINUE[language]).click()
        page.locator("#review-dashboard").wait_for()

        page = logged_in_page()
        audit.page = page
        audit.check("login code")
        page.fill("#id_code", "999999" if totp(device.bin_key) != 999999 else "999998")
        page.get_by_role("button", name=CONTINUE[language]).click()
        expect(page.locator("#code-error")).to_contain_text(WRONG_CODE[language])
        audit.check("login code, refused")
        # The next 30-second step's code: the current one was used for the setup.
        later = TOTP(device.bin_key)
        later.time += device.step
        # The throttle after the wrong code is forgotten rather than waited out.
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
        page.fill("#id_code", f"{later.token():06d}")
        page.get_by_role("button", name=CONTINUE[language]).click()
        page.locator("#review-dashboard").wait_for()

        # Not watched for console errors: the browser reports the lock-out's 429.
        context = new_context(browser, live_server.url, language=language)
        page = context.new_page()
        audit.page = page
        page.goto("/admin/")
        for _ in range(2):
            page.fill("#id_username", "someone")
            page.fill("#id_password", "not the passphrase")
            page.get_by_role("button", name=words["login"]).click()
            page.locator(".errornote").first.wait_for()
        page.locator("#login-locked").wait_for()
        audit.check("admin login, locked out")

    assert not audit.problems, "\n".join(audit.problems)
    assert len(audit.checked) == 5
    assert not complaints.errors, complaints.errors
