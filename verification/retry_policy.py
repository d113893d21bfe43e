"""The retry policy: what happens to an attempt after a provider call that gave no
verdict, and how long to wait before the next try.

- 5xx, 429 and connection failures before the request was sent are retried with
  exponential backoff and jitter (429 waits at least its Retry-After), up to
  VERIFY_MAX_TRIES calls in all; then the attempt is `failed`.
- A validation answer (400) fails at once: our request was wrong and sending it
  again would not change that. A refused API key and an unreadable answer also fail
  at once; they need an operator.
- A call whose answer was lost (no answer by the deadline, a connection dropped
  after sending, a worker that stopped mid-call) may have been charged. It is
  repeated at most VERIFY_UNKNOWN_OUTCOME_REPEATS times, after
  VERIFY_UNKNOWN_DELAY_SECONDS; past that the attempt is `failed` and the applicant
  decides whether to try again.

The policy knows nothing of the database: it is given the attempt's counters and
the error, and it answers with a `Next`. Its clock and its random source are
injected, so what it schedules can be checked exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from verification import kredibel
from verification.models import Attempt

Failure = Attempt.Failure

# Shared by the policies built from settings; seeded ones are handed in by tests.
_random = random.Random()  # noqa: S311 - jitter, not secrets


def backoff_seconds(
    tries: int, *, base: float, cap: float, rng: random.Random
) -> float:
    """Exponential backoff with jitter for the `tries`-th failure: the step doubles
    from `base` up to `cap`; half of it is fixed and half random, so that attempts
    failed by one outage do not all come back at the same second."""
    step = min(cap, base * 2 ** max(0, tries - 1))
    return step / 2 + rng.uniform(0, step / 2)


@dataclass(frozen=True)
class Next:
    """What to do with the attempt: fail it with `failure`, or try again after
    `delay` seconds. `lost_answer` says the call counts as one whose answer was
    lost (it may have been charged)."""

    failure: Attempt.Failure | None = None
    delay: float = 0.0
    lost_answer: bool = False


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    max_tries: int
    base_seconds: float
    max_seconds: float
    unknown_repeats: int
    unknown_delay_seconds: float
    rng: random.Random = field(default_factory=lambda: _random)
    clock: Callable[[], datetime] = timezone.now

    @classmethod
    def from_settings(
        cls,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> RetryPolicy:
        return cls(
            max_tries=settings.VERIFY_MAX_TRIES,
            base_seconds=settings.VERIFY_RETRY_BASE_SECONDS,
            max_seconds=settings.VERIFY_RETRY_MAX_SECONDS,
            unknown_repeats=settings.VERIFY_UNKNOWN_OUTCOME_REPEATS,
            unknown_delay_seconds=settings.VERIFY_UNKNOWN_DELAY_SECONDS,
            rng=rng or _random,
            clock=clock or timezone.now,
        )

    def backoff(self, tries: int) -> float:
        return backoff_seconds(
            tries, base=self.base_seconds, cap=self.max_seconds, rng=self.rng
        )

    def after_error(
        self, error: kredibel.KredibelError, *, tries: int, unknown_outcomes: int
    ) -> Next:
        """The next step after `error` on the attempt's `tries`-th call, which had
        `unknown_outcomes` calls with a lost answer before this one."""
        if isinstance(error, kredibel.InvalidRequest):
            return Next(failure=Failure.INVALID_REQUEST)
        if isinstance(error, kredibel.AuthenticationFailed):
            return Next(failure=Failure.AUTHENTICATION)
        if isinstance(error, kredibel.MalformedResponse):
            return Next(failure=Failure.MALFORMED_RESPONSE)
        if error.may_have_been_charged:
            return self.after_lost_answer(unknown_outcomes=unknown_outcomes)
        if not error.retryable:
            return Next(failure=Failure.CONFIGURATION)
        if tries >= self.max_tries:
            return Next(failure=Failure.PROVIDER_UNAVAILABLE)
        delay = self.backoff(tries)
        if isinstance(error, kredibel.RateLimited) and error.retry_after:
            # Already capped by the client (kredibel.MAX_RETRY_AFTER_SECONDS).
            delay = max(delay, error.retry_after)
        return Next(delay=delay)

    def after_lost_answer(self, *, unknown_outcomes: int) -> Next:
        """The next step after a call whose answer was lost, the attempt having
        lost `unknown_outcomes` answers before this one."""
        if unknown_outcomes + 1 > self.unknown_repeats:
            return Next(failure=Failure.OUTCOME_UNKNOWN, lost_answer=True)
        return Next(delay=self.unknown_delay_seconds, lost_answer=True)

    def after_stop(self, *, tries: int) -> Next:
        """The next step for an attempt whose worker stopped before any call was
        on record (nothing was sent)."""
        if tries >= self.max_tries:
            return Next(failure=Failure.PROVIDER_UNAVAILABLE)
        return Next(delay=0.0)
