"""The Prometheus endpoint for the operator's monitoring: closed unless a token is
set, refused without it, and with it the numbers the operator watches (attempts by
status, provider calls by outcome and charge, their latency, the queue, the review
queue, emails waiting), counted from the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests.reviewing import make_attempt
from verification import metrics
from verification.models import OutboxEmail, ProviderCall

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-7f3a"


@pytest.fixture(autouse=True)
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    metrics.clear_cache()
    yield
    metrics.clear_cache()


def scrape(**headers: str):
    return Client().get("/metrics", headers=headers)


def samples(response) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_without_a_token_configured_there_is_no_endpoint(settings):
    settings.METRICS_TOKEN = ""

    response = scrape(authorization=f"Bearer {TOKEN}")

    assert response.status_code == 404
    assert b"ktp_" not in response.content


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong-token"},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": f"Bearer {TOKEN}x"},
    ],
)
def test_a_scrape_without_the_token_is_refused(headers):
    response = scrape(**headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"ktp_" not in response.content


def test_the_token_in_the_address_is_not_enough():
    response = Client().get("/metrics", {"token": TOKEN})

    assert response.status_code == 401


def test_the_scrape_counts_what_the_operator_watches():
    for status in ("verified", "verified", "needs_review", "failed"):
        make_attempt(status=status)
    overdue = make_attempt(status="needs_review", age=timedelta(hours=30))
    ProviderCall.objects.create(
        attempt=overdue, outcome="verified_with_reason", charged="yes", duration_ms=800
    )
    ProviderCall.objects.create(
        attempt=overdue, outcome="read_timeout", charged="unknown", duration_ms=30_000
    )
    ProviderCall.objects.create(
        attempt=overdue,
        outcome="verified",
        charged="yes",
        duration_ms=1_500,
        duplicate=True,
    )
    OutboxEmail.objects.create(
        attempt=overdue,
        kind="outcome",
        about="needs_review",
        created_at=timezone.now() - timedelta(minutes=10),
    )

    response = scrape(authorization=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"]
    found = samples(response)
    assert found[("ktp_attempts", (("status", "verified"),))] == 2
    assert found[("ktp_attempts", (("status", "needs_review"),))] == 2
    assert found[("ktp_attempts", (("status", "rejected"),))] == 0
    assert found[("ktp_provider_calls_total", (("outcome", "read_timeout"),))] == 1
    assert found[("ktp_provider_calls_charged_total", (("charged", "yes"),))] == 2
    assert found[("ktp_provider_calls_charged_total", (("charged", "unknown"),))] == 1
    assert found[("ktp_provider_duplicate_purchases_total", ())] == 1
    assert found[("ktp_provider_call_duration_seconds_bucket", (("le", "1.0"),))] == 1
    assert found[("ktp_provider_call_duration_seconds_bucket", (("le", "2.0"),))] == 2
    assert found[("ktp_provider_call_duration_seconds_bucket", (("le", "+Inf"),))] == 3
    assert found[("ktp_provider_call_duration_seconds_sum", ())] == pytest.approx(32.3)
    assert found[("ktp_review_queue_cases", ())] == 2
    assert found[("ktp_review_overdue_cases", ())] == 1
    assert found[("ktp_review_queue_oldest_seconds", ())] >= 30 * 3600
    assert found[("ktp_emails_pending", ())] == 1
    assert found[("ktp_email_oldest_pending_seconds", ())] >= 600
    assert found[("ktp_provider_circuit_open", ())] == 0
    assert ("ktp_tasks_due", (("queue", "provider"),)) in found


def test_the_costly_totals_are_counted_once_per_cache_period(settings):
    settings.METRICS_CACHE_SECONDS = 3600
    make_attempt(status="verified")
    first = samples(scrape(authorization=f"Bearer {TOKEN}"))
    make_attempt(status="verified")

    cached = samples(scrape(authorization=f"Bearer {TOKEN}"))
    metrics.clear_cache()
    fresh = samples(scrape(authorization=f"Bearer {TOKEN}"))

    key = ("ktp_attempts", (("status", "verified"),))
    assert (first[key], cached[key], fresh[key]) == (1, 1, 2)
