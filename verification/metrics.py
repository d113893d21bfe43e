"""Prometheus metrics for the operator's monitoring, at /metrics.

Every number is read from the database when Prometheus scrapes, so every web node
answers the same truth, whichever host ran the worker that made a call:

- `ktp_attempts{status}`: attempts in each status;
- `ktp_provider_calls_total{outcome}`, `ktp_provider_calls_charged_total{charged}`
  (yes, no, unknown), `ktp_provider_duplicate_purchases_total` and the histogram
  `ktp_provider_call_duration_seconds` over every call on file;
- `ktp_provider_circuit_open`: 1 while the circuit breaker keeps calls back;
- `ktp_tasks_due{queue}` and `ktp_task_oldest_due_seconds{queue}`: the queue's lanes;
- `ktp_review_queue_cases`, `ktp_review_queue_oldest_seconds`,
  `ktp_review_overdue_cases` (past REVIEW_SLA_HOURS) and
  `ktp_review_awaiting_second_reviewer`;
- `ktp_emails_pending` and `ktp_email_oldest_pending_seconds`.

The totals over every attempt and every call are the costly ones: each process
counts them at most once per METRICS_CACHE_SECONDS and serves the last count in
between. The rest are read off small indexed sets on every scrape.

The endpoint is not public: it answers 404 unless METRICS_TOKEN is set, and 401
to a scrape without that token as a bearer token. It carries counts only.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from verification import budget, gate, queue, reviews
from verification.models import Attempt, OutboxEmail, ProviderCall, ReviewCase

# Upper bounds of the call duration histogram, in seconds (the call deadline is 35).
DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 35.0, 60.0)

_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def cached(key: str, compute: Callable[[], Any]) -> Any:
    """`compute()`, at most once per METRICS_CACHE_SECONDS in this process."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit and hit[0] > now:
            return hit[1]
    value = compute()
    with _cache_lock:
        _cache[key] = (now + settings.METRICS_CACHE_SECONDS, value)
    return value


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _attempts_by_status() -> dict[str, int]:
    return dict(
        Attempt.objects.order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )


def _calls() -> dict[str, Any]:
    """Every call's outcome, charge, duplicate flag and duration, counted in one
    pass over the calls' index."""
    rows = (
        ProviderCall.objects.order_by()
        .values("outcome", "charged")
        .annotate(
            n=Count("pk"),
            duplicates=Count("pk", filter=Q(duplicate=True)),
            timed=Count("duration_ms"),
            total_ms=Sum("duration_ms"),
            **{
                f"le_{n}": Count("pk", filter=Q(duration_ms__lte=bound * 1000))
                for n, bound in enumerate(DURATION_BUCKETS)
            },
        )
    )
    found: dict[str, Any] = {
        "by_outcome": {},
        "by_charge": {},
        "buckets": dict.fromkeys(
            ["count", *(f"le_{n}" for n in range(len(DURATION_BUCKETS)))], 0
        ),
        "sum_seconds": 0.0,
        "duplicates": 0,
    }
    for values in rows:
        row: dict[str, Any] = dict(values)
        found["by_outcome"][row["outcome"]] = (
            found["by_outcome"].get(row["outcome"], 0) + row["n"]
        )
        found["by_charge"][row["charged"]] = (
            found["by_charge"].get(row["charged"], 0) + row["n"]
        )
        found["duplicates"] += row["duplicates"]
        found["sum_seconds"] += (row["total_ms"] or 0) / 1000
        found["buckets"]["count"] += row["timed"]
        for n in range(len(DURATION_BUCKETS)):
            found["buckets"][f"le_{n}"] += row[f"le_{n}"]
    return found


