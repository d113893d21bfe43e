"""What the background verification does when the provider misbehaves: every fault
produced for real by the sandbox, over HTTP."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.applying import selfie_bytes, submit
from tests.kredibel_payloads import jpeg, serve_sandbox
from tests.pages import text_of
from tests.photos import phone_jpeg
from tests.worker import run_worker
from verification import tasks
from verification.models import Attempt, ProviderCall
from verification.sandbox.answers import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)

Status = Attempt.Status
Outcome = ProviderCall.Outcome
Charged = ProviderCall.Charged


def test_a_provider_outage_is_retried_then_the_attempt_fails(
    sandbox, settings, applicant
):
    settings.KREDIBEL_SANDBOX_FAULTS = {"failure_rate": 1.0, "failure_status": 503}
    settings.VERIFY_MAX_TRIES = 3
    sent = submit(applicant)

    run_worker()

    attempt = Attempt.objects.get()
    assert attempt.status == Status.FAILED
    assert attempt.failure == Attempt.Failure.PROVIDER_UNAVAILABLE
    calls = list(attempt.calls.values_list("outcome", "http_status", "charged"))
    assert calls == [(Outcome.PROVIDER_ERROR, 503, Charged.NO)] * 3
    page = text_of(applicant.get(sent["Location"]))
    assert "did not answer in time" in page
    assert "Try again" in page
    assert len(mail.outbox) == 1


def test_a_server_error_keeps_the_providers_error_id(sandbox, settings, applicant):
    settings.KREDIBEL_SANDBOX_FAULTS = {"failure_rate": 1.0, "failure_status": 500}
    settings.VERIFY_MAX_TRIES = 1
    submit(applicant)

    run_worker()

    attempt = Attempt.objects.get()
    call = attempt.calls.get()
    assert uuid.UUID(call.error_id)
    assert call.error_type
    assert attempt.error_id == call.error_id


def test_a_short_outage_is_ridden_out(sandbox, settings, applicant):
    settings.KREDIBEL_SANDBOX_FAULTS = {"down_for_requests": 2, "failure_status": 502}
    submit(applicant)

    run_worker()

    attempt = Attempt.objects.get()
    assert attempt.status == Status.VERIFIED
    assert list(attempt.calls.values_list("outcome", flat=True)) == [
        Outcome.PROVIDER_ERROR,
        Outcome.PROVIDER_ERROR,
        Outcome.VERIFIED,
    ]
    assert len(mail.outbox) == 1


def test_a_rate_limit_waits_at_least_as_long_as_the_provider_asks(
    sandbox, settings, applicant
):
    settings.KREDIBEL_SANDBOX_FAULTS = {
        "failure_rate": 1.0,
        "failure_status": 429,
        "retry_after": 120,
    }
    submit(applicant)

    run_worker()

    attempt = Attempt.objects.get()
    assert attempt.status == Status.QUEUED
    assert attempt.calls.get().outcome == Outcome.RATE_LIMITED
    assert attempt.next_try_at is not None
    wait = attempt.next_try_at - timezone.now()
    assert timedelta(seconds=110) < wait <= timedelta(seconds=120)


def test_the_waiting_applicant_is_told_the_service_is_slow(
    sandbox, settings, applicant
):
    settings.KREDIBEL_SANDBOX_FAULTS = {"failure_rate": 1.0, "failure_status": 429}
    sent = submit(applicant)

    run_worker()

    page = text_of(applicant.get(sent["Location"]))
    assert "We are checking your identity" in page
    assert "slow to answer right now" in page


def test_the_backoff_doubles_with_jitter_up_to_its_cap(settings):
    settings.VERIFY_RETRY_BASE_SECONDS = 10
    settings.VERIFY_RETRY_MAX_SECONDS = 60
    waits = {
        tries: [tasks.backoff_seconds(tries) for _ in range(200)]
        for tries in (1, 2, 3, 4, 9)
    }

    assert min(waits[1]) >= 5
    assert max(waits[1]) <= 10
    assert min(waits[2]) >= 10
    assert max(waits[2]) <= 20
    assert min(waits[3]) >= 20
    assert max(waits[3]) <= 40
    assert min(waits[9]) >= 30
    assert max(waits[9]) <= 60
    assert (
        len({round(w, 3) for w in waits[3]}) > 100
    )  # attempts do not all come back at once


def test_the_applicant_retries_a_failed_attempt_without_entering_anything(
    sandbox, settings, applicant
):
    settings.KREDIBEL_SANDBOX_FAULTS = {"failure_rate": 1.0, "failure_status": 503}
    settings.VERIFY_MAX_TRIES = 2
    sent = submit(applicant)
    run_worker()
    settings.KREDIBEL_SANDBOX_FAULTS = {}

    retried = applicant.post(sent["Location"] + "retry")
    run_worker()

    attempt = Attempt.objects.get()
    assert retried["Location"] == sent["Location"]
    assert attempt.status == Status.VERIFIED
    assert attempt.applicant_retries == 1
    assert attempt.calls.count() == 3
    assert "Your identity is verified" in text_of(applicant.get(sent["Location"]))


def test_a_retry_is_refused_for_an_attempt_that_did_not_fail(sandbox, applicant):
    sent = submit(applicant)
    run_worker()

    applicant.post(sent["Location"] + "retry")
    run_worker()

    attempt = Attempt.objects.get()
    assert attempt.calls.count() == 1
    assert attempt.applicant_retries == 0


def test_a_lost_answer_is_repeated_once_then_left_to_the_applicant(
    sandbox, settings, applicant
):
    settings.KREDIBEL_SANDBOX_FAULTS = {"stall": 1.5}
    settings.KREDIBEL_READ_TIMEOUT = 0.3
    sent = submit(applicant)

    run_worker()

    attempt = Attempt.objects.get()
    assert attempt.status == Status.FAILED
    assert attempt.failure == Attempt.Failure.OUTCOME_UNKNOWN
    assert list(attempt.calls.values_list("outcome", "charged")) == [
        (Outcome.READ_TIMEOUT, Charged.UNKNOWN),
        (Outcome.READ_TIMEOUT, Charged.UNKNOWN),
    ]
    assert "Try again" in text_of(applicant.get(sent["Location"]))


def test_an_answer_that_cannot_be_read_is_not_repeated(sandbox, settings, applicant):
    settings.KREDIBEL_SANDBOX_FAULTS = {"malformed": True}
    sent = submit(applicant)

    run_worker()

    attempt = Attempt.objects.get()
    assert attempt.status == Status.FAILED
    assert attempt.failure == Attempt.Failure.MALFORMED_RESPONSE
    assert list(attempt.calls.values_list("outcome", "charged")) == [
        (Outcome.MALFORMED_RESPONSE, Charged.UNKNOWN)
    ]
    assert "Something went wrong on our side" in text_of(
        applicant.get(sent["Location"])
    )


def submit_directly(**overrides) -> Attempt:
    """An attempt stored without the form's checks, as a defect of ours would."""
    values: dict[str, Any] = {
        "nik": "1234567890123456",
        "full_name": "ASEP SUPRIYADI",
        "birth_date": timezone.localdate().replace(year=1990),
        "email_address": "asep@example.com",
        "phone_number": "6281234567890",
        "face_image": selfie_bytes(),
        "identity_image": phone_jpeg((1600, 1000)),
        "consent_version": "test",
        "language": "en",
        "submission": uuid.uuid4(),
    }
    values.update(overrides)
    attempt, _ = tasks.submit_attempt(**values)
    return attempt


