"""The email code before the paid call (EMAIL_CODE_REQUIRED): after the review
step's send the applicant gets a 6-digit code by email, and only the right code
makes the attempt that reaches the provider. Wrong codes, an expired code, used-up
tries, the resend pause, a changed address, a double click, both languages, and an
integrator's session."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.db.models import F
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from onboarding import email_codes
from onboarding import tasks as onboarding_tasks
from onboarding.models import CodeCheck, EmailCode
from tests.applying import details
from tests.email_codes import codes_to, newest_code
from tests.integrating import create_session, make_key, session_of, session_path
from tests.kredibel_payloads import Canned, closed_port, serve_canned, verified_answer
from tests.pages import form_fields, text_of
from tests.worker import run_worker
from verification.models import Attempt

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = "asep@example.com"  # details() types asep@Example.COM


@pytest.fixture(autouse=True)
def _codes_required(settings):
    settings.EMAIL_CODE_REQUIRED = True
    settings.EMAIL_CODE_MINUTES = 10
    settings.EMAIL_CODE_TRIES = 5
    settings.EMAIL_CODE_RESEND_SECONDS = 60


@pytest.fixture
def provider(settings):
    """A stand-in for the provider over real HTTP that answers `verified` and
    records every request it receives."""
    canned = Canned(body=verified_answer())
    with serve_canned(canned) as url:
        settings.KREDIBEL_BASE_URL = url
        settings.KREDIBEL_API_KEY = "stand-in-key"
        settings.VERIFY_RETRY_BASE_SECONDS = 0
        yield canned


def code_page(client: Client, **overrides):
    """Fill in the form, go through the review step and send: the code page."""
    review = client.post("/register/", details(**overrides))
    fields = form_fields(review.content.decode())
    assert fields, "the review step did not appear:\n" + text_of(review)[:2000]
    page = client.post("/register/confirm/", fields)
    assert page.status_code == 200
    return page


def code_form(page) -> dict[str, str]:
    fields = form_fields(page.content.decode(), "data-email-code")
    assert fields, "the code page did not appear:\n" + text_of(page)[:2000]
    return fields


def enter(client: Client, page, code: str):
    return client.post("/register/code/", {**code_form(page), "code": code})


def resend(client: Client, page):
    return client.post("/register/code/", {**code_form(page), "resend": "1"})


def code_error_of(page) -> str:
    html = page.content.decode()
    found = re.search(r'<p class="error" id="id_code_error">(.*?)</p>', html, re.S)
    assert found, "the code page has no code field"
    return " ".join(found.group(1).split())


def age_codes(*, minutes: float = 0, seconds: float = 0) -> None:
    """Move every code's times back, as if that long had passed."""
    delta = timedelta(minutes=minutes, seconds=seconds)
    EmailCode.objects.update(created_at=F("created_at") - delta)
    EmailCode.objects.filter(sent_at__isnull=False).update(sent_at=F("sent_at") - delta)


def test_the_right_code_sends_the_application_and_the_provider_gets_one_call(
    provider, applicant
):
    page = code_page(applicant)

    assert "Enter the code from your email" in text_of(page)
    assert f"We sent a 6-digit code to {ADDRESS}" in text_of(page)
    assert not Attempt.objects.exists()  # nothing stored, nothing paid for yet
    code = newest_code(ADDRESS)
    assert not provider.received
    (message,) = mail.outbox
    assert message.to == [ADDRESS]
    assert message.subject == f"Your code: {code}"
    assert "It works for 10 minutes." in message.body

    sent = enter(applicant, page, code)

    attempt = Attempt.objects.get()
    assert sent["Location"] == f"/status/{attempt.code}/"
    assert attempt.email_address == ADDRESS
    assert attempt.full_name == "ASEP SUPRIYADI"
    run_worker()
    assert len(provider.received) == 1
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.VERIFIED
    assert "Your identity is verified" in text_of(applicant.get(sent["Location"]))


def test_the_code_is_stored_as_a_keyed_hash_and_the_address_encrypted(applicant):
    page = code_page(applicant)
    code = newest_code(ADDRESS)

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM onboarding_emailcode")
        (row,) = cursor.fetchall()
    stored = " ".join(str(value) for value in row)
    assert code not in stored
    assert ADDRESS not in stored
    assert "example.com" not in stored
    session = applicant.session.load()
    assert ADDRESS not in str(session)
    assert code not in str(session)
    assert code not in page.content.decode()


