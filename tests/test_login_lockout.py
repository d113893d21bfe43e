"""Failed reviewer logins lock the account and the client address for a while,
the right password included, with the reason on the login page in the reader's
language; an operator lifts the lock by command or in the admin."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests.pages import text_of
from tests.reviewing import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "a long reviewer passphrase"
LOCKED = {
    "en": "Too many failed logins: this account, or logins from this address, are "
    "locked for 15 minutes.",
    "id": "Terlalu banyak login yang gagal: akun ini, atau login dari alamat ini, "
    "dikunci selama 15 menit.",
}


@pytest.fixture(autouse=True)
def _quick_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def log_in(client: Client, username: str, password: str, address: str = "10.1.1.1"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def browser(language: str = "en") -> Client:
    return Client(headers={"accept-language": language})


@pytest.mark.parametrize("language", ["en", "id"])
def test_the_fifth_wrong_password_locks_the_account_with_a_message(language):
    make_user("dewi", reviewer=True, password=PASSWORD)
    client = browser(language)

    first_four = [log_in(client, "dewi", "wrong") for _ in range(4)]
    fifth = log_in(client, "dewi", "wrong")

    assert [page.status_code for page in first_four] == [200] * 4
    assert all(LOCKED[language] not in text_of(page) for page in first_four)
    assert fifth.status_code == 429
    page = text_of(fifth)
    assert LOCKED[language] in page
    # Still the admin's login page, with the username kept.
    assert 'id="login-form"' in fifth.content.decode()
    assert 'value="dewi"' in fifth.content.decode()


def test_the_right_password_is_refused_while_locked():
    make_user("dewi", reviewer=True, password=PASSWORD)
    client = browser()
    for _ in range(5):
        log_in(client, "dewi", "wrong")

    refused = log_in(client, "dewi", PASSWORD)

    assert refused.status_code == 429
    assert LOCKED["en"] in text_of(refused)
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_the_account_is_locked_from_every_address():
    make_user("dewi", reviewer=True, password=PASSWORD)
    for number in range(5):
        log_in(browser(), "dewi", "wrong", address=f"203.0.113.{number}")

    from_her_desk = log_in(browser(), "dewi", PASSWORD, address="198.51.100.20")

    assert from_her_desk.status_code == 429


def test_an_address_that_guessed_at_several_accounts_is_locked_for_all():
    make_user("dewi", reviewer=True, password=PASSWORD)
    make_user("tono", reviewer=True, password=PASSWORD)
    for name in ("a", "b", "c", "d", "e"):
        log_in(browser(), name, "wrong", address="203.0.113.7")

    tono_there = log_in(browser(), "tono", PASSWORD, address="203.0.113.7")
    dewi_elsewhere = log_in(browser(), "dewi", PASSWORD, address="198.51.100.20")

    assert tono_there.status_code == 429
    assert dewi_elsewhere.status_code == 302
    assert dewi_elsewhere["Location"] == "/admin/"


def test_failures_are_counted_in_the_database_for_every_process():
    make_user("dewi", reviewer=True, password=PASSWORD)
    for _ in range(3):
        log_in(browser(), "dewi", "wrong")

    stored = AccessAttempt.objects.get(username="dewi")

    assert stored.failures_since_start == 3
    assert stored.ip_address == "10.1.1.1"
    assert PASSWORD not in stored.post_data
    assert "wrong" not in stored.post_data


def test_the_lock_lifts_after_fifteen_minutes():
    make_user("dewi", reviewer=True, password=PASSWORD)
    for _ in range(5):
        log_in(browser(), "dewi", "wrong")
    # Fifteen minutes and a second pass (the failures are moved back instead).
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - timedelta(minutes=15, seconds=1)
    )

    accepted = log_in(browser(), "dewi", PASSWORD)

    assert accepted.status_code == 302


def test_fewer_minutes_and_failures_are_settings(settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.LOGIN_LOCKOUT_MINUTES = 1
    make_user("dewi", reviewer=True, password=PASSWORD)

    log_in(browser(), "dewi", "wrong")
    second = log_in(browser(), "dewi", "wrong")

    assert second.status_code == 429
    assert "locked for 1 minute." in text_of(second)


def test_a_successful_login_forgets_earlier_failures():
    make_user("dewi", reviewer=True, password=PASSWORD)
    for _ in range(4):
        log_in(browser(), "dewi", "wrong")
    assert log_in(browser(), "dewi", PASSWORD).status_code == 302

    after = [log_in(browser(), "dewi", "wrong").status_code for _ in range(4)]

    assert after == [200] * 4


def test_the_unlock_command_lets_the_right_password_in_again():
    make_user("dewi", reviewer=True, password=PASSWORD)
    for _ in range(5):
        log_in(browser(), "dewi", "wrong")
    out = io.StringIO()

    call_command("unlock_reviewer", "dewi", stdout=out)
    client = browser()
    accepted = log_in(client, "dewi", PASSWORD)

    assert "Unlocked 'dewi'" in out.getvalue()
    assert accepted.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_the_unlock_command_lifts_an_address_lock_too():
    make_user("tono", reviewer=True, password=PASSWORD)
    for name in ("a", "b", "c", "d", "e"):
        log_in(browser(), name, "wrong", address="203.0.113.7")

    call_command(
        "unlock_reviewer", "tono", "--address", "203.0.113.7", stdout=io.StringIO()
    )

    assert log_in(browser(), "tono", PASSWORD, address="203.0.113.7").status_code == 302


def test_the_unlock_command_says_when_there_was_no_lock():
    out = io.StringIO()

    call_command("unlock_reviewer", "nobody", stdout=out)

    assert "'nobody' was not locked" in out.getvalue()


def test_an_operator_sees_and_removes_a_lock_in_the_admin():
    make_user("dewi", reviewer=True, password=PASSWORD)
    operator = browser()
    operator.force_login(make_user("ops", superuser=True))
    for _ in range(5):
        log_in(browser(), "dewi", "wrong")
    attempt = AccessAttempt.objects.get(username="dewi")

    listed = text_of(operator.get("/admin/axes/accessattempt/"))
    operator.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )

    assert "dewi" in listed
    assert not AccessAttempt.objects.exists()
    assert log_in(browser(), "dewi", PASSWORD).status_code == 302


def test_an_ipv6_client_is_counted_by_its_64_block(settings):
    make_user("dewi", reviewer=True, password=PASSWORD)
    for host in range(1, 6):
        log_in(browser(), f"someone{host}", "wrong", address=f"2001:db8:1:2::{host}")

    same_block = log_in(browser(), "dewi", PASSWORD, address="2001:db8:1:2::99")
    next_block = log_in(browser(), "dewi", PASSWORD, address="2001:db8:1:3::1")

    assert same_block.status_code == 429
    assert next_block.status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {
        "2001:db8:1:2::"
    }
