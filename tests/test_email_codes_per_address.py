"""EMAIL_CODES_PER_IP_PER_HOUR: one client address cannot make the site email code
after code to inboxes of its choosing. Past the limit no email goes out and the page
says to try again later, beside the address (review step) or the code (code page),
with everything typed carried; another address is not held back; an hour on it
works again. Counted by the address's keyed digest, even for requests at once."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, connections
from django.db.models import F
from django.test import Client

from onboarding import tasks as onboarding_tasks
from onboarding.models import CodeLimitReached, EmailCode
from tests.applying import details
from tests.email_codes import codes_to, newest_code
from tests.pages import form_fields, text_of
from tests.production import manage
from tests.worker import run_worker
from verification import retention
from verification.lookups import address_digest
from verification.models import Attempt, ClientAddress

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT = "203.0.113.7"
LIMIT_MESSAGE = (
    "Too many email codes have been asked for from your internet connection in the "
    "last hour, so we cannot send another code now. Please try again later: what "
    "you entered is kept on this page."
)
LIMIT_MESSAGE_CODE_STILL_WORKS = (
    "Too many email codes have been asked for from your internet connection in the "
    "last hour, so we cannot send a new code now. The code we sent before still "
    "works; or try again later."
)


@pytest.fixture(autouse=True)
def _codes_required(settings):
    settings.EMAIL_CODE_REQUIRED = True
    settings.EMAIL_CODE_MINUTES = 10
    settings.EMAIL_CODE_TRIES = 5
    settings.EMAIL_CODE_RESEND_SECONDS = 60


def browser(address: str = CLIENT, language: str = "en") -> Client:
    """A browser with no cookies, from the client address `address`."""
    return Client(headers={"accept-language": language}, REMOTE_ADDR=address)


def review_of(client: Client, email: str) -> dict[str, str]:
    """Fill in the form with `email`: the review step's fields."""
    review = client.post("/register/", details(emailAddress=email))
    fields = form_fields(review.content.decode())
    assert fields, "the review step did not appear:\n" + text_of(review)[:2000]
    return fields


def send_review(client: Client, email: str):
    """Fill in the form with `email`, and send the review step."""
    return client.post("/register/confirm/", review_of(client, email))


def code_form(page) -> dict[str, str]:
    return form_fields(page.content.decode(), "data-email-code")


def resend(client: Client, page):
    return client.post("/register/code/", {**code_form(page), "resend": "1"})


def email_error_of(page) -> str:
    """The message beside the email address on the review step ("" for none)."""
    html = page.content.decode()
    found = re.search(
        r'<dd class="error"><span id="emailAddress_error"[^>]*>(.*?)</span></dd>', html
    )
    return " ".join(found.group(1).split()) if found else ""


def code_error_of(page) -> str:
    html = page.content.decode()
    found = re.search(r'<p class="error" id="id_code_error">(.*?)</p>', html, re.S)
    assert found, "the code page has no code field:\n" + text_of(page)[:2000]
    return " ".join(found.group(1).split())


def age_codes(*, minutes: float = 0, seconds: float = 0) -> None:
    """Move every code's times back, as if that long had passed."""
    delta = timedelta(minutes=minutes, seconds=seconds)
    EmailCode.objects.update(created_at=F("created_at") - delta)
    EmailCode.objects.filter(sent_at__isnull=False).update(sent_at=F("sent_at") - delta)


def test_past_the_limit_no_email_goes_out_and_the_review_step_says_so(settings):
    settings.EMAIL_CODES_PER_IP_PER_HOUR = 3
    for n in range(3):
        page = send_review(browser(), f"pelamar{n}@example.com")
        assert f"We sent a 6-digit code to pelamar{n}@example.com" in text_of(page)
    late = browser()

    refused = send_review(late, "pelamar3@example.com")

    run_worker()
    assert sorted(message.to[0] for message in mail.outbox) == [
        "pelamar0@example.com",
        "pelamar1@example.com",
        "pelamar2@example.com",
    ]
    assert not codes_to("pelamar3@example.com")
    assert EmailCode.objects.count() == 3
    # The review step again, the message beside the address, everything carried.
    assert email_error_of(refused) == LIMIT_MESSAGE
    assert 'id="emailAddress_error" role="alert"' in refused.content.decode()
    carried = form_fields(refused.content.decode())
    assert carried["emailAddress"] == "pelamar3@example.com"
    assert carried["fullName"] == "ASEP SUPRIYADI"
    assert carried["identityId"] == "1234567890123456"
    assert carried["facePhoto"]
    assert carried["identityPhoto"]
    assert not code_form(refused)
    assert not Attempt.objects.exists()

    # Another client address is not held back by this one.
    other = send_review(browser("198.51.100.4"), "dewi@example.com")
    assert "We sent a 6-digit code to dewi@example.com" in text_of(other)
    assert newest_code("dewi@example.com")

    # Within the hour, sending again still sends nothing.
    age_codes(minutes=50)
    again = late.post("/register/confirm/", carried)
    assert email_error_of(again) == LIMIT_MESSAGE
    run_worker()
    assert not codes_to("pelamar3@example.com")

    # An hour after the codes, the address gets its code again.
    age_codes(minutes=10)
    later = late.post("/register/confirm/", carried)

    assert "We sent a 6-digit code to pelamar3@example.com" in text_of(later)
    code = newest_code("pelamar3@example.com")
    sent = late.post("/register/code/", {**code_form(later), "code": code})
    assert sent["Location"] == f"/status/{Attempt.objects.get().code}/"