def test_a_wrong_code_says_so_beside_the_field_with_the_tries_left(provider, applicant):
    page = code_page(applicant)
    code = newest_code(ADDRESS)
    wrong = "000000" if code != "000000" else "111111"

    again = enter(applicant, page, wrong)

    assert again.status_code == 200
    assert code_error_of(again) == (
        "This is not the code we sent. Check the newest email from us and try "
        "again: 4 tries left."
    )
    assert 'aria-invalid="true"' in again.content.decode()
    assert not Attempt.objects.exists()
    # Everything typed is still carried, and the right code still works.
    carried = code_form(again)
    assert carried["fullName"] == "ASEP SUPRIYADI"
    assert carried["emailAddress"] == ADDRESS
    assert carried["facePhoto"]
    assert carried["identityPhoto"]
    assert enter(applicant, again, code).status_code == 302
    assert Attempt.objects.count() == 1
    run_worker()
    assert len(provider.received) == 1


def test_a_code_that_is_not_six_digits_is_not_counted_as_a_try(applicant):
    page = code_page(applicant)
    newest_code(ADDRESS)

    again = enter(applicant, page, "12345")

    assert code_error_of(again) == "The code is 6 digits, for example 123456."
    assert EmailCode.objects.get().tries == 0


def test_the_code_may_be_typed_with_spaces(applicant):
    page = code_page(applicant)
    code = newest_code(ADDRESS)

    sent = enter(applicant, page, f" {code[:3]} {code[3:]} ")

    assert sent.status_code == 302
    assert Attempt.objects.count() == 1


def test_after_the_last_wrong_try_even_the_right_code_is_refused_until_a_new_one(
    provider, applicant
):
    page = code_page(applicant)
    code = newest_code(ADDRESS)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        page = enter(applicant, page, wrong)
        assert f"{left} {'try' if left == 1 else 'tries'} left" in code_error_of(page)

    page = enter(applicant, page, wrong)
    assert code_error_of(page) == (
        "Too many wrong tries for this code. Ask for a new code below."
    )
    page = enter(applicant, page, code)
    assert "Too many wrong tries" in code_error_of(page)
    assert "You can ask for a new code in" in text_of(page)
    assert not Attempt.objects.exists()

    age_codes(seconds=60)
    page = resend(applicant, page)
    assert "A new code is on its way." in text_of(page)
    new = newest_code(ADDRESS)
    assert enter(applicant, page, new).status_code == 302
    run_worker()
    assert len(provider.received) == 1


def test_an_expired_code_is_refused_and_a_new_one_can_be_sent(provider, applicant):
    page = code_page(applicant)
    code = newest_code(ADDRESS)
    age_codes(minutes=10)

    page = enter(applicant, page, code)

    assert code_error_of(page) == (
        "This code has expired: a code works for 10 minutes. Ask for a new code below."
    )
    assert not Attempt.objects.exists()
    assert "You can ask for a new code in" not in text_of(page)  # at once
    page = resend(applicant, page)
    new = newest_code(ADDRESS)
    assert enter(applicant, page, new).status_code == 302
    assert Attempt.objects.count() == 1


def test_a_resend_waits_for_the_pause_and_then_invalidates_the_old_code(applicant):
    page = code_page(applicant)
    first = newest_code(ADDRESS)

    early = resend(applicant, page)

    waiting = re.search(r"You can ask for a new code in (\d+) seconds", text_of(early))
    assert waiting, text_of(early)
    assert 50 <= int(waiting.group(1)) <= 60
    assert 'role="alert" id="resend-wait"' in early.content.decode()
    run_worker()
    assert len(codes_to(ADDRESS)) == 1  # nothing new was sent
    age_codes(seconds=30)
    assert "You can ask for a new code in" in text_of(resend(applicant, page))
    run_worker()
    assert len(codes_to(ADDRESS)) == 1

    age_codes(seconds=30)
    later = resend(applicant, page)

    assert "A new code is on its way. The code before it no longer works." in (
        text_of(later)
    )
    second = newest_code(ADDRESS)
    assert len(codes_to(ADDRESS)) == 2
    if first != second:  # one in a million codes repeats
        refused = enter(applicant, later, first)
        assert "This is not the code we sent" in code_error_of(refused)
        assert not Attempt.objects.exists()
    assert enter(applicant, later, second).status_code == 302
    assert Attempt.objects.count() == 1


def test_the_review_step_sent_again_does_not_send_another_code(applicant):
    review = applicant.post("/register/", details())
    fields = form_fields(review.content.decode())
    applicant.post("/register/confirm/", fields)
    applicant.post("/register/confirm/", fields)  # Back, and send again

    run_worker()

    assert len(codes_to(ADDRESS)) == 1
    assert EmailCode.objects.count() == 1


