"""The provider gate: the circuit breaker that stops every worker calling a failing
provider, and the limit on calls in flight. Time is handed in, never waited for."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.attempts import stored_attempt
from tests.worker import run_worker
from verification import gate, kredibel
from verification.models import Attempt, ProviderCall, ProviderGate

pytestmark = pytest.mark.django_db

UNAVAILABLE = kredibel.ProviderError("down", retryable=True, http_status=503)
ANSWER = kredibel.IssuanceResult(
    provider_id="p-1",
    status=kredibel.Status.VERIFIED,
    reject_fields=(),
    reference_id="ref",
    message="",
    http_status=200,
    duration=1.0,
)


@pytest.fixture(autouse=True)
def _breaker(settings):
    settings.VERIFY_BREAKER_FAILURES = 3
    settings.VERIFY_BREAKER_COOLDOWN_SECONDS = 30
    settings.VERIFY_RETRY_MAX_SECONDS = 600


def admit(now):
    with transaction.atomic():
        return gate.admit(now)


def fail(times: int, now) -> None:
    for _ in range(times):
        gate.record(UNAVAILABLE, probe=False, now=now)


def test_the_circuit_opens_after_failures_in_a_row_and_lets_nothing_through():
    now = timezone.now()
    fail(2, now)
    assert gate.room(now) > 0

    fail(1, now)

    assert gate.state(now) == "open"
    assert gate.room(now) == 0
    refused = admit(now)
    assert not refused.admitted
    assert refused.retry_at == now + timedelta(seconds=30)


def test_a_success_between_failures_starts_the_count_again():
    now = timezone.now()
    fail(2, now)
    gate.record(ANSWER, probe=False, now=now)
    fail(2, now)

    assert gate.state(now) == "closed"


def test_a_refused_request_is_not_the_providers_failure():
    now = timezone.now()
    invalid = kredibel.InvalidRequest("no", field_errors={}, http_status=400)
    for _ in range(5):
        gate.record(invalid, probe=False, now=now)

    assert gate.state(now) == "closed"


def test_after_the_cooldown_one_probe_goes_and_the_others_wait_for_it():
    now = timezone.now()
    fail(3, now)
    later = now + timedelta(seconds=31)

    assert gate.room(later) == 1
    probe = admit(later)
    second = admit(later)

    assert (probe.admitted, probe.probe) == (True, True)
    assert not second.admitted
    assert gate.room(later) == 0


def test_a_probe_that_gets_an_answer_closes_the_circuit():
    now = timezone.now()
    fail(3, now)
    later = now + timedelta(seconds=31)
    admit(later)

    gate.record(ANSWER, probe=True, now=later)

    assert gate.state(later) == "closed"
    assert ProviderGate.load().failures == 0


def test_a_failed_probe_opens_the_circuit_again_for_twice_as_long():
    now = timezone.now()
    fail(3, now)
    later = now + timedelta(seconds=31)
    admit(later)

    gate.record(UNAVAILABLE, probe=True, now=later)

    assert gate.state(later + timedelta(seconds=59)) == "open"
    assert gate.state(later + timedelta(seconds=61)) == "half_open"


def test_a_rate_limit_asks_every_worker_to_wait_as_long_as_it_says():
    now = timezone.now()
    limited = kredibel.RateLimited("slow down", retry_after=90, http_status=429)

    gate.record(limited, probe=False, now=now)

    assert gate.state(now + timedelta(seconds=89)) == "open"
    assert gate.state(now + timedelta(seconds=91)) == "half_open"


def test_calls_in_flight_are_kept_within_the_limit(settings):
    settings.VERIFY_MAX_IN_FLIGHT = 2
    now = timezone.now()
    for _ in range(2):
        attempt = stored_attempt(nik=f"3171010101{_:06d}")
        Attempt.objects.filter(pk=attempt.pk).update(
            status=Attempt.Status.VERIFYING,
            lease_expires_at=now + timedelta(seconds=60),
        )

    assert gate.room(now) == 0
    assert not admit(now).admitted
    # A lease that ran out no longer holds a place.
    Attempt.objects.update(lease_expires_at=now - timedelta(seconds=1))
    assert gate.room(now) == 2


@pytest.mark.django_db(transaction=True)
def test_while_the_circuit_is_open_attempts_stay_queued_and_uncharged(
    sandbox, settings
):
    settings.KREDIBEL_SANDBOX_FAULTS = {"failure_rate": 1.0, "failure_status": 503}
    settings.VERIFY_MAX_TRIES = 10
    first = stored_attempt(nik="3171010101000001")
    run_worker()  # three failed calls in a row (backoff 0): the circuit opens
    assert first.calls.count() == 3
    held = stored_attempt(nik="3171010101000002")

    run_worker()

    held.refresh_from_db()
    assert held.status == Attempt.Status.QUEUED
    assert held.tries == 0
    assert not held.calls.exists()
    assert gate.state() == "open"

    # The provider is back and the cooldown over: the probe gets an answer, the
    # circuit closes, the queue drains.
    settings.KREDIBEL_SANDBOX_FAULTS = {}
    ProviderGate.objects.update(open_until=timezone.now() - timedelta(seconds=1))
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())
    run_worker()
    run_worker()

    assert set(Attempt.objects.values_list("status", flat=True)) == {"verified"}
    assert gate.state() == "closed"
    assert ProviderCall.objects.filter(charged="yes").count() == 2
