"""Staff who may see identity data give a one-time code from an authenticator app
after their password (required in production mode); a first login sets the app up
from a QR code and the secret. The codes are computed here with the real TOTP
algorithm from the device's key, as the reviewer's phone would."""

from __future__ import annotations

import base64
import io
import re
import time

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.oath import TOTP, totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.pages import text_of
from tests.reviewing import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "a long reviewer passphrase"


@pytest.fixture(autouse=True)
def _required(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STAFF_TOTP_REQUIRED = True


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """What the reviewer's app shows now (or `steps_ahead` 30-second steps
    later: a code already used is never taken twice)."""
    if steps_ahead == 0:
        return f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"
    later = TOTP(device.bin_key, device.step, device.t0, device.digits)
    later.time = time.time() + steps_ahead * device.step
    return f"{later.token():06d}"


def logged_in(username: str = "dewi", language: str = "en", **roles) -> Client:
    """A browser past the password step (through the real login form)."""
    if not roles:
        roles = {"reviewer": True}
    make_user(username, password=PASSWORD, **roles)
    client = Client(headers={"accept-language": language})
    response = client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": PASSWORD}
    )
    assert response.status_code == 302
    return client


def confirmed(username: str) -> TOTPDevice:
    return TOTPDevice.objects.get(user__username=username, confirmed=True)


def set_up(client: Client, username: str = "dewi") -> TOTPDevice:
    client.get("/admin/two-step/setup/")
    device = TOTPDevice.objects.get(user__username=username)
    client.post("/admin/two-step/setup/", {"code": code_for(device), "next": "/admin/"})
    return confirmed(username)


def test_a_reviewer_without_an_app_is_taken_to_its_setup_and_nowhere_else():
    client = logged_in()

    index = client.get("/admin/")
    queue = client.get("/admin/verification/reviewcase/")

    assert index.status_code == 302
    assert index["Location"] == "/admin/two-step/setup/?next=%2Fadmin%2F"
    assert queue["Location"].startswith("/admin/two-step/setup/")


def test_the_setup_page_shows_a_qr_code_and_the_secret_of_a_new_device():
    client = logged_in()

    page = client.get("/admin/two-step/setup/?next=/admin/")

    device = TOTPDevice.objects.get(user__username="dewi")
    html = page.content.decode()
    secret = re.search(r'id="two-step-secret">([A-Z2-7 ]+)<', html)
    assert secret is not None
    assert base64.b32decode(secret.group(1).replace(" ", "")) == device.bin_key
    assert 'src="data:image/svg+xml' in html
    assert not device.confirmed
    assert "Set up your authenticator app" in text_of(page)
    # The same device until it is confirmed: reloading does not change the secret.
    client.get("/admin/two-step/setup/")
    assert TOTPDevice.objects.filter(user__username="dewi").count() == 1


def test_the_first_code_confirms_the_app_and_opens_the_admin():
    client = logged_in()
    client.get("/admin/two-step/setup/")
    device = TOTPDevice.objects.get(user__username="dewi")

    response = client.post(
        "/admin/two-step/setup/", {"code": code_for(device), "next": "/admin/"}
    )
    index = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert confirmed("dewi").pk == device.pk
    assert index.status_code == 200
    assert "Your authenticator app is set up" in text_of(index)
    assert 'id="review-dashboard"' in index.content.decode()


@pytest.mark.parametrize(
    ("language", "typed", "message"),
    [
        ("en", "000000", "That code is not right (or was already used)."),
        ("id", "000000", "Kode itu tidak benar (atau sudah pernah dipakai)."),
        ("en", "12ab", "The code is 6 digits, as your app shows it."),
        ("id", "12ab", "Kodenya 6 angka, seperti yang ditampilkan aplikasi Anda."),
    ],
)
def test_a_wrong_setup_code_is_refused_next_to_the_field(language, typed, message):
    client = logged_in(language=language)
    client.get("/admin/two-step/setup/")
    device = TOTPDevice.objects.get(user__username="dewi")
    if typed == "000000" and code_for(device) == typed:
        typed = "000001"

    page = client.post("/admin/two-step/setup/", {"code": typed})

    assert page.status_code == 200
    assert message in text_of(page)
    assert 'aria-invalid="true"' in page.content.decode()
    assert not TOTPDevice.objects.filter(confirmed=True).exists()
    assert client.get("/admin/").status_code == 302