def test_a_refused_request_fails_at_once_and_keeps_the_providers_messages(
    sandbox, caplog
):
    small_selfie = jpeg(480, 640, size=60 * 1024)
    attempt = submit_directly(face_image=small_selfie)

    with caplog.at_level(logging.ERROR, logger="verification.tasks"):
        run_worker()

    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED
    assert attempt.failure == Attempt.Failure.INVALID_REQUEST
    assert "faceImage" in attempt.provider_field_errors
    call = attempt.calls.get()
    assert (call.outcome, call.http_status, call.charged) == (
        Outcome.INVALID_REQUEST,
        400,
        Charged.NO,
    )
    assert any(str(attempt.code) in record.getMessage() for record in caplog.records)


def test_a_refused_api_key_fails_at_once(db, settings):
    with serve_sandbox(Sandbox(api_key="the-providers-key")) as base_url:
        settings.KREDIBEL_BASE_URL = base_url
        settings.KREDIBEL_API_KEY = "a-wrong-key"
        attempt = submit_directly()

        run_worker()

    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED
    assert attempt.failure == Attempt.Failure.AUTHENTICATION
    assert attempt.calls.get().outcome == Outcome.AUTHENTICATION_FAILED


def test_an_unreachable_provider_is_retried_like_an_outage(db, settings):
    settings.KREDIBEL_BASE_URL = "http://127.0.0.1:9"  # nothing listens on discard
    settings.VERIFY_MAX_TRIES = 2
    settings.VERIFY_RETRY_BASE_SECONDS = 0
    attempt = submit_directly()

    run_worker()

    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED
    assert (
        list(attempt.calls.values_list("outcome", "charged"))
        == [(Outcome.CONNECTION_FAILED, Charged.NO)] * 2
    )


def test_a_duplicated_task_never_calls_the_provider_twice(sandbox):
    attempt = submit_directly()
    tasks.verify.enqueue(attempt.pk)
    tasks.verify.enqueue(attempt.pk)

    run_worker()

    attempt.refresh_from_db()
    assert attempt.status == Status.VERIFIED
    assert attempt.calls.count() == 1