def test_resends_count_and_past_the_limit_the_code_sent_before_still_works(settings):
    settings.EMAIL_CODES_PER_IP_PER_HOUR = 2
    client = browser()
    page = send_review(client, "asep@example.com")
    newest_code("asep@example.com")
    age_codes(seconds=60)
    page = resend(client, page)
    assert "A new code is on its way." in text_of(page)
    second = newest_code("asep@example.com")
    age_codes(seconds=60)

    refused = resend(client, page)

    assert code_error_of(refused) == LIMIT_MESSAGE_CODE_STILL_WORKS
    assert "A new code is on its way." not in text_of(refused)
    assert 'aria-invalid="true"' in refused.content.decode()
    run_worker()
    assert len(codes_to("asep@example.com")) == 2
    assert EmailCode.objects.count() == 2
    carried = code_form(refused)
    assert carried["fullName"] == "ASEP SUPRIYADI"
    assert carried["facePhoto"]
    assert carried["identityPhoto"]
    sent = client.post("/register/code/", {**carried, "code": second})
    assert sent["Location"] == f"/status/{Attempt.objects.get().code}/"


def test_past_the_limit_an_expired_code_is_not_replaced_and_the_page_says_so(
    settings,
):
    settings.EMAIL_CODES_PER_IP_PER_HOUR = 1
    client = browser()
    page = send_review(client, "asep@example.com")
    newest_code("asep@example.com")
    age_codes(minutes=10)

    refused = resend(client, page)

    assert code_error_of(refused) == LIMIT_MESSAGE
    run_worker()
    assert len(codes_to("asep@example.com")) == 1
    assert code_form(refused)["emailAddress"] == "asep@example.com"
    # Sending the review step again (Back, and send) sends nothing either.
    again = client.post(
        "/register/confirm/", form_fields(page.content.decode(), "data-email-code")
    )
    assert code_error_of(again) == LIMIT_MESSAGE
    run_worker()
    assert len(codes_to("asep@example.com")) == 1


def test_a_changed_address_past_the_limit_gets_no_code(settings):
    settings.EMAIL_CODES_PER_IP_PER_HOUR = 1
    client = browser()
    page = send_review(client, "asep@example.com")

    changed = client.post(
        "/register/code/", {**code_form(page), "emailAddress": "korban@example.com"}
    )

    assert email_error_of(changed) == LIMIT_MESSAGE
    assert form_fields(changed.content.decode())["emailAddress"] == (
        "korban@example.com"
    )
    run_worker()
    assert not codes_to("korban@example.com")
    assert len(mail.outbox) == 1


def test_in_indonesian_the_message_speaks_indonesian(settings):
    settings.EMAIL_CODES_PER_IP_PER_HOUR = 1
    send_review(browser(language="id"), "asep@example.com")

    refused = send_review(browser(language="id"), "dewi@example.com")

    assert email_error_of(refused) == (
        "Terlalu banyak kode email diminta dari koneksi internet Anda dalam satu jam "
        "terakhir, jadi kami belum dapat mengirim kode lagi sekarang. Silakan coba "
        "lagi nanti: apa yang sudah Anda isi tetap tersimpan di halaman ini."
    )


def test_the_code_keeps_the_addresss_keyed_digest_never_the_address():
    send_review(browser(), "asep@example.com")

    email_code = EmailCode.objects.get()
    assert email_code.client == address_digest(CLIENT)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM onboarding_emailcode")
        (row,) = cursor.fetchall()
    assert CLIENT not in " ".join(str(value) for value in row)
    assert list(ClientAddress.objects.values_list("digest", flat=True)) == [
        address_digest(CLIENT)
    ]


def test_a_day_on_the_codes_and_the_address_digest_are_gone():
    send_review(browser(), "asep@example.com")
    EmailCode.objects.update(created_at=F("created_at") - timedelta(hours=25))
    ClientAddress.objects.update(last_sent_at=F("last_sent_at") - timedelta(hours=25))

    onboarding_tasks.purge_drafts.call()
    retention.apply_retention()

    assert not EmailCode.objects.exists()
    assert not ClientAddress.objects.exists()


def test_codes_asked_for_at_once_from_one_address_stop_at_the_limit(settings):
    settings.EMAIL_CODES_PER_IP_PER_HOUR = 3
    asking = 8
    start = threading.Barrier(asking)
    made: list[int] = []
    refused: list[int] = []

    def ask(n: int) -> None:
        # Each thread on a database connection of its own, as a web process.
        try:
            start.wait()
            try:
                EmailCode.issue(
                    browser=f"browser-{n}",
                    submission=uuid.uuid4(),
                    email=f"pelamar{n}@example.com",
                    language="en",
                    client=address_digest(CLIENT),
                )
                made.append(n)
            except CodeLimitReached:
                refused.append(n)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(asking)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (len(made), len(refused)) == (3, 5)
    assert EmailCode.objects.count() == 3


def test_0_means_no_limit(settings):
    settings.EMAIL_CODES_PER_IP_PER_HOUR = 0
    for n in range(5):
        EmailCode.issue(
            browser="b" * 32,
            submission=uuid.uuid4(),
            email=f"pelamar{n}@example.com",
            language="en",
            client=address_digest(CLIENT),
        )

    assert EmailCode.objects.filter(client=address_digest(CLIENT)).count() == 5


def test_a_negative_limit_stops_the_start(tmp_path):
    result = manage(
        "check", env={"EMAIL_CODES_PER_IP_PER_HOUR": "-1"}, tmp_path=tmp_path
    )

    assert result.returncode != 0
    assert "EMAIL_CODES_PER_IP_PER_HOUR cannot be negative" in result.stderr
