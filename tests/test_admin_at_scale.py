"""The admin at any size: every list, filter and search makes as many queries at
60 rows as at 10, no list counts a whole table, and the search matches the blind
indexes and the provider's ids exactly or by prefix, never by a substring.
(How fast it stays at a million attempts: bench/admin_scale.py, figures in the
README.)"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.pages import text_of
from tests.reviewing import admin_url, make_attempt, make_user
from verification import paging, reviews
from verification.models import ImageAccess, ProviderCall, ReviewDecision

pytestmark = pytest.mark.django_db

STATUSES = [
    "needs_review",
    "verified",
    "not_verified",
    "failed",
    "approved",
    "rejected",
]

PAGES = [
    ("attempt_changelist", {}),
    ("attempt_changelist", {"status__exact": "verified"}),
    ("attempt_changelist", {"review": "waiting"}),
    ("attempt_changelist", {"review": "mine"}),
    ("attempt_changelist", {"review": "decided"}),
    ("attempt_changelist", {"duplicate": "yes"}),
    ("attempt_changelist", {"sla": "overdue"}),
    ("attempt_changelist", {"p": "2"}),
    ("reviewcase_changelist", {}),
    ("reviewcase_changelist", {"assigned": "waiting"}),
    ("reviewcase_changelist", {"assigned": "check"}),
    ("reviewcase_changelist", {"sla": "overdue"}),
    ("reviewdecision_changelist", {}),
    ("reviewdecision_changelist", {"decision__exact": "rejected"}),
    ("reviewdecision_changelist", {"reason__exact": "suspected_fraud"}),
    ("providercall_changelist", {}),
    ("providercall_changelist", {"charged__exact": "unknown"}),
    ("providercall_changelist", {"outcome__exact": "verified"}),
    ("applicant_changelist", {}),
]


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def superuser():
    return make_user("root", superuser=True)


def add_rows(count: int, reviewer) -> None:
    for n in range(count):
        status = STATUSES[n % len(STATUSES)]
        attempt = make_attempt(status=status, assigned_to=reviewer if n % 2 else None)
        ProviderCall.objects.create(
            attempt=attempt,
            outcome="verified",
            charged="yes" if n % 3 else "unknown",
            provider_id=attempt.provider_id,
            reference_id=attempt.reference_id,
            duplicate=n % 5 == 0,
        )
        if status in ("approved", "rejected"):
            ReviewDecision.objects.create(
                attempt=attempt,
                reviewer=reviewer,
                decision=status,
                reason="suspected_fraud" if status == "rejected" else "",
                note="Checked.",
            )
        ImageAccess.objects.create(user=reviewer, attempt=attempt, image="face")


@pytest.mark.parametrize(("page", "params"), PAGES)
def test_a_page_makes_as_many_queries_at_60_rows_as_at_10(
    client, superuser, page, params
):
    client.force_login(superuser)
    url = admin_url(page)
    add_rows(10, superuser)
    with CaptureQueriesContext(connection) as ten:
        assert client.get(url, params).status_code == 200
    add_rows(50, superuser)
    with CaptureQueriesContext(connection) as sixty:
        response = client.get(url, params)

    assert response.status_code == 200
    assert len(sixty) == len(ten), "\n".join(q["sql"] for q in sixty.captured_queries)


@pytest.mark.parametrize(
    "term", ["3171234567890123", "siti.rahayu@example.com", "provider-uuid-777"]
)
def test_a_search_makes_as_many_queries_whatever_the_rows(client, superuser, term):
    client.force_login(superuser)
    wanted = make_attempt(
        nik="3171234567890123",
        email="siti.rahayu@example.com",
        provider_id="provider-uuid-777",
    )
    add_rows(5, superuser)
    with CaptureQueriesContext(connection) as few:
        first = client.post(admin_url("attempt_changelist"), {"q": term}, follow=True)
    add_rows(40, superuser)
    with CaptureQueriesContext(connection) as more:
        again = client.post(admin_url("attempt_changelist"), {"q": term}, follow=True)

    assert list(first.context["cl"].result_list) == [wanted]
    assert list(again.context["cl"].result_list) == [wanted]
    assert len(more) == len(few)


def test_no_list_counts_more_than_it_shows_pages_for(client, superuser, monkeypatch):
    monkeypatch.setattr(paging.BoundedPaginator, "count_limit", 5)
    client.force_login(superuser)
    for _ in range(8):
        make_attempt(status="verified")

    with CaptureQueriesContext(connection) as queries:
        response = client.get(admin_url("attempt_changelist"), {"o": "-6"})

    assert "More than 5 attempts: filter or search to see the rest." in text_of(
        response
    )
    count = next(q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"])
    assert re.search(r"LIMIT 6\b", count), count


def test_a_provider_id_is_found_whole_or_by_its_start_never_by_its_middle(
    client, superuser
):
    client.force_login(superuser)
    wanted = make_attempt(
        provider_id="5a8e31c2-7d4b-4b0e-9f1e-0c9d2a7b6e11",
        reference_id="ref_certel#0b6f9d4e-2a71-4c3e-8d5f-7e1a9c3b2d40",
    )
    make_attempt()

    def found(term: str) -> list:
        response = client.post(
            admin_url("attempt_changelist"), {"q": term}, follow=True
        )
        return list(response.context["cl"].result_list)

    assert found("5a8e31c2-7d4b-4b0e-9f1e-0c9d2a7b6e11") == [wanted]
    assert found("5a8e31c2") == [wanted]
    assert found("ref_certel#0b6f9d4e") == [wanted]
    # The reference id as the provider's invoice may print it, without its prefix.
    assert found("0b6f9d4e-2a71") == [wanted]
    assert found("7d4b-4b0e-9f1e") == []
    assert found("a8e31c2") == []


def test_a_duplicate_purchases_ids_find_its_attempt_through_the_call(client, superuser):
    client.force_login(superuser)
    attempt = make_attempt(provider_id="first-answer-0001")
    ProviderCall.objects.create(
        attempt=attempt,
        outcome="verified",
        charged="yes",
        duplicate=True,
        provider_id="second-answer-0002",
    )

    response = client.post(
        admin_url("attempt_changelist"), {"q": "second-answer-0002"}, follow=True
    )

    assert list(response.context["cl"].result_list) == [attempt]


def test_the_search_reads_the_digest_first_then_the_attempts_by_their_applicant():
    attempt = make_attempt(nik="3171234567890123")
    sealed = reviews.seal_search("3171 2345 6789 0123")

    with CaptureQueriesContext(connection) as queries:
        query = reviews.attempt_search(sealed)
    found = list(type(attempt).objects.filter(query))

    assert found == [attempt]
    (lookup,) = queries.captured_queries
    assert "nik_digest" in lookup["sql"]
