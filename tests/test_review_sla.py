"""Review SLAs (REVIEW_SLA_HOURS, default 24): cases waiting longer stand out in the
queue and on the dashboard, a filter lists them, and the applicant's needs-review
page says when to expect an answer (and says so when it is late)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import formats, timezone, translation

from tests.pages import text_of
from tests.reviewing import admin_url, make_attempt, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer() -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(make_user("rita", reviewer=True))
    return client


def case(hours_in_queue: float, **fields):
    """A case that joined the queue `hours_in_queue` hours ago."""
    attempt = make_attempt(age=timedelta(hours=hours_in_queue, seconds=5), **fields)
    assert attempt.finished_at is not None
    return attempt


def applicant_for(attempt) -> Client:
    client = Client(headers={"accept-language": "en"})
    session = client.session
    session["attempts"] = [str(attempt.code)]
    session.save()
    return client


def test_the_overdue_filter_lists_the_cases_past_the_sla(reviewer):
    late = case(30)
    later = case(50)
    case(2)
    make_attempt(status="verified", age=timedelta(days=3))

    response = reviewer.get(admin_url("reviewcase_changelist"), {"sla": "overdue"})
    within = reviewer.get(admin_url("reviewcase_changelist"), {"sla": "within"})

    assert list(response.context["cl"].result_list) == [later, late]
    assert len(within.context["cl"].result_list) == 1
    page = text_of(reviewer.get(admin_url("reviewcase_changelist")))
    assert "2 cases have waited longer than the 24-hour SLA." in page
    assert page.count("Overdue by") == 2
    assert "in 21 hours" in page


def test_the_sla_follows_the_setting(reviewer, settings):
    settings.REVIEW_SLA_HOURS = 4
    overdue = case(5)
    case(3)

    response = reviewer.get(admin_url("reviewcase_changelist"), {"sla": "overdue"})

    assert list(response.context["cl"].result_list) == [overdue]


def test_the_dashboard_counts_the_overdue_cases_and_links_to_them(reviewer):
    case(26)
    case(1)

    page = reviewer.get("/admin/")
    text = text_of(page)

    assert "1 past the 24-hour SLA" in text
    assert 'href="/admin/verification/reviewcase/?sla=overdue"' in page.content.decode()


def test_the_attempt_list_filters_the_overdue_cases_too(reviewer):
    late = case(25)
    case(1)

    response = reviewer.get(admin_url("attempt_changelist"), {"sla": "overdue"})

    assert list(response.context["cl"].result_list) == [late]


def test_the_applicant_is_told_when_to_expect_an_answer():
    attempt = case(2, language="en")
    due = attempt.finished_at + timedelta(hours=24)

    page = text_of(applicant_for(attempt).get(f"/status/{attempt.code}/"))

    with translation.override("en"):
        expected = formats.date_format(timezone.localtime(due), "DATETIME_FORMAT")
    assert f"You can expect an answer by {expected}." in page


def test_a_late_answer_is_owned_up_to_on_the_applicants_page():
    attempt = case(30, language="en")

    page = text_of(applicant_for(attempt).get(f"/status/{attempt.code}/"))

    assert "and it is taking longer" in page
    assert "You can expect an answer by" not in page


def test_the_attempt_page_tells_the_reviewer_when_the_answer_is_due(reviewer):
    late = case(30)

    page = text_of(reviewer.get(admin_url("attempt_change", late.pk)))

    assert "Overdue: the applicant was told to expect an answer by" in page