def test_a_changed_address_gets_a_code_of_its_own(provider, applicant):
    page = code_page(applicant)
    old = newest_code(ADDRESS)

    form = applicant.post(
        "/register/edit/", {**code_form(page), "edit": "emailAddress"}
    )
    fields = form_fields(form.content.decode(), "data-register")
    assert fields["emailAddress"] == ADDRESS
    assert fields["fullName"] == "ASEP SUPRIYADI"  # nothing typed is lost
    assert fields["facePhoto"]
    fields["emailAddress"] = "dewi@example.com"
    review = applicant.post("/register/", fields)
    page = applicant.post("/register/confirm/", form_fields(review.content.decode()))

    assert "We sent a 6-digit code to dewi@example.com" in text_of(page)
    new = newest_code("dewi@example.com")  # at once: no pause for a new address
    assert codes_to(ADDRESS) == [old]
    if old != new:
        refused = enter(applicant, page, old)
        assert "This is not the code we sent" in code_error_of(refused)
    sent = enter(applicant, page, new)
    assert sent.status_code == 302
    assert Attempt.objects.get().email_address == "dewi@example.com"
    run_worker()
    assert len(provider.received) == 1


def test_a_changed_address_in_the_code_page_needs_its_own_code(applicant):
    page = code_page(applicant)
    code = newest_code(ADDRESS)

    tampered = applicant.post(
        "/register/code/",
        {**code_form(page), "emailAddress": "eve@example.com", "code": code},
    )

    assert "We sent a 6-digit code to eve@example.com" in text_of(tampered)
    assert not Attempt.objects.exists()
    assert newest_code("eve@example.com")


def test_the_confirmed_code_form_sent_twice_leads_to_the_one_attempt(
    provider, applicant
):
    page = code_page(applicant)
    code = newest_code(ADDRESS)
    fields = {**code_form(page), "code": code}

    first = applicant.post("/register/code/", fields)
    second = applicant.post("/register/code/", fields)
    back_and_send = applicant.post("/register/confirm/", fields)

    attempt = Attempt.objects.get()
    for answer in (first, second, back_and_send):
        assert answer["Location"] == f"/status/{attempt.code}/"
    run_worker()
    assert len(provider.received) == 1
    assert len(codes_to(ADDRESS)) == 1


def test_the_address_is_forgotten_by_the_code_once_the_attempt_holds_it(applicant):
    page = code_page(applicant)
    enter(applicant, page, newest_code(ADDRESS))

    assert EmailCode.objects.get().email_address == ""


def test_in_indonesian_the_page_the_message_and_the_email_speak_indonesian():
    client = Client(headers={"accept-language": "id"})
    page = code_page(client)
    assert "Masukkan kode dari email Anda" in text_of(page)
    code = newest_code(ADDRESS)
    (message,) = mail.outbox
    assert message.subject == f"Kode Anda: {code}"
    assert "Berlaku selama 10 menit." in message.body
    wrong = "000000" if code != "000000" else "111111"

    again = enter(client, page, wrong)

    assert code_error_of(again) == (
        "Ini bukan kode yang kami kirim. Periksa email terbaru dari kami dan coba "
        "lagi: sisa 4 kali percobaan."
    )


def test_the_language_switch_keeps_the_code_page_and_sends_no_new_code(applicant):
    page = code_page(applicant)
    newest_code(ADDRESS)

    switched = applicant.post(
        "/register/language/", {**code_form(page), "language": "id", "code": "12"}
    )

    assert "Masukkan kode dari email Anda" in text_of(switched)
    assert code_form(switched)["code"] == "12"
    assert code_form(switched)["fullName"] == "ASEP SUPRIYADI"
    run_worker()
    assert len(mail.outbox) == 1


def test_an_integrators_session_goes_through_the_code_too(provider, client, applicant):
    made = make_key(name="Bank Contoh")
    created = create_session(client, made.key, {"externalReference": "c-1"})
    applicant.get(session_path(created.json()["url"]))
    session_id = created.json()["id"]

    page = code_page(applicant, session=session_id)
    assert code_form(page)["session"] == session_id
    assert not Attempt.objects.exists()
    sent = enter(applicant, page, newest_code(ADDRESS))

    attempt = Attempt.objects.get()
    assert sent["Location"] == f"/status/{attempt.code}/"
    assert session_of(created).attempt == attempt


