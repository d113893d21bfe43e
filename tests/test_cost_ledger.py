"""The cost ledger: every provider call in the admin, by day (the local calendar's)
and month, by outcome and by charge; the month's estimated spend at the configured
prices (a liveness-only answer at its own price, lost answers as "at most"); what
was paid twice; CSV of both. One page answers "what did we pay for this month, and
what did we pay twice?"."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.pages import text_of
from tests.reviewing import admin_url, make_attempt, make_user
from verification import ledger
from verification.models import LedgerDay, ProviderCall

pytestmark = pytest.mark.django_db

JAKARTA = ZoneInfo("Asia/Jakarta")
MARCH = date(2025, 3, 1)


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=JAKARTA)


def call(when: datetime, outcome: str, charged: str, **fields) -> ProviderCall:
    return ProviderCall.objects.create(
        attempt=fields.pop("attempt", None) or make_attempt(),
        started_at=when,
        outcome=outcome,
        charged=charged,
        provider_id=fields.pop("provider_id", f"prov-{when:%d%H%M}-{outcome}"),
        **fields,
    )


@pytest.fixture(autouse=True)
def prices(settings):
    settings.KREDIBEL_PRICE_IDR = 5000
    settings.KREDIBEL_LIVENESS_PRICE_IDR = 1500


@pytest.fixture
def march():
    """March 2025 in Jakarta: on the 3rd a verified call, a liveness-only answer, a
    duplicate purchase, a lost answer and a refused call; on the 31st, late in the
    evening, one more verified call. Around it: the last minutes of February and
    the first of April, local time, which belong to neither."""
    paid_twice = make_attempt(provider_id="first-answer")
    calls = {
        "verified": call(at(3, 9), "verified", "yes"),
        "liveness": call(
            at(3, 10), "not_verified", "yes", liveness_only=True, provider_id="liv-1"
        ),
        "first": call(at(3, 11), "verified", "yes", attempt=paid_twice),
        "duplicate": call(
            at(3, 11, 5),
            "verified",
            "yes",
            attempt=paid_twice,
            duplicate=True,
            provider_id="second-answer",
        ),
        "lost": call(at(3, 12), "read_timeout", "unknown"),
        "refused": call(at(3, 13), "provider_error", "no", http_status=503),
        "late": call(at(31, 23, 30), "verified", "yes"),
    }
    call(at(28, 23, 59, month=2), "verified", "yes")
    call(at(1, 0, 1, month=4), "verified", "yes")
    return calls


def test_the_months_totals_add_up_with_liveness_duplicates_and_lost_answers(march):
    month = ledger.month_ledger(MARCH)

    total = month.total
    assert (total.calls, total.charged, total.liveness_only) == (7, 4, 1)
    assert (total.unknown, total.not_charged, total.duplicates) == (1, 1, 1)
    assert month.spend == 4 * 5000 + 1500
    assert month.at_most == month.spend + 5000
    assert month.paid_twice_spend == 5000
    assert [day.day for day in month.days] == [date(2025, 3, 3), date(2025, 3, 31)]
    assert [day.totals.calls for day in month.days] == [6, 1]
    assert [day.spend for day in month.days] == [3 * 5000 + 1500, 5000]
    assert [c.provider_id for c in month.paid_twice] == ["second-answer"]


def test_a_liveness_only_duplicate_costs_the_liveness_price():
    attempt = make_attempt()
    call(at(5, 9), "not_verified", "yes", attempt=attempt, liveness_only=True)
    call(
        at(5, 9, 2),
        "not_verified",
        "yes",
        attempt=attempt,
        liveness_only=True,
        duplicate=True,
    )

    month = ledger.month_ledger(MARCH)

    assert (month.spend, month.paid_twice_spend) == (3000, 1500)


def test_one_page_answers_what_was_paid_and_what_was_paid_twice(client, march):
    client.force_login(make_user("fina", reviewer=True))

    page = text_of(
        client.get(
            admin_url("providercall_changelist"),
            {"month": "2025-03"},
            headers={"accept-language": "en"},
        )
    )

    assert "Cost ledger: March 2025" in page
    assert (
        "Paid this month (estimate): Rp 21,500, for 4 charged calls and 1 "
        "liveness-only answers." in page
    )
    assert (
        "At most Rp 26,500 if the 1 calls whose answer was lost were charged." in page
    )
    assert "Paid twice this month: 1 duplicate purchase, Rp 5,000." in page
    assert "second-answer" in page
    # The list below holds the month's calls only.
    assert page.count("prov-") == 5
    assert "first-answer" not in page.split("Paid twice: the duplicate purchases")[0]


def test_without_prices_the_ledger_counts_and_says_how_to_price(
    client, settings, march
):
    settings.KREDIBEL_PRICE_IDR = settings.KREDIBEL_LIVENESS_PRICE_IDR = 0
    client.force_login(make_user("fina", reviewer=True))

    page = text_of(
        client.get(
            admin_url("providercall_changelist"),
            {"month": "2025-03"},
            headers={"accept-language": "en"},
        )
    )

    assert "4 charged calls, 1 liveness-only answers, 1 possibly charged" in page
    assert "Set KREDIBEL_PRICE_IDR and KREDIBEL_LIVENESS_PRICE_IDR" in page
    assert "Rp" not in page


@pytest.mark.parametrize(
    ("filters", "wanted"),
    [
        ({"day": "2025-03-31"}, ["late"]),
        ({"month": "2025-03", "charged__exact": "unknown"}, ["lost"]),
        ({"month": "2025-03", "charged__exact": "no"}, ["refused"]),
        ({"month": "2025-03", "outcome__exact": "not_verified"}, ["liveness"]),
        ({"month": "2025-03", "duplicate__exact": "1"}, ["duplicate"]),
    ],
)
def test_the_calls_filter_by_day_charge_outcome_and_duplicate(
    client, march, filters, wanted
):
    client.force_login(make_user("fina", reviewer=True))

    response = client.get(admin_url("providercall_changelist"), filters)

    shown = list(response.context["cl"].result_list)
    assert shown == [march[name] for name in wanted]


def test_the_months_totals_and_the_listed_calls_export_as_csv(client, march):
    client.force_login(make_user("fina", reviewer=True))

    totals = client.get(
        admin_url("providercall_export_month"),
        {"month": "2025-03"},
        headers={"accept-language": "en"},
    )
    calls = client.get(
        admin_url("providercall_export_calls"),
        {"month": "2025-03", "charged__exact": "yes"},
        headers={"accept-language": "en"},
    )

    rows = list(csv.reader(io.StringIO(b"".join(totals.streaming_content).decode())))
    assert rows[0][0] == "\ufeffday"
    assert rows[1][:4] == ["2025-03-03", "6", "3", "1"]
    assert rows[-1] == [
        "2025-03",
        "7",
        "4",
        "1",
        "1",
        "1",
        "1",
        "21500",
        "26500",
        "5000",
    ]
    listed = list(csv.reader(io.StringIO(b"".join(calls.streaming_content).decode())))
    assert len(listed) == 1 + 5
    prices = {row[2]: row[8] for row in listed[1:]}
    assert prices["liv-1"] == "1500"
    assert prices["second-answer"] == "5000"
    assert calls["Content-Disposition"].startswith(
        'attachment; filename="provider-calls-'
    )


def test_the_ledger_is_closed_to_staff_without_the_permission(march):
    staff = Client()
    staff.force_login(make_user("someone"))

    assert staff.get(admin_url("providercall_changelist")).status_code == 403
    assert staff.get(admin_url("providercall_export_calls")).status_code == 403
    assert staff.get(admin_url("providercall_export_month")).status_code == 403


def test_a_settled_day_is_summed_once_and_the_recent_days_every_time(march):
    first = ledger.month_ledger(MARCH)
    assert LedgerDay.objects.filter(day__month=3, day__year=2025).count() == 31
    with CaptureQueriesContext(connection) as again:
        second = ledger.month_ledger(MARCH)

    assert second.total == first.total
    assert [line.totals for line in second.days] == [line.totals for line in first.days]
    # The month's kept days, and its duplicate purchases: nothing summed again.
    assert len(again) == 2
    today = timezone.localdate()
    this_month = ledger.month_ledger(today)
    assert not LedgerDay.objects.filter(day__gte=today - timedelta(days=2)).exists()
    assert this_month.total.calls == 0
