"""The daily budget of provider calls for the whole site: past it, attempts wait
queued with their tries untouched and the provider is not called; the operators
are told once (an email to ADMINS, a banner on every admin page); the next day, on
an injected clock, the queue drains. Against the sandbox over HTTP."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client.parser import text_string_to_metric_families

from tests.applying import submit
from tests.attempts import stored_attempt
from tests.kredibel_payloads import closed_port
from tests.pages import text_of
from tests.reviewing import make_user
from tests.worker import run_worker
from verification import budget, gate, metrics
from verification.models import Attempt, ProviderCall
from verification.retry_policy import RetryPolicy
from verification.verifying import verify_attempt

Status = Attempt.Status
BANNER = "Today's budget of 2 provider calls (DAILY_VERIFICATION_BUDGET) is spent"


@pytest.fixture
def two_a_day(settings):
    settings.DAILY_VERIFICATION_BUDGET = 2
    settings.ADMINS = ["ops@example.id"]
    return settings


def attempts(count: int) -> list[Attempt]:
    return [stored_attempt(nik=f"31710101010{n:05d}") for n in range(count)]


def tomorrow_at(hour: int) -> datetime:
    day = timezone.localdate() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, time(hour)))


def budget_emails() -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if "budget" in m.subject]


@pytest.mark.django_db(transaction=True)
def test_past_the_budget_attempts_wait_queued_and_the_provider_is_not_called(
    sandbox, two_a_day
):
    made = attempts(4)

    run_worker()

    statuses = [Attempt.objects.get(pk=a.pk) for a in made]
    assert [a.status for a in statuses] == [Status.VERIFIED] * 2 + [Status.QUEUED] * 2
    assert [a.tries for a in statuses[2:]] == [0, 0]
    assert all(a.next_try_at is not None for a in statuses[2:])
    assert ProviderCall.objects.count() == 2
    assert budget.spent()


@pytest.mark.django_db(transaction=True)
def test_the_next_day_the_waiting_attempts_drain(sandbox, two_a_day):
    made = attempts(4)
    run_worker()
    waiting = [a for a in made if Attempt.objects.get(pk=a.pk).status == "queued"]
    morning = tomorrow_at(0) + timedelta(minutes=1)

    for attempt in waiting:
        verify_attempt(
            attempt_id=attempt.pk,
            policy=RetryPolicy.from_settings(clock=lambda: morning),
        )

    assert Attempt.objects.filter(status=Status.VERIFIED).count() == 4
    assert ProviderCall.objects.filter(started_at__gte=tomorrow_at(0)).count() == 2
    assert budget.calls_used(morning) == 2  # tomorrow's budget, not today's


@pytest.mark.django_db(transaction=True)
def test_the_operators_get_one_email_a_day_however_many_attempts_wait(
    sandbox, two_a_day
):
    attempts(6)

    run_worker()
    for attempt in Attempt.objects.filter(status=Status.QUEUED):
        verify_attempt(attempt_id=attempt.pk)  # each asks again, and waits again
    run_worker()

    (email,) = budget_emails()
    assert email.to == ["ops@example.id"]
    assert "budget of 2 provider calls" in email.body
    assert "4 attempt(s) are waiting" in email.body
    assert "nothing is lost" in email.body
    assert ProviderCall.objects.count() == 2


@pytest.mark.django_db
def test_an_email_the_mail_server_refused_is_sent_again_later(settings):
    settings.ADMINS = ["ops@example.id"]
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": closed_port(), "timeout": 2},
        }
    }
    now = timezone.now()

    budget.tell_operators(day=budget.day_of(now), now=now)

    again = DBTaskResult.objects.get(task_path__endswith="tell_operators_budget_spent")
    assert again.run_after == now + budget.BUDGET_RECHECK


@pytest.mark.django_db(transaction=True)
def test_every_admin_page_shows_the_banner_while_the_budget_is_spent(
    sandbox, two_a_day
):
    attempts(3)
    run_worker()
    staff = Client(headers={"accept-language": "en"})
    staff.force_login(make_user("operator", superuser=True))

    for path in ("/admin/", "/admin/verification/attempt/", "/admin/auth/user/"):
        assert BANNER in text_of(staff.get(path)), path
    assert BANNER not in text_of(Client().get("/admin/login/"))

    two_a_day.DAILY_VERIFICATION_BUDGET = 10  # the operator raises it
    assert BANNER.split(" 2 ")[0] not in text_of(staff.get("/admin/"))


@pytest.mark.django_db(transaction=True)
def test_the_applicants_status_page_says_it_waits(sandbox, two_a_day):
    applicant = Client(headers={"accept-language": "en"})
    for n in range(3):
        submit(applicant, identityId=f"317101060790000{n}")
    run_worker()
    waiting = Attempt.objects.get(status=Status.QUEUED)

    page = text_of(applicant.get(f"/status/{waiting.code}/"))

    assert "Many applications are being checked today" in page
    assert "at the latest tomorrow" in page
    assert "Nothing you sent is lost" in page
    assert "slow to answer" not in page


# The gate's count ---------------------------------------------------------------


def admit(now):
    with transaction.atomic():
        return gate.admit(now)


@pytest.mark.django_db
def test_a_claimed_attempt_about_to_call_counts_against_the_budget(settings):
    """Two workers cannot both take the last call: the one claimed before its call
    is on file already counts."""
    settings.DAILY_VERIFICATION_BUDGET = 1
    now = timezone.now()
    (held,) = attempts(1)
    Attempt.objects.filter(pk=held.pk).update(
        status=Status.VERIFYING, lease_expires_at=now + timedelta(seconds=60)
    )

    refused = admit(now)

    assert (refused.admitted, refused.budget_spent) == (False, True)
    assert refused.retry_at == now + budget.BUDGET_RECHECK


@pytest.mark.django_db
def test_a_call_in_flight_is_counted_once(settings):
    settings.DAILY_VERIFICATION_BUDGET = 2
    now = timezone.now()
    (held,) = attempts(1)
    Attempt.objects.filter(pk=held.pk).update(
        status=Status.VERIFYING, lease_expires_at=now + timedelta(seconds=60)
    )
    ProviderCall.objects.create(attempt=held, started_at=now)

    assert budget.calls_used(now) == 1
    assert admit(now).admitted


@pytest.mark.django_db
def test_calls_the_provider_did_not_charge_do_not_use_the_budget(settings):
    settings.DAILY_VERIFICATION_BUDGET = 1
    now = timezone.now()
    (attempt,) = attempts(1)
    ProviderCall.objects.create(
        attempt=attempt,
        started_at=now,
        finished_at=now,
        outcome=ProviderCall.Outcome.PROVIDER_ERROR,
        charged=ProviderCall.Charged.NO,
    )

    assert admit(now).admitted


@pytest.mark.django_db
def test_the_budget_counts_the_local_day(settings):
    settings.DAILY_VERIFICATION_BUDGET = 1
    (attempt,) = attempts(1)
    midnight = timezone.make_aware(
        datetime.combine(timezone.localdate(), time.min),
        timezone.get_current_timezone(),
    )
    ProviderCall.objects.create(
        attempt=attempt, started_at=midnight - timedelta(seconds=1)
    )

    assert admit(midnight + timedelta(minutes=1)).admitted
    assert not admit(midnight - timedelta(minutes=1)).admitted


@pytest.mark.django_db
def test_a_waiting_attempt_asks_again_by_midnight_at_the_latest(settings):
    settings.DAILY_VERIFICATION_BUDGET = 1
    late = tomorrow_at(0) - timedelta(minutes=2)
    (attempt,) = attempts(1)
    ProviderCall.objects.create(attempt=attempt, started_at=late - timedelta(hours=1))

    assert admit(late).retry_at == tomorrow_at(0)


@pytest.mark.django_db
def test_a_raised_budget_lets_the_next_ask_through(settings):
    settings.DAILY_VERIFICATION_BUDGET = 1
    now = timezone.now()
    (attempt,) = attempts(1)
    ProviderCall.objects.create(attempt=attempt, started_at=now)
    assert not admit(now).admitted

    settings.DAILY_VERIFICATION_BUDGET = 5

    assert admit(now).admitted


@pytest.mark.django_db
def test_no_budget_means_no_limit(settings):
    settings.DAILY_VERIFICATION_BUDGET = 0
    now = timezone.now()
    for attempt in attempts(3):
        ProviderCall.objects.create(attempt=attempt, started_at=now)

    assert admit(now).admitted
    assert not budget.spent(now)


@pytest.mark.django_db(transaction=True)
def test_the_health_check_stays_ok_while_attempts_wait_for_the_budget(
    sandbox, two_a_day
):
    attempts(4)
    run_worker()

    health = Client().get("/healthz").json()

    assert health["status"] == "ok"
    assert health["daily_budget"] == "spent"
    assert health["queues"]["provider"]["due"] == 0


@pytest.mark.django_db
def test_the_metrics_show_the_budget_and_todays_calls(settings):
    settings.DAILY_VERIFICATION_BUDGET = 2
    settings.METRICS_TOKEN = "scrape-token"
    metrics.clear_cache()
    now = timezone.now()
    for attempt in attempts(3):
        ProviderCall.objects.create(attempt=attempt, started_at=now)
    ProviderCall.objects.create(attempt=attempt, started_at=now - timedelta(days=1))

    scraped = Client().get("/metrics", headers={"authorization": "Bearer scrape-token"})

    found = {
        sample.name: sample.value
        for family in text_string_to_metric_families(scraped.content.decode())
        for sample in family.samples
    }
    assert found["ktp_provider_daily_budget"] == 2
    assert found["ktp_provider_calls_today"] == 3
    metrics.clear_cache()