def test_a_session_sent_from_another_tab_meanwhile_leads_to_its_attempt(
    provider, client, applicant
):
    made = make_key(name="Bank Contoh")
    created = create_session(client, made.key, {"externalReference": "c-2"})
    applicant.get(session_path(created.json()["url"]))
    session_id = created.json()["id"]
    first_tab = code_page(applicant, session=session_id)
    other_tab = code_page(applicant, session=session_id)
    enter(applicant, other_tab, newest_code(ADDRESS))
    other = Attempt.objects.get()

    sent = enter(applicant, first_tab, codes_to(ADDRESS)[0])

    assert sent["Location"] == f"/status/{other.code}/"
    assert Attempt.objects.count() == 1


def test_off_the_review_step_sends_at_once(settings, applicant):
    settings.EMAIL_CODE_REQUIRED = False
    review = applicant.post("/register/", details())

    sent = applicant.post("/register/confirm/", form_fields(review.content.decode()))

    assert sent.status_code == 302
    assert Attempt.objects.count() == 1
    assert not EmailCode.objects.exists()
    run_worker()
    assert not codes_to(ADDRESS)


# The code's rules, with an injected clock ---------------------------------------------


def sent_code(code: str = "123456") -> EmailCode:
    email_code = EmailCode.issue(
        browser="b" * 32, submission=uuid.uuid4(), email=ADDRESS, language="en"
    )
    email_code.code_hash = email_code.digest(code)
    email_code.state = EmailCode.State.SENT
    email_code.sent_at = email_code.created_at
    email_code.save()
    return email_code


def test_a_code_works_until_its_minutes_are_over():
    email_code = sent_code()
    start = email_code.sent_at
    assert start is not None

    just_before = start + timedelta(minutes=10) - timedelta(seconds=1)
    assert email_code.try_code("654321", now=just_before) is CodeCheck.WRONG
    assert email_code.try_code("123456", now=start + timedelta(minutes=10)) is (
        CodeCheck.EXPIRED
    )
    assert email_code.try_code("123456", now=just_before) is CodeCheck.RIGHT


def test_tries_are_counted_in_the_database_whoever_asks():
    email_code = sent_code()
    for _ in range(5):
        # Each guess through a row of its own, as another web process would.
        assert EmailCode.objects.get(pk=email_code.pk).try_code("000000") is (
            CodeCheck.WRONG
        )

    assert email_code.try_code("123456") is CodeCheck.USED_UP
    assert EmailCode.objects.get(pk=email_code.pk).tries == 5


def test_a_code_not_yet_sent_confirms_nothing():
    email_code = EmailCode.issue(
        browser="b" * 32, submission=uuid.uuid4(), email=ADDRESS, language="en"
    )

    assert email_code.try_code("123456") is CodeCheck.NOT_SENT


def test_the_resend_pause_counts_from_the_last_code():
    email_code = sent_code()

    assert not email_code.may_resend(email_code.created_at + timedelta(seconds=59))
    assert email_code.may_resend(email_code.created_at + timedelta(seconds=60))


# Sending, in the worker's email lane ---------------------------------------------------


def smtp_at(settings, port: int) -> None:
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }


def test_duplicate_send_tasks_send_one_code(applicant):
    code_page(applicant)
    email_code = EmailCode.objects.get()
    for _ in range(3):
        onboarding_tasks.send_email_code.enqueue(email_code.pk)

    run_worker()

    assert len(codes_to(ADDRESS)) == 1


def test_a_code_replaced_before_its_email_went_out_is_not_sent(applicant):
    page = code_page(applicant)
    age_codes(seconds=60)
    resend(applicant, page)

    run_worker()

    assert len(codes_to(ADDRESS)) == 1
    first, second = EmailCode.objects.order_by("generation")
    assert first.state == EmailCode.State.SUPERSEDED
    assert second.state == EmailCode.State.SENT


def test_a_mail_server_that_is_down_is_tried_again_then_the_page_says_so(
    settings, applicant
):
    smtp_at(settings, closed_port())
    page = code_page(applicant)

    for _ in range(email_codes.SEND_TRIES):
        run_worker()
        # The next try waits for its backoff: make it due.
        DBTaskResult.objects.filter(status="READY").filter(
            task_path=onboarding_tasks.send_email_code.module_path
        ).update(run_after=timezone.now())

    email_code = EmailCode.objects.get()
    assert email_code.state == EmailCode.State.FAILED
    assert email_code.send_tries == email_codes.SEND_TRIES
    again = enter(applicant, page, "123456")
    assert code_error_of(again) == (
        "We could not send the email with the code. Check the address, or ask "
        "for a new code below."
    )
    assert not Attempt.objects.exists()