class DatabaseCollector:
    """Collects the metrics above from the database, on every scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from self._attempts()
        yield from self._provider()
        yield from self._queue()
        yield from self._reviews()
        yield from self._emails()

    def _attempts(self) -> Iterator[Metric]:
        counts = cached("attempts", _attempts_by_status)
        attempts = GaugeMetricFamily(
            "ktp_attempts", "Attempts in each status.", labels=["status"]
        )
        for status in Attempt.Status.values:
            attempts.add_metric([status], counts.get(status, 0))
        yield attempts

    def _provider(self) -> Iterator[Metric]:
        calls = cached("calls", _calls)
        outcomes = CounterMetricFamily(
            "ktp_provider_calls",
            "Calls made to the provider, by outcome.",
            labels=["outcome"],
        )
        for outcome in ProviderCall.Outcome.values:
            outcomes.add_metric([outcome], calls["by_outcome"].get(outcome, 0))
        yield outcomes
        charged = CounterMetricFamily(
            "ktp_provider_calls_charged",
            "Calls by whether the provider charged them (unknown: the answer was "
            "lost).",
            labels=["charged"],
        )
        for value in ProviderCall.Charged.values:
            charged.add_metric([value], calls["by_charge"].get(value, 0))
        yield charged
        duplicates = CounterMetricFamily(
            "ktp_provider_duplicate_purchases",
            "Answers bought twice for the same attempt.",
        )
        duplicates.add_metric([], calls["duplicates"])
        yield duplicates
        buckets = calls["buckets"]
        histogram = HistogramMetricFamily(
            "ktp_provider_call_duration_seconds",
            "How long provider calls took.",
            buckets=[
                *(
                    (repr(bound), buckets[f"le_{n}"])
                    for n, bound in enumerate(DURATION_BUCKETS)
                ),
                ("+Inf", buckets["count"]),
            ],
            sum_value=calls["sum_seconds"],
        )
        yield histogram
        circuit = GaugeMetricFamily(
            "ktp_provider_circuit_open",
            "1 while the circuit breaker keeps calls to the provider back.",
        )
        circuit.add_metric([], 0 if gate.state() == "closed" else 1)
        yield circuit
        limit = GaugeMetricFamily(
            "ktp_provider_daily_budget",
            "Provider calls the site may start in one local day "
            "(DAILY_VERIFICATION_BUDGET; 0: no budget).",
        )
        limit.add_metric([], settings.DAILY_VERIFICATION_BUDGET)
        yield limit
        today = GaugeMetricFamily(
            "ktp_provider_calls_today",
            "Provider calls started today (local day), and those about to start.",
        )
        today.add_metric([], budget.calls_used(timezone.now()))
        yield today

    def _queue(self) -> Iterator[Metric]:
        loads = queue.lane_loads()
        due = GaugeMetricFamily(
            "ktp_tasks_due", "Tasks that could run now, by lane.", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "ktp_task_oldest_due_seconds",
            "How long the oldest due task has waited, by lane.",
            labels=["queue"],
        )
        for lane, load in loads.items():
            due.add_metric([lane], load.due)
            oldest.add_metric([lane], load.oldest_due_seconds)
        yield due
        yield oldest

    def _reviews(self) -> Iterator[Metric]:
        now = timezone.now()
        queue_ = ReviewCase.objects.aggregate(
            cases=Count("pk"),
            oldest=Min("created_at"),
            overdue=Count("pk", filter=reviews.overdue(now)),
            awaiting=Count("pk", filter=Q(pending_proposal__isnull=False)),
        )
        for name, help_text, value in (
            (
                "ktp_review_queue_cases",
                "Cases waiting for a decision.",
                queue_["cases"],
            ),
            (
                "ktp_review_queue_oldest_seconds",
                "How long the oldest case has waited since it was submitted.",
                (now - queue_["oldest"]).total_seconds() if queue_["oldest"] else 0,
            ),
            (
                "ktp_review_overdue_cases",
                "Cases waiting longer than REVIEW_SLA_HOURS.",
                queue_["overdue"],
            ),
            (
                "ktp_review_awaiting_second_reviewer",
                "Decisions waiting for a second reviewer (four-eyes review).",
                queue_["awaiting"],
            ),
        ):
            gauge = GaugeMetricFamily(name, help_text)
            gauge.add_metric([], value)
            yield gauge

    def _emails(self) -> Iterator[Metric]:
        waiting = OutboxEmail.objects.filter(
            state__in=(OutboxEmail.State.PENDING, OutboxEmail.State.SENDING)
        ).aggregate(n=Count("pk"), oldest=Min("created_at"))
        pending = GaugeMetricFamily(
            "ktp_emails_pending", "Emails to applicants not sent yet."
        )
        pending.add_metric([], waiting["n"])
        yield pending
        oldest = GaugeMetricFamily(
            "ktp_email_oldest_pending_seconds",
            "How long the oldest email not sent yet has waited.",
        )
        age = (
            (timezone.now() - waiting["oldest"]).total_seconds()
            if waiting["oldest"]
            else 0
        )
        oldest.add_metric([], age)
        yield oldest


def registry() -> CollectorRegistry:
    collectors = CollectorRegistry(auto_describe=False)
    collectors.register(DatabaseCollector())
    return collectors


def authorised(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics in Prometheus' text format, for a scrape that sends
    `Authorization: Bearer <METRICS_TOKEN>`; 401 without it, 404 while no token is
    set."""
    if not settings.METRICS_TOKEN:
        raise Http404
    if not authorised(request):
        response = HttpResponse(
            "Unauthorized.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
