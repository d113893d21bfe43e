"""The cost ledger: what the provider was paid, by day and by month, and what it
was paid twice.

Every call is on file (verification.models.ProviderCall) with whether it was
charged: `yes` (a definite answer), `no` (refused, a 5xx, no connection) or
`unknown` (the answer was lost: it may have been charged). A `not_verified` answer
for a failed liveness check is charged the liveness check only
(`ProviderCall.liveness_only`). The estimate prices each charged call at
KREDIBEL_PRICE_IDR, or KREDIBEL_LIVENESS_PRICE_IDR for a liveness-only one, and says
how much more it would be if every unknown call was charged at the full price. A
duplicate purchase is a charged call for an attempt that already had its answer:
money paid twice, listed with its attempt.

Days and months are the local calendar's (TIME_ZONE). A day's totals are read off
the calls' index (started_at first, then what is counted), and kept (LedgerDay)
once the day is settled, so a month costs what its last few days' calls cost,
whatever the table holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from verification.models import LedgerDay, ProviderCall

Charged = ProviderCall.Charged

# How many of a month's duplicate purchases the ledger lists on its page (all of
# them are a click away, in the list filtered to them).
PAID_TWICE_SHOWN = 50
# Days after which a day's calls no longer change, and its sums are kept.
SETTLED_DAYS = 3


@dataclass(frozen=True)
class Prices:
    """What the provider charges, in rupiah: a call, and a liveness-only answer."""

    call: int
    liveness: int

    @classmethod
    def from_settings(cls) -> Prices:
        return cls(
            call=settings.KREDIBEL_PRICE_IDR,
            liveness=settings.KREDIBEL_LIVENESS_PRICE_IDR,
        )

    @property
    def configured(self) -> bool:
        return bool(self.call or self.liveness)

    def of(self, call: ProviderCall) -> int:
        """The estimated price of one call (0 unless it was charged)."""
        if call.charged != Charged.YES:
            return 0
        return self.liveness if call.liveness_only else self.call


@dataclass
class Totals:
    """The calls of a day or a month, and what they cost."""

    calls: int = 0
    charged: int = 0  # at the full price
    liveness_only: int = 0  # charged the liveness check only
    unknown: int = 0
    not_charged: int = 0
    duplicates: int = 0
    duplicates_liveness_only: int = 0

    def add(self, other: Totals) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def spend(self, prices: Prices) -> int:
        """The estimate for the calls known to be charged."""
        return self.charged * prices.call + self.liveness_only * prices.liveness

    def at_most(self, prices: Prices) -> int:
        """The estimate if every call whose answer was lost was charged too."""
        return self.spend(prices) + self.unknown * prices.call

    def paid_twice(self, prices: Prices) -> int:
        """What the duplicate purchases cost."""
        full = self.duplicates - self.duplicates_liveness_only
        return full * prices.call + self.duplicates_liveness_only * prices.liveness


@dataclass
class Day:
    day: date
    totals: Totals
    spend: int


@dataclass
class MonthLedger:
    """A month's calls day by day, its totals, and what was paid twice."""

    month: date  # its first day
    prices: Prices
    days: list[Day]
    total: Totals
    paid_twice: list[ProviderCall] = field(default_factory=list)

    @property
    def previous(self) -> date:
        return (self.month - timedelta(days=1)).replace(day=1)

    @property
    def next(self) -> date | None:
        following = month_after(self.month)
        return following if following <= timezone.localdate() else None

    @property
    def spend(self) -> int:
        return self.total.spend(self.prices)

    @property
    def at_most(self) -> int:
        return self.total.at_most(self.prices)

    @property
    def paid_twice_spend(self) -> int:
        return self.total.paid_twice(self.prices)

    @property
    def paid_twice_more(self) -> int:
        return self.total.duplicates - len(self.paid_twice)


