"""The daily budget of provider calls for the whole site (DAILY_VERIFICATION_BUDGET).

A day is the local calendar's (TIME_ZONE), as in the cost ledger. What a day has
used is read off the provider-call records: the calls started since local midnight
that may cost money (charged, or with a lost or pending answer; a call the provider
answered without charging, such as a 503, does not count), plus the attempts a
worker holds whose call is not on file yet (claimed, about to call). The gate
(verification.gate.admit) counts it while holding its row, in the transaction that
claims the attempt, so two workers cannot both take the last call.

Past the budget nothing is sent: attempts stay queued with their tries untouched
and ask again every BUDGET_RECHECK, at the latest at the next local midnight, so a
budget the operator raises (and restarts the workers with) is used within minutes,
and a new day drains the queue. The operators are told once a day, when the budget
is reached: an email to ADMINS (through the worker's email lane), a warning in the
log, and a banner on every admin page while it lasts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.mail import mail_admins
from django.db.models import Q
from django.utils import timezone

from verification import tasks
from verification.ledger import local_midnight
from verification.models import Attempt, ProviderCall, ProviderGate

logger = logging.getLogger(__name__)

# How often an attempt waiting for the budget asks again.
BUDGET_RECHECK = timedelta(minutes=5)


@dataclass(frozen=True)
class Spending:
    """A day's budget (`limit`, 0: none) and the calls it has used."""

    limit: int
    used: int

    @property
    def spent(self) -> bool:
        return bool(self.limit) and self.used >= self.limit


def day_of(now: datetime) -> date:
    return timezone.localtime(now).date()


def next_day(now: datetime) -> datetime:
    """The next local midnight after `now`."""
    return local_midnight(day_of(now) + timedelta(days=1))


def recheck_at(now: datetime) -> datetime:
    return min(now + BUDGET_RECHECK, next_day(now))


def calls_used(now: datetime) -> int:
    """Calls started on `now`'s local day that may cost money (all but those the
    provider answered without charging: a 5xx, a refusal, no connection), and
    calls about to start."""
    start = local_midnight(day_of(now))
    held = Q(
        attempt__status=Attempt.Status.VERIFYING,
        attempt__lease_expires_at__gt=now,
    )
    # A held attempt's call in progress is counted once, with the held attempts.
    on_file = (
        ProviderCall.objects.filter(started_at__gte=start, started_at__lt=next_day(now))
        .exclude(charged=ProviderCall.Charged.NO)
        .exclude(held & Q(finished_at__isnull=True))
        .count()
    )
    in_hand = Attempt.objects.filter(
        status=Attempt.Status.VERIFYING, lease_expires_at__gt=now
    ).count()
    return on_file + in_hand


def spending(now: datetime) -> Spending:
    limit = settings.DAILY_VERIFICATION_BUDGET
    return Spending(limit=limit, used=calls_used(now) if limit else 0)


def spent(now: datetime | None = None) -> bool:
    """Whether today's budget is spent (for the admin's banner and the applicant's
    status page): no query beyond the gate's row unless it was reached today."""
    now = now or timezone.now()
    if not settings.DAILY_VERIFICATION_BUDGET:
        return False
    if ProviderGate.load().budget_spent_on != day_of(now):
        return False
    return spending(now).spent


def reached(gate: ProviderGate, now: datetime) -> None:
    """The day's budget is used up: tell the operators, once a day. Call holding
    the gate's row, inside the claiming transaction (the email's task commits with
    it)."""
    today = day_of(now)
    if gate.budget_spent_on == today:
        return
    gate.budget_spent_on = today
    gate.save(update_fields=["budget_spent_on"])
    logger.warning(
        "The daily budget of %d provider calls is spent: new attempts wait queued "
        "until tomorrow or until DAILY_VERIFICATION_BUDGET is raised.",
        settings.DAILY_VERIFICATION_BUDGET,
    )
    tasks.tell_operators_budget_spent.enqueue(today.isoformat())


def tell_operators(*, day: date, now: datetime | None = None) -> None:
    """The email to ADMINS that a day's budget is spent. A mail server that does
    not take it is asked again every BUDGET_RECHECK while that day lasts (the
    banner tells the operators meanwhile)."""
    now = now or timezone.now()
    try:
        _send_to_operators(day)
    except Exception as error:  # any failure of the mail server
        logger.warning(
            "The operators could not be told that the budget is spent (%s).",
            type(error).__name__,
        )
        if day == day_of(now):
            tasks.tell_operators_budget_spent.using(
                run_after=now + BUDGET_RECHECK
            ).enqueue(day.isoformat())
        return
    logger.info("The operators were told that the budget of %s is spent.", day)


def _send_to_operators(day: date) -> None:
    waiting = Attempt.objects.filter(status=Attempt.Status.QUEUED).count()
    limit = settings.DAILY_VERIFICATION_BUDGET
    resumes = f"{(day + timedelta(days=1)).isoformat()} 00:00"
    mail_admins(
        f"Daily verification budget spent ({limit} provider calls)",
        f"The budget of {limit} provider calls for {day.isoformat()} "
        f"(DAILY_VERIFICATION_BUDGET, {settings.TIME_ZONE}) is spent.\n\n"
        f"New attempts are kept and wait in the queue; nothing is lost and no "
        f"applicant has to send anything again. {waiting} attempt(s) are waiting "
        f"now. They are sent from midnight ({resumes}), or within "
        f"{int(BUDGET_RECHECK.total_seconds() // 60)} minutes of the workers being "
        "restarted with a higher DAILY_VERIFICATION_BUDGET.\n",
    )
