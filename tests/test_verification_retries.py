"""What the background verification does when the provider misbehaves: every fault
produced for real by the sandbox, over HTTP."""

from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.applying import selfie_bytes, submit
from tests.kredibel_payloads import jpeg, serve_sandbox
from tests.pages import text_of
from tests.photos import phone_jpeg
from tests.worker import run_worker
from verification import kredibel, recovery, submission, tasks, verifying
from verification.models import Attempt, ProviderCall
from verification.retry_policy import RetryPolicy
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
    call = attempt.calls.get()
    assert call.outcome == Outcome.RATE_LIMITED
    assert attempt.next_try_at
    assert call.finished_at
    assert attempt.next_try_at - call.finished_at == timedelta(seconds=120)
    (waiting,) = DBTaskResult.objects.filter(
        task_path=tasks.verify.module_path, status="READY"
    )
    assert waiting.run_after == attempt.next_try_at


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
    policy = RetryPolicy.from_settings(rng=random.Random(1))
    waits = {
        tries: [policy.backoff(tries) for _ in range(200)] for tries in (1, 2, 3, 4, 9)
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


def submit_directly(**overrides: Any) -> Attempt:
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
    attempt, _ = submission.submit_attempt(**values)
    return attempt


def test_a_refused_request_fails_at_once_and_keeps_the_providers_messages(
    sandbox, caplog
):
    small_selfie = jpeg(480, 640, size=60 * 1024)
    attempt = submit_directly(face_image=small_selfie)

    with caplog.at_level(logging.ERROR, logger="verification.verifying"):
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

    with caplog.at_level(logging.ERROR, logger="verification.verifying"):
        run_worker()

    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED
    assert attempt.failure == Attempt.Failure.CONFIGURATION
    call = attempt.calls.get()
    assert (call.outcome, call.http_status) == (Outcome.PROVIDER_ERROR, 404)
    assert "check the configuration" in caplog.text


def lease_over(claim: verifying.Claim) -> RetryPolicy:
    """A policy whose clock reads just after `claim`'s lease ended."""
    moment = claim.lease_expires_at + timedelta(seconds=1)
    return RetryPolicy.from_settings(clock=lambda: moment)


def repeat_is_due(attempt: Attempt) -> None:
    """Bring the repeat recovery scheduled (at the injected clock's time) to now."""
    now = timezone.now()
    Attempt.objects.filter(pk=attempt.pk, status=Status.QUEUED).update(next_try_at=now)
    DBTaskResult.objects.filter(
        task_path=tasks.verify.module_path, status="READY"
    ).update(run_after=now)


def claimed_and_called(attempt: Attempt):
    """A worker's first steps: the claim, the call on record, the provider's
    answer in hand (not yet saved)."""
    claim = verifying.claim_attempt(attempt_id=attempt.pk, now=timezone.now())
    assert claim is not None
    request = verifying.issuance_request(Attempt.objects.get(pk=attempt.pk))
    call = ProviderCall.objects.create(attempt=attempt)
    return claim, call, verifying.call_provider(request)


def test_a_late_answer_is_applied_and_the_repeat_queued_for_it_calls_nobody(sandbox):
    """The answer outlives the lease (the worker froze, the provider was that
    slow): recovery queues a repeat; then the paid-for answer arrives and decides
    the attempt, and the repeat does nothing."""
    attempt = submit_directly()
    claim, call, answer = claimed_and_called(attempt)
    recovery.recover_attempt(attempt_id=attempt.pk, policy=lease_over(claim))
    assert Attempt.objects.get(pk=attempt.pk).status == Status.QUEUED
    assert ProviderCall.objects.get(pk=call.pk).outcome == Outcome.LOST

    verifying.settle(
        claim=claim, call=call, outcome=answer, policy=RetryPolicy.from_settings()
    )
    repeat_is_due(attempt)
    run_worker()

    attempt.refresh_from_db()
    assert attempt.status == Status.VERIFIED
    assert attempt.provider_id == answer.provider_id
    assert list(attempt.calls.values_list("outcome", "charged", "duplicate")) == [
        (Outcome.VERIFIED, Charged.YES, False)
    ]
    assert [m.subject for m in mail.outbox] == ["Your identity is verified"]


def test_a_late_answer_decides_an_attempt_already_failed_for_want_of_one(
    sandbox, settings
):
    settings.VERIFY_UNKNOWN_OUTCOME_REPEATS = 0
    attempt = submit_directly()
    claim, call, answer = claimed_and_called(attempt)
    recovery.recover_attempt(attempt_id=attempt.pk, policy=lease_over(claim))
    run_worker()
    assert Attempt.objects.get(pk=attempt.pk).failure == Attempt.Failure.OUTCOME_UNKNOWN

    verifying.settle(
        claim=claim, call=call, outcome=answer, policy=RetryPolicy.from_settings()
    )
    run_worker()

    attempt.refresh_from_db()
    assert (attempt.status, attempt.failure) == (Status.VERIFIED, "")
    assert attempt.calls.get().charged == Charged.YES
    assert [m.subject for m in mail.outbox] == [
        "Your identity check did not finish",
        "Your identity is verified",
    ]


def test_a_second_paid_answer_is_kept_and_flagged_as_a_duplicate_purchase(
    sandbox, caplog
):
    """The repeat was made before the late answer came back: both were paid for,
    the first to arrive decides, the other is on record as a duplicate."""
    attempt = submit_directly()
    claim, call, first = claimed_and_called(attempt)
    recovery.recover_attempt(attempt_id=attempt.pk, policy=lease_over(claim))
    repeat_is_due(attempt)
    run_worker()  # the repeat
    attempt.refresh_from_db()
    assert attempt.status == Status.VERIFIED

    with caplog.at_level(logging.WARNING, logger="verification.verifying"):
        verifying.settle(
            claim=claim, call=call, outcome=first, policy=RetryPolicy.from_settings()
        )

    attempt.refresh_from_db()
    late, repeat = attempt.calls.order_by("pk")
    assert (late.outcome, late.charged, late.duplicate) == (
        Outcome.VERIFIED,
        Charged.YES,
        True,
    )
    assert late.provider_id == first.provider_id
    assert (repeat.charged, repeat.duplicate) == (Charged.YES, False)
    assert attempt.provider_id == repeat.provider_id
    assert "duplicate purchase" in caplog.text
    assert len(mail.outbox) == 1


def test_a_failed_call_from_a_worker_that_lost_its_lease_changes_only_its_record(
    sandbox, settings
):
    settings.KREDIBEL_SANDBOX_FAULTS = {"failure_rate": 1.0, "failure_status": 503}
    attempt = submit_directly()
    claim, call, error = claimed_and_called(attempt)
    assert isinstance(error, kredibel.ProviderError)
    recovery.recover_attempt(attempt_id=attempt.pk, policy=lease_over(claim))
    queued = Attempt.objects.get(pk=attempt.pk)

    verifying.settle(
        claim=claim, call=call, outcome=error, policy=RetryPolicy.from_settings()
    )

    attempt.refresh_from_db()
    assert (attempt.status, attempt.next_try_at, attempt.tries) == (
        queued.status,
        queued.next_try_at,
        queued.tries,
    )
    assert attempt.calls.get().outcome == Outcome.PROVIDER_ERROR


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

    assert submission.retry_failed_attempt(attempt)
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
        retried.append(submission.retry_failed_attempt(attempt))
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
    call = attempt.calls.get()
    assert attempt.next_try_at
    assert call.finished_at
    assert attempt.next_try_at - call.finished_at == timedelta(
        seconds=kredibel.MAX_RETRY_AFTER_SECONDS
    )


def test_a_task_that_comes_too_early_leaves_one_for_the_right_moment(db):
    attempt = submit_directly()
    later = timezone.now() + timedelta(minutes=5)
    Attempt.objects.filter(pk=attempt.pk).update(next_try_at=later)
    DBTaskResult.objects.all().delete()

    verifying.verify_attempt(attempt_id=attempt.pk)

    attempt.refresh_from_db()
    assert attempt.status == Status.QUEUED
    assert not attempt.calls.exists()
    (waiting,) = DBTaskResult.objects.all()
    assert waiting.run_after == later