def month_after(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The first and the last instant (exclusive) of a local calendar month."""
    first = month.replace(day=1)
    return local_midnight(first), local_midnight(month_after(first))


def day_bounds(day: date) -> tuple[datetime, datetime]:
    return local_midnight(day), local_midnight(day + timedelta(days=1))


# Named apart from the calls' columns (an aggregate called `charged` would stand
# for the column in the filters beside it).
COUNTS = {
    "n_calls": Count("pk"),
    "n_charged": Count("pk", filter=Q(charged=Charged.YES, liveness_only=False)),
    "n_liveness_only": Count("pk", filter=Q(charged=Charged.YES, liveness_only=True)),
    "n_unknown": Count("pk", filter=Q(charged=Charged.UNKNOWN)),
    "n_not_charged": Count("pk", filter=Q(charged=Charged.NO)),
    "n_duplicates": Count("pk", filter=Q(duplicate=True, charged=Charged.YES)),
    "n_duplicates_liveness_only": Count(
        "pk", filter=Q(duplicate=True, charged=Charged.YES, liveness_only=True)
    ),
}


def _totals(values: dict[str, Any]) -> Totals:
    return Totals(**{name.removeprefix("n_"): values[name] for name in COUNTS})


def _summed_days(start: datetime, end: datetime) -> dict[date, Totals]:
    """The calls started in [start, end), summed per local day (one query)."""
    rows = (
        ProviderCall.objects.filter(started_at__gte=start, started_at__lt=end)
        .annotate(day=TruncDate("started_at", tzinfo=timezone.get_current_timezone()))
        .order_by()
        .values("day")
        .annotate(**COUNTS)
    )
    summed = {}
    for row in rows:
        values: dict[str, Any] = dict(row)
        summed[values["day"]] = _totals(values)
    return summed


def month_ledger(
    month: date, *, prices: Prices | None = None, today: date | None = None
) -> MonthLedger:
    """The ledger of the local calendar month that `month` falls in: one line per
    day with calls, the month's totals, and the month's duplicate purchases (the
    first PAID_TWICE_SHOWN, with their attempts).

    A day SETTLED_DAYS old no longer changes (a call is answered, lost or flagged a
    duplicate within minutes), so its sums are kept (LedgerDay) the first time they
    are read and never summed again: a month costs its recent days, whatever its
    volume. At most four queries."""
    prices = prices or Prices.from_settings()
    today = today or timezone.localdate()
    first = month.replace(day=1)
    following = month_after(first)
    start, end = month_bounds(first)
    settled_before = today - timedelta(days=SETTLED_DAYS)
    kept = {
        stored.day: stored.totals()
        for stored in LedgerDay.objects.filter(day__gte=first, day__lt=following)
    }
    days_in_month = [first + timedelta(days=n) for n in range((following - first).days)]
    missing = [day for day in days_in_month if day not in kept]
    if missing:
        summed = _summed_days(local_midnight(missing[0]), end)
        kept.update({day: line for day, line in summed.items() if day >= missing[0]})
        settled = [day for day in missing if day < settled_before]
        LedgerDay.objects.bulk_create(
            [LedgerDay.of(day, summed.get(day, Totals())) for day in settled],
            ignore_conflicts=True,
        )
    days = []
    total = Totals()
    for day in days_in_month:
        line = kept.get(day)
        if line is None or not line.calls:
            continue
        total.add(line)
        days.append(Day(day=day, totals=line, spend=line.spend(prices)))
    paid_twice = list(
        ProviderCall.objects.filter(
            started_at__gte=start,
            started_at__lt=end,
            duplicate=True,
            charged=Charged.YES,
        )
        .select_related("attempt__applicant")
        .order_by("started_at", "pk")[:PAID_TWICE_SHOWN]
    )
    return MonthLedger(
        month=first, prices=prices, days=days, total=total, paid_twice=paid_twice
    )


def months_back(count: int, *, today: date | None = None) -> list[date]:
    """The first days of this month and the `count - 1` before it, newest first."""
    month = (today or timezone.localdate()).replace(day=1)
    months = []
    for _n in range(count):
        months.append(month)
        month = (month - timedelta(days=1)).replace(day=1)
    return months


# Export -------------------------------------------------------------------------------

CALL_COLUMNS = (
    _("started"),
    _("attempt"),
    _("provider id"),
    _("reference id"),
    _("outcome"),
    _("charged"),
    _("liveness check only"),
    _("duplicate purchase"),
    _("estimated price (IDR)"),
    _("HTTP status"),
    _("duration (ms)"),
)


def call_rows(
    calls: QuerySet[ProviderCall], *, prices: Prices | None = None
) -> Iterator[list[str]]:
    """The CSV export of `calls`, a header then one row each, oldest first, read a
    chunk at a time (a month of calls is never held in memory at once)."""
    prices = prices or Prices.from_settings()
    yield [str(label) for label in CALL_COLUMNS]
    rows = (
        calls.select_related("attempt")
        .only(
            "started_at",
            "attempt__code",
            "provider_id",
            "reference_id",
            "outcome",
            "charged",
            "liveness_only",
            "duplicate",
            "http_status",
            "duration_ms",
        )
        .order_by("started_at", "pk")
    )
    for call in rows.iterator(chunk_size=2000):
        yield [
            timezone.localtime(call.started_at).isoformat(timespec="seconds"),
            str(call.attempt.code),
            call.provider_id,
            call.reference_id,
            call.outcome,
            call.charged,
            "yes" if call.liveness_only else "no",
            "yes" if call.duplicate else "no",
            str(prices.of(call)),
            "" if call.http_status is None else str(call.http_status),
            "" if call.duration_ms is None else str(call.duration_ms),
        ]


TOTAL_COLUMNS = (
    _("day"),
    _("calls"),
    _("charged"),
    _("liveness check only"),
    _("possibly charged (answer lost)"),
    _("not charged"),
    _("duplicate purchases"),
    _("estimated spend (IDR)"),
    _("at most, if the lost answers were charged (IDR)"),
    _("paid twice (IDR)"),
)


def total_rows(ledger: MonthLedger) -> Iterable[list[str]]:
    """The month's ledger as CSV rows: a header, a row per day, the month."""
    yield [str(label) for label in TOTAL_COLUMNS]
    lines = [(day.day.isoformat(), day.totals) for day in ledger.days]
    lines.append((ledger.month.strftime("%Y-%m"), ledger.total))
    for label, line in lines:
        yield [
            label,
            str(line.calls),
            str(line.charged),
            str(line.liveness_only),
            str(line.unknown),
            str(line.not_charged),
            str(line.duplicates),
            str(line.spend(ledger.prices)),
            str(line.at_most(ledger.prices)),
            str(line.paid_twice(ledger.prices)),
        ]
