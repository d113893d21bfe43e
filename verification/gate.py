"""The gate in front of the provider, shared by every worker on every host: at most
VERIFY_MAX_IN_FLIGHT calls at once, a circuit breaker, and the day's budget of calls
(verification.budget).

While the provider is failing (VERIFY_BREAKER_FAILURES failures in a row, or a 429
asking everyone to wait) nobody calls it: attempts stay queued, their tries
untouched, until the cooldown is over; then one call probes the provider. A probe
that gets an answer closes the circuit and the queue drains; a failed one opens it
again for twice as long (at most VERIFY_RETRY_MAX_SECONDS).

`room` is a cheap read for a worker deciding how much to take; `admit` is the
decision, made in the transaction that claims the attempt while holding the gate's
row, so that two workers cannot both take the last place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from verification import budget, kredibel
from verification.models import Attempt, ProviderGate

logger = logging.getLogger(__name__)

# How soon an attempt refused for want of room, or while the probe is out, asks
# again.
FULL_RETRY = timedelta(seconds=1)
PROBE_RETRY = timedelta(seconds=2)


def calls_in_flight(now: datetime) -> int:
    """Attempts held by a worker under a lease that has not run out: each is at
    most one call in flight (a worker that died still counts until its lease
    ends)."""
    return Attempt.objects.filter(
        status=Attempt.Status.VERIFYING, lease_expires_at__gt=now
    ).count()


def room(now: datetime | None = None) -> int:
    """How many calls may start now, over every worker: none while the circuit
    is open or its probe is out, one for the probe, else the places left."""
    now = now or timezone.now()
    gate = ProviderGate.load()
    state = gate.state(now)
    if state == "open":
        return 0
    if state == "half_open":
        return 0 if _probing(gate, now) else 1
    return max(0, settings.VERIFY_MAX_IN_FLIGHT - calls_in_flight(now))


@dataclass(frozen=True)
class Admission:
    """The gate's answer: `admitted`, as the probe or not; when refused, the
    moment to ask again, and whether it is for the day's budget."""

    admitted: bool
    probe: bool = False
    retry_at: datetime | None = None
    budget_spent: bool = False


def admit(now: datetime) -> Admission:
    """Whether one more call may start now. Must run inside the transaction that
    claims the attempt: it locks the gate's row until that commits. Past the day's
    budget (verification.budget) nothing starts until the next day."""
    gate = _locked()
    state = gate.state(now)
    if state == "open":
        return Admission(admitted=False, retry_at=gate.open_until)
    spending = budget.spending(now)
    if spending.spent:
        budget.reached(gate, now)
        return Admission(
            admitted=False, retry_at=budget.recheck_at(now), budget_spent=True
        )
    if state == "half_open":
        if _probing(gate, now):
            return Admission(admitted=False, retry_at=now + PROBE_RETRY)
        gate.probe_until = now + timedelta(seconds=settings.VERIFY_LEASE_SECONDS)
        gate.updated_at = now
        gate.save(update_fields=["probe_until", "updated_at"])
        logger.info("Provider circuit: probing the provider with one call.")
        admission = Admission(admitted=True, probe=True)
    elif calls_in_flight(now) >= settings.VERIFY_MAX_IN_FLIGHT:
        return Admission(admitted=False, retry_at=now + FULL_RETRY)
    else:
        admission = Admission(admitted=True)
    if spending.limit and spending.used + 1 >= spending.limit:
        budget.reached(gate, now)  # this call is the day's last
    return admission


def is_provider_failure(error: kredibel.KredibelError) -> bool:
    """Whether an error says the provider is failing (as opposed to our request,
    our key or our address being wrong): 5xx, 429, no connection, no answer."""
    if isinstance(
        error,
        kredibel.RateLimited
        | kredibel.ConnectTimeout
        | kredibel.ReadTimeout
        | kredibel.ConnectionFailed,
    ):
        return error.retryable
    return isinstance(error, kredibel.ProviderError) and error.retryable


def record(
    outcome: kredibel.IssuanceResult | kredibel.KredibelError,
    *,
    probe: bool,
    now: datetime,
) -> None:
    """Tell the gate how a call went. Best effort: the breaker is a protection,
    and a database that does not answer now must not cost the call's answer."""
    failed = isinstance(outcome, kredibel.KredibelError) and is_provider_failure(
        outcome
    )
    try:
        with transaction.atomic():
            if failed:
                assert isinstance(outcome, kredibel.KredibelError)  # noqa: S101
                _failure(outcome, probe=probe, now=now)
            else:
                _success(probe=probe, now=now)
    except DatabaseError:
        logger.warning("Provider circuit: could not record a call's outcome.")


def _success(*, probe: bool, now: datetime) -> None:
    gate = ProviderGate.load()
    if not (gate.failures or gate.open_until or gate.probe_until):
        return  # nothing to reset: no write on the busy path
    gate = _locked()
    was_open = gate.open_until is not None
    gate.failures = 0
    gate.open_until = None
    gate.probe_until = None
    gate.cooldown_seconds = 0
    gate.updated_at = now
    gate.save()
    if was_open:
        logger.warning("Provider circuit closed: the provider answers again.")


def _failure(error: kredibel.KredibelError, *, probe: bool, now: datetime) -> None:
    gate = _locked()
    gate.failures += 1
    wait = error.retry_after if isinstance(error, kredibel.RateLimited) else None
    if probe or (
        gate.open_until is None
        and (gate.failures >= settings.VERIFY_BREAKER_FAILURES or wait)
    ):
        if probe:
            gate.cooldown_seconds = min(
                max(gate.cooldown_seconds, settings.VERIFY_BREAKER_COOLDOWN_SECONDS)
                * 2,
                max(
                    settings.VERIFY_RETRY_MAX_SECONDS,
                    settings.VERIFY_BREAKER_COOLDOWN_SECONDS,
                ),
            )
        elif wait:
            gate.cooldown_seconds = 0
        else:
            gate.cooldown_seconds = settings.VERIFY_BREAKER_COOLDOWN_SECONDS
        pause = max(gate.cooldown_seconds, wait or 0)
        gate.open_until = now + timedelta(seconds=pause)
        gate.probe_until = None
        gate.opened_count += 1
        logger.warning(
            "Provider circuit open for %.0f s after %d provider failure(s) in a "
            "row (%s): attempts wait in the queue.",
            pause,
            gate.failures,
            error.outcome,
        )
    gate.updated_at = now
    gate.save()


def _probing(gate: ProviderGate, now: datetime) -> bool:
    return gate.probe_until is not None and gate.probe_until > now


def _locked() -> ProviderGate:
    ProviderGate.load()  # exists before it can be locked
    return ProviderGate.objects.select_for_update().get(pk=1)


def state(now: datetime | None = None) -> str:
    """The circuit's state for operators: closed, open or half_open."""
    return ProviderGate.load().state(now or timezone.now())
