"""Staff sessions end after 30 idle minutes and 12 hours in all, on a clock the
test moves; applicants' sessions are not touched."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.pages import text_of
from tests.reviewing import make_user
from verification import staff_sessions

pytestmark = pytest.mark.django_db

PASSWORD = "a long reviewer passphrase"


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, *, minutes: float = 0, hours: float = 0) -> None:
        self.now += minutes * 60 + hours * 3600


@pytest.fixture
def clock(monkeypatch, settings) -> Clock:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STAFF_TOTP_REQUIRED = False
    fake = Clock()
    monkeypatch.setattr(staff_sessions, "clock", fake)
    return fake


def reviewer(language: str = "en") -> Client:
    make_user("dewi", reviewer=True, password=PASSWORD)
    client = Client(headers={"accept-language": language})
    client.post("/admin/login/", {"username": "dewi", "password": PASSWORD})
    return client


def test_a_session_used_within_thirty_minutes_goes_on(clock):
    client = reviewer()

    for _ in range(4):
        clock.advance(minutes=29)
        assert client.get("/admin/").status_code == 200


def test_thirty_idle_minutes_end_the_session_with_a_word_on_why(clock):
    client = reviewer()
    clock.advance(minutes=30, hours=0)
    assert client.get("/admin/").status_code == 200

    clock.advance(minutes=31)
    ended = client.get("/admin/verification/attempt/?status=needs_review")
    login = client.get(ended["Location"])

    assert ended.status_code == 302
    assert ended["Location"] == (
        "/admin/login/?next=/admin/verification/attempt/%3Fstatus%3Dneeds_review"
    )
    assert "_auth_user_id" not in client.session
    assert "You were logged out after 30 minutes without activity." in text_of(login)


def test_twelve_hours_end_a_session_however_busy(clock):
    client = reviewer("id")
    for _ in range(24):
        clock.advance(minutes=29)
        assert client.get("/admin/").status_code == 200
    clock.advance(minutes=25)  # 12 hours and a minute since the login

    ended = client.get("/admin/")
    login = client.get(ended["Location"])

    assert ended.status_code == 302
    assert "Anda telah dikeluarkan: satu sesi paling lama 12 jam." in text_of(login)


def test_the_limits_are_settings(clock, settings):
    settings.ADMIN_SESSION_IDLE_MINUTES = 5
    client = reviewer()

    clock.advance(minutes=6)

    assert client.get("/admin/").status_code == 302


def test_the_session_row_itself_expires_with_the_idle_limit(clock):
    client = reviewer()

    assert client.session.get_expiry_age() == 30 * 60


def test_an_applicants_session_keeps_its_own_age(clock, settings):
    applicant = Client()
    applicant.get("/register/")
    clock.advance(hours=13)

    applicant.get("/register/")

    assert applicant.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
