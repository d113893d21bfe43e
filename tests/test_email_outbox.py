"""Emails to applicants go through the outbox: written with what they tell, sent by
the worker at most once, retried while the mail server is down, recorded."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.attempts import stored_attempt
from tests.kredibel_payloads import closed_port
from tests.worker import run_worker
from verification import outbox, recovery, redaction, submission, tasks
from verification.models import Attempt, OutboxEmail

pytestmark = pytest.mark.django_db(transaction=True)

State = OutboxEmail.State


def smtp_at(settings, port: int) -> None:
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }


def make_due() -> None:
    now = timezone.now()
    OutboxEmail.objects.filter(state=State.PENDING).update(next_try_at=now)
    DBTaskResult.objects.filter(
        task_path=tasks.send_email.module_path, status="READY"
    ).update(run_after=now)


def test_the_outcome_email_is_written_with_the_answer_and_sent_once(sandbox):
    attempt = stored_attempt()

    run_worker()

    (email,) = OutboxEmail.objects.all()
    assert (email.kind, email.about, email.state, email.tries) == (
        "outcome",
        "verified",
        State.SENT,
        1,
    )
    assert email.sent_at is not None
    (message,) = mail.outbox
    assert message.to == [attempt.email_address]


def test_duplicate_send_tasks_send_one_email(sandbox):
    stored_attempt()
    run_worker()
    email = OutboxEmail.objects.get()
    for _ in range(3):
        tasks.send_email.enqueue(email.pk)

    run_worker()

    assert len(mail.outbox) == 1


def test_the_outbox_keeps_no_address_and_no_text(sandbox):
    attempt = stored_attempt()
    run_worker()

    row = OutboxEmail.objects.values().get()

    assert attempt.email_address not in str(row)
    assert attempt.full_name not in str(row)


def test_a_mail_server_that_is_down_is_tried_again_later_with_backoff(
    sandbox, settings
):
    smtp_at(settings, closed_port())
    settings.EMAIL_RETRY_BASE_SECONDS = 60
    stored_attempt()

    run_worker()

    email = OutboxEmail.objects.get()
    assert (email.state, email.tries) == (State.PENDING, 1)
    assert email.last_error == "ConnectionRefusedError"
    assert email.next_try_at is not None
    (waiting,) = DBTaskResult.objects.filter(
        task_path=tasks.send_email.module_path, status="READY"
    )
    assert waiting.run_after == email.next_try_at


def test_it_gives_up_after_the_last_try_and_says_so(sandbox, settings, caplog):
    smtp_at(settings, closed_port())
    settings.EMAIL_MAX_TRIES = 2
    stored_attempt()
    run_worker()
    make_due()

    with caplog.at_level(logging.ERROR, logger="verification.outbox"):
        run_worker()

    email = OutboxEmail.objects.get()
    assert (email.state, email.tries) == (State.FAILED, 2)
    assert "gave up on the outcome email after 2 tries" in caplog.text
    assert "asep@example.com" not in caplog.text


def test_an_outcome_email_the_attempt_has_moved_past_is_not_sent(sandbox, settings):
    settings.KREDIBEL_SANDBOX_FAULTS = {"failure_rate": 1.0, "failure_status": 503}
    settings.VERIFY_MAX_TRIES = 1
    smtp_at(settings, closed_port())
    attempt = stored_attempt()
    run_worker()
    assert OutboxEmail.objects.get().about == "failed"

    settings.KREDIBEL_SANDBOX_FAULTS = {}
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    }
    assert submission.retry_failed_attempt(Attempt.objects.get(pk=attempt.pk))
    make_due()
    run_worker()

    failed, verified = OutboxEmail.objects.order_by("pk")
    assert failed.state == State.SUPERSEDED
    assert verified.state == State.SENT
    assert [m.subject for m in mail.outbox] == ["Your identity is verified"]


def test_a_send_left_half_done_by_a_dead_worker_is_not_sent_again(sandbox):
    stored_attempt()
    run_worker()
    OutboxEmail.objects.update(
        state=State.SENDING, claimed_until=timezone.now() - timedelta(seconds=1)
    )

    recovery.sweep()
    run_worker()

    email = OutboxEmail.objects.get()
    assert email.state == State.FAILED
    assert "may have been delivered" in email.last_error
    assert len(mail.outbox) == 1  # the first, real send only


def test_an_email_whose_task_was_lost_is_queued_again_by_the_sweep(sandbox):
    stored_attempt()
    run_worker()
    OutboxEmail.objects.update(
        state=State.PENDING, created_at=timezone.now() - timedelta(hours=1)
    )
    mail.outbox.clear()

    assert outbox.queue_forgotten(older_than=timedelta(minutes=10)) == 1
    run_worker()

    assert len(mail.outbox) == 1


def test_an_email_waiting_for_an_address_that_was_erased_is_not_sent(sandbox, settings):
    smtp_at(settings, closed_port())
    attempt = stored_attempt()
    run_worker()
    assert OutboxEmail.objects.get().state == State.PENDING
    redaction.redact_attempt(Attempt.objects.get(pk=attempt.pk))
    settings.MAILERS = {
        "default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    }

    make_due()
    run_worker()

    assert OutboxEmail.objects.get().state == State.ERASED
    assert mail.outbox == []
