"""The attempt list, the review queue and the admin index as a reviewer reads them:
columns, search, filters, order, the dashboard's numbers, and a constant number of
database queries per page whatever the number of rows."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.pages import text_of
from tests.reviewing import admin_url, make_attempt, make_user
from verification import reviews
from verification.models import ImageAccess, ReviewDecision

pytestmark = pytest.mark.django_db

STATUSES = [
    "needs_review",
    "verified",
    "not_verified",
    "failed",
    "approved",
    "rejected",
    "queued",
]


@pytest.fixture(autouse=True)
def _english(client):
    """The admin in English, the language the assertions are written in."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def reviewer():
    return make_user("rita", reviewer=True)


@pytest.fixture
def logged_in(client, reviewer):
    client.force_login(reviewer)
    return client


def add_rows(count: int, reviewer) -> None:
    """`count` attempts of every kind: waiting, taken and decided cases, each of a
    new applicant, with their photos viewed."""
    for n in range(count):
        status = STATUSES[n % len(STATUSES)]
        attempt = make_attempt(
            status=status,
            reject_fields=["phoneNumber"] if n % 2 else ["emailAddress"],
            assigned_to=reviewer if n % 3 == 0 else None,
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


PAGES = [
    "attempt_changelist",
    "reviewcase_changelist",
    "applicant_changelist",
    "reviewdecision_changelist",
    "imageaccess_changelist",
]


@pytest.mark.parametrize("page", PAGES)
def test_a_list_page_takes_as_many_queries_for_100_rows_as_for_10(client, page):
    superuser = make_user("root", superuser=True)
    client.force_login(superuser)
    url = admin_url(page)

    add_rows(10, superuser)
    with CaptureQueriesContext(connection) as ten:
        assert client.get(url).status_code == 200
    add_rows(90, superuser)
    with CaptureQueriesContext(connection) as hundred:
        response = client.get(url)

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 14  # a page of real rows
    assert len(hundred) == len(ten), "\n".join(
        q["sql"] for q in hundred.captured_queries
    )


def test_the_attempt_list_shows_what_a_reviewer_scans_for(logged_in, reviewer):
    make_attempt(
        nik="3171234567890123",
        full_name="SITI RAHAYU",
        reject_fields=["phoneNumber", "emailAddress"],
        age=timedelta(hours=3, minutes=5),
        assigned_to=reviewer,
    )

    row = text_of(logged_in.get(admin_url("attempt_changelist")))

    assert "317123******0123" in row
    assert "SITI RAHAYU" in row
    assert "Needs review" in row
    assert (
        "Phone number already used by another NIK, "
        "Email address already used by another NIK" in row
    )
    assert "Taken by rita" in row
    assert "3 hours, 5 minutes" in row


def test_a_decided_attempt_says_who_decided_it(logged_in, reviewer):
    attempt = make_attempt()
    reviews.decide(attempt=attempt, reviewer=reviewer, decision="approved", note="Ok")

    assert "Decided by rita" in text_of(logged_in.get(admin_url("attempt_changelist")))


@pytest.mark.parametrize(
    "term",
    [
        "3171234567890123",
        "3171 2345 6789 0123",
        "Siti.Rahayu@Example.com",
        "0812-9999-0001",
        "+62 812 9999 0001",
        "6281299990001",
        "ref_certel#abc-123",
        "abc-123",
        "provider-uuid-777",
    ],
)
def test_a_reviewer_finds_an_attempt_by_any_of_its_identifiers(logged_in, term):
    wanted = make_attempt(
        nik="3171234567890123",
        email="siti.rahayu@example.com",
        phone="6281299990001",
        reference_id="ref_certel#abc-123",
        provider_id="provider-uuid-777",
    )
    make_attempt()

    response = logged_in.get(admin_url("attempt_changelist"), {"q": term}, follow=True)

    assert list(response.context["cl"].result_list) == [wanted]


@pytest.mark.parametrize("term", ["0123", "317123******0123", "3171234567890124"])
def test_a_partial_or_masked_nik_finds_nothing(logged_in, term):
    make_attempt(nik="3171234567890123")

    response = logged_in.get(admin_url("attempt_changelist"), {"q": term}, follow=True)

    assert list(response.context["cl"].result_list) == []


def test_searching_by_nik_puts_the_nik_in_no_url(logged_in):
    """Access logs and browser history keep URLs: the NIK must be in none."""
    attempt = make_attempt(nik="3171234567890123")

    searched = logged_in.post(
        admin_url("attempt_changelist"), {"q": "3171234567890123"}
    )
    found = logged_in.get(searched["Location"])

    assert list(found.context["cl"].result_list) == [attempt]
    assert "3171234567890123" not in searched["Location"]
    assert "3171234567890123" not in found.request["QUERY_STRING"]
    for link in re.findall(r'(?:href|action)="([^"]*)"', found.content.decode()):
        assert "3171234567890123" not in unquote(link)


def test_the_applicant_list_finds_an_applicant_by_whole_nik_only(logged_in):
    attempt = make_attempt(nik="3171234567890123")
    make_attempt()
    url = admin_url("applicant_changelist")

    found = (
        logged_in.get(url, {"q": "3171234567890123"}, follow=True)
        .context["cl"]
        .result_list
    )
    partial = logged_in.get(url, {"q": "317123"}, follow=True).context["cl"].result_list

    assert list(found) == [attempt.applicant]
    assert list(partial) == []


def test_the_attempt_list_filters_by_status_review_state_and_date(logged_in, reviewer):
    waiting = make_attempt()
    taken = make_attempt(assigned_to=reviewer)
    theirs = make_attempt(assigned_to=make_user("tono", reviewer=True))
    decided = make_attempt()
    reviews.decide(attempt=decided, reviewer=reviewer, decision="approved", note="Ok")
    verified = make_attempt(status="verified")
    old = make_attempt(status="verified", age=timedelta(days=40))
    url = admin_url("attempt_changelist")

    def listed(**query) -> set:
        return set(logged_in.get(url, query).context["cl"].result_list)

    assert listed(status__exact="verified") == {verified, old}
    assert listed(review="waiting") == {waiting}
    assert listed(review="taken") == {taken, theirs}
    assert listed(review="mine") == {taken}
    assert listed(review="decided") == {decided}
    # The date filter's "Past 7 days".
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    past_week = {
        "created_at__gte": str(midnight - timedelta(days=7)),
        "created_at__lt": str(midnight + timedelta(days=1)),
    }
    assert old not in listed(**past_week)
    assert {waiting, verified} <= listed(**past_week)


def test_the_queue_lists_undecided_cases_oldest_first_with_who_has_them(
    logged_in, reviewer
):
    newer = make_attempt(age=timedelta(hours=1))
    oldest = make_attempt(age=timedelta(days=2, hours=3), assigned_to=reviewer)
    decided = make_attempt(age=timedelta(days=5))
    reviews.decide(attempt=decided, reviewer=reviewer, decision="approved", note="Ok")
    make_attempt(status="verified", age=timedelta(days=9))

    response = logged_in.get(admin_url("reviewcase_changelist"))

    assert [case.pk for case in response.context["cl"].result_list] == [
        oldest.pk,
        newer.pk,
    ]
    page = text_of(response)
    assert "2 cases waiting for a decision, oldest first." in page
    assert "The oldest has waited 2 days, 3 hours." in page
    assert "rita" in page
    assert admin_url("attempt_change", oldest.pk) in response.content.decode()


def test_the_index_shows_todays_attempts_and_the_pending_reviews(logged_in):
    now = timezone.localtime()
    # Half way between local midnight and now: today whenever the test runs.
    today = (now - now.replace(hour=0, minute=0, second=0, microsecond=0)) / 2
    make_attempt(age=today)
    make_attempt(age=timedelta(days=1, hours=2))
    make_attempt(status="verified", age=today)
    make_attempt(status="verified", age=today)
    make_attempt(status="failed", age=today)

    dashboard = reviews.dashboard()
    page = text_of(logged_in.get("/admin/"))

    assert (dashboard.pending, dashboard.unassigned) == (2, 2)
    assert dashboard.today_total == 4
    assert dict(dashboard.today)["Verified"] == 2
    assert dict(dashboard.today)["Failed"] == 1
    assert dict(dashboard.today)["Needs review"] == 1
    assert "Today: 4 attempts" in page
    assert "2 reviews waiting for a decision (2 not taken)" in page
    assert "Oldest waiting: 1 day, 2 hours" in page
    assert "Verified 2" in page
    assert "Review queue" in page


def test_the_queue_is_a_clearly_named_entry_on_the_index_that_opens_the_cases(
    logged_in, reviewer
):
    older = make_attempt(age=timedelta(hours=5))
    newer = make_attempt(age=timedelta(hours=1), assigned_to=reviewer)
    make_attempt(status="verified")
    queue = admin_url("reviewcase_changelist")

    index = logged_in.get("/admin/").content.decode()
    opened = logged_in.get(queue)

    assert f'<a href="{queue}">Review queue</a>' in index
    assert f'<a class="button" href="{queue}">Open the review queue</a>' in index
    assert [case.pk for case in opened.context["cl"].result_list] == [
        older.pk,
        newer.pk,
    ]
    rows = text_of(opened)
    assert older.applicant.masked_nik in rows
    assert newer.applicant.masked_nik in rows


def test_a_search_term_never_stays_in_a_url(logged_in):
    attempt = make_attempt(nik="3171234567890123", email="siti@example.com")
    url = admin_url("attempt_changelist")

    box = logged_in.get(url, {"status__exact": "verified"}).content.decode()
    sealed = logged_in.post(url, {"q": "siti@example.com", "status__exact": "verified"})
    found = logged_in.get(sealed["Location"])
    again = logged_in.get(sealed["Location"].replace("status__exact=verified&", ""))

    assert re.search(r'<form id="changelist-search" method="post"', box)
    assert sealed.status_code == 302
    assert "siti" not in unquote(sealed["Location"])
    assert "status__exact=verified" in sealed["Location"]
    assert list(found.context["cl"].result_list) == []  # still filtered by status
    assert list(again.context["cl"].result_list) == [attempt]
    page = again.content.decode()
    assert "siti" not in page  # not even in the search box: the term is not kept
    assert "Showing a sealed search by email address" in text_of(again)
    for link in re.findall(r'href="([^"]*)"', page):
        assert "siti" not in unquote(link)


def test_an_empty_search_clears_the_search(logged_in):
    make_attempt()
    url = admin_url("attempt_changelist")

    cleared = logged_in.get(url, {"q": ""})

    assert cleared["Location"] == url + "?"


def test_a_search_term_is_not_carried_on_into_the_pages_it_leads_to(logged_in):
    attempt = make_attempt(nik="3171234567890123", status="verified")
    url = admin_url("attempt_changelist")

    found = logged_in.get(
        url, {"q": "3171234567890123", "status__exact": "verified"}, follow=True
    )

    page = found.content.decode()
    assert admin_url("attempt_change", attempt.pk) in page
    links = re.findall(r'href="([^"]*/change/[^"]*)"', page)
    assert links
    assert not [link for link in links if "3171234567890123" in unquote(link)]
    assert any("status__exact" in unquote(link) for link in links)