def test_a_wrong_provider_address_fails_at_once_as_a_configuration_fault(
    sandbox, settings, caplog
):
    settings.KREDIBEL_BASE_URL = sandbox.url + "/not-the-sandbox"
    attempt = submit_directly()

    with caplog.at_level(logging.ERROR, logger="verification.tasks"):
        run_worker()

    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED
    assert attempt.failure == Attempt.Failure.CONFIGURATION
    call = attempt.calls.get()
    assert (call.outcome, call.http_status) == (Outcome.PROVIDER_ERROR, 404)
    assert "check the configuration" in caplog.text


def test_a_late_answer_is_kept_and_the_repeat_queued_for_it_calls_nobody(
    sandbox, settings
):
    """The answer outlives the lease (the provider is that slow): recovery queues a
    repeat, then the paid-for answer arrives and is kept, and the repeat does
    nothing."""
    settings.KREDIBEL_SANDBOX_FAULTS = {"latency": 1.5}
    attempt = submit_directly()

    def slow_worker() -> None:
        try:
            tasks.verify_attempt(attempt_id=attempt.pk)
        finally:
            connection.close()  # this thread's own database connection

    worker = threading.Thread(target=slow_worker)
    worker.start()
    deadline = time.monotonic() + 10
    while not attempt.calls.exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    Attempt.objects.filter(pk=attempt.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    tasks.recover_attempt(attempt_id=attempt.pk)
    assert Attempt.objects.get(pk=attempt.pk).status == Status.QUEUED

    worker.join(timeout=10)
    run_worker()

    attempt.refresh_from_db()
    assert attempt.status == Status.VERIFIED
    assert list(attempt.calls.values_list("outcome", "charged")) == [
        (Outcome.VERIFIED, Charged.YES)
    ]
    assert len(mail.outbox) == 1


def test_a_request_the_provider_refused_cannot_be_retried_by_the_applicant(
    sandbox, applicant
):
    attempt = submit_directly(face_image=jpeg(480, 640, size=60 * 1024))
    run_worker()
    attempt.refresh_from_db()
    # The applicant's browser knows the attempt (as after sending it).
    session = applicant.session
    session["attempts"] = [str(attempt.code)]
    session.save()

    page = text_of(applicant.get(f"/status/{attempt.code}/"))
    applicant.post(f"/status/{attempt.code}/retry")

    assert "Try again" not in page
    assert "Start a new application" in page
    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED
    assert attempt.applicant_retries == 0


def test_each_try_again_allows_at_most_one_more_call_that_may_be_charged(
    sandbox, settings
):
    settings.KREDIBEL_SANDBOX_FAULTS = {"stall": 1.5}
    settings.KREDIBEL_READ_TIMEOUT = 0.3
    attempt = submit_directly()
    run_worker()
    attempt.refresh_from_db()
    assert attempt.calls.count() == 2

    assert tasks.retry_failed_attempt(attempt)
    run_worker()

    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED
    assert attempt.failure == Attempt.Failure.OUTCOME_UNKNOWN
    assert attempt.calls.count() == 3


def test_the_applicant_may_try_again_three_times(sandbox, settings):
    settings.KREDIBEL_SANDBOX_FAULTS = {"failure_rate": 1.0, "failure_status": 503}
    settings.VERIFY_MAX_TRIES = 1
    attempt = submit_directly()
    run_worker()

    retried = []
    for _ in range(4):
        attempt.refresh_from_db()
        retried.append(tasks.retry_failed_attempt(attempt))
        run_worker()

    assert retried == [True, True, True, False]
    assert attempt.calls.count() == 4


def test_a_wild_retry_after_is_capped(sandbox, settings):
    settings.KREDIBEL_SANDBOX_FAULTS = {
        "failure_rate": 1.0,
        "failure_status": 429,
        "retry_after": 10**9,
    }
    attempt = submit_directly()

    run_worker()

    attempt.refresh_from_db()
    assert attempt.status == Status.QUEUED
    assert attempt.next_try_at is not None
    assert attempt.next_try_at - timezone.now() <= timedelta(
        seconds=tasks.RETRY_AFTER_CAP_SECONDS
    )


def test_a_task_that_comes_too_early_leaves_one_for_the_right_moment(db):
    attempt = submit_directly()
    later = timezone.now() + timedelta(minutes=5)
    Attempt.objects.filter(pk=attempt.pk).update(next_try_at=later)
    DBTaskResult.objects.all().delete()

    tasks.verify_attempt(attempt_id=attempt.pk)

    attempt.refresh_from_db()
    assert attempt.status == Status.QUEUED
    assert not attempt.calls.exists()
    (waiting,) = DBTaskResult.objects.all()
    assert waiting.run_after == later