def test_each_later_login_asks_for_the_code():
    client = logged_in()
    device = set_up(client)
    client.post("/admin/logout/")

    again = Client(headers={"accept-language": "en"})
    again.post("/admin/login/", {"username": "dewi", "password": PASSWORD})
    index = again.get("/admin/")
    asked = again.get(index["Location"])
    entered = again.post(
        "/admin/two-step/?next=/admin/", {"code": code_for(device, steps_ahead=1)}
    )

    assert index["Location"] == "/admin/two-step/?next=%2Fadmin%2F"
    assert "Enter your login code" in text_of(asked)
    assert entered["Location"] == "/admin/"
    assert again.get("/admin/").status_code == 200


def test_a_code_is_taken_only_once():
    client = logged_in()
    device = set_up(client)
    used = code_for(device)
    client.post("/admin/logout/")
    again = Client()
    again.post("/admin/login/", {"username": "dewi", "password": PASSWORD})

    replayed = again.post("/admin/two-step/", {"code": used})

    assert replayed.status_code == 200
    assert again.get("/admin/").status_code == 302


def test_wrong_codes_are_throttled_so_the_right_one_waits_too(settings):
    # Each failure doubles the wait, from a minute here (from a second by default).
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    client = logged_in()
    device = set_up(client)
    client.post("/admin/logout/")
    again = Client(headers={"accept-language": "en"})
    again.post("/admin/login/", {"username": "dewi", "password": PASSWORD})
    wrong = "000000" if code_for(device, 1) != "000000" else "000001"

    again.post("/admin/two-step/", {"code": wrong})
    page = again.post("/admin/two-step/", {"code": code_for(device, steps_ahead=1)})

    assert "Too many wrong codes." in text_of(page)
    assert again.get("/admin/").status_code == 302


def test_the_setup_page_cannot_replace_a_confirmed_app():
    client = logged_in()
    set_up(client)

    page = client.get("/admin/two-step/setup/")

    assert page.status_code == 302
    assert page["Location"].startswith("/admin/two-step/")
    assert TOTPDevice.objects.filter(user__username="dewi").count() == 1


def test_staff_who_see_no_identity_data_are_not_asked(settings):
    client = logged_in("ops-viewer", permissions=("verification.view_providercall",))

    assert client.get("/admin/").status_code == 200


def test_on_the_embedded_defaults_a_reviewer_without_an_app_goes_straight_in(
    settings,
):
    settings.STAFF_TOTP_REQUIRED = False
    client = logged_in()

    assert client.get("/admin/").status_code == 200


def test_on_the_embedded_defaults_a_reviewer_who_set_an_app_up_is_still_asked(
    settings,
):
    settings.STAFF_TOTP_REQUIRED = False
    client = logged_in()
    set_up(client)
    client.post("/admin/logout/")
    again = Client()
    again.post("/admin/login/", {"username": "dewi", "password": PASSWORD})

    assert again.get("/admin/")["Location"].startswith("/admin/two-step/?")


def test_an_operator_resets_a_lost_app_and_the_next_login_sets_one_up():
    client = logged_in()
    set_up(client)
    out = io.StringIO()

    call_command("reset_two_step", "dewi", stdout=out)
    again = Client()
    again.post("/admin/login/", {"username": "dewi", "password": PASSWORD})

    assert "Removed 1 authenticator app(s) of 'dewi'" in out.getvalue()
    assert not TOTPDevice.objects.exists()
    assert again.get("/admin/")["Location"].startswith("/admin/two-step/setup/")


def test_the_code_pages_are_for_logged_in_staff_only():
    anonymous = Client()

    page = anonymous.get("/admin/two-step/")

    assert page.status_code == 302
    assert page["Location"].startswith("/admin/login/")
    assert not TOTPDevice.objects.exists()
