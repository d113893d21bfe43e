"""The provider calls in the reviewer workspace: the ledger's ids on every call,
duplicate purchases per attempt and in totals, and the applicant's emails."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.pages import text_of
from tests.reviewing import admin_url, make_attempt, make_user
from verification.models import OutboxEmail, ProviderCall

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer() -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(make_user("rita", reviewer=True))
    return client


def paid_twice():
    attempt = make_attempt(status="verified", reject_fields=[])
    ProviderCall.objects.create(
        attempt=attempt, outcome="lost", charged="unknown", duplicate=False
    )
    ProviderCall.objects.create(
        attempt=attempt,
        outcome="verified",
        charged="yes",
        provider_id=attempt.provider_id,
        reference_id=attempt.reference_id,
    )
    ProviderCall.objects.create(
        attempt=attempt,
        outcome="verified",
        charged="yes",
        provider_id="late-answer-id",
        reference_id="ref_certel#late",
        duplicate=True,
    )
    return attempt


def test_the_attempt_page_shows_each_calls_ids_and_the_duplicate(reviewer):
    attempt = paid_twice()

    page = text_of(reviewer.get(admin_url("attempt_change", attempt.pk)))

    assert (
        "3 calls: 2 charged, 1 possibly charged (answer lost), 1 duplicate purchases."
        in page
    )
    assert "late-answer-id" in page
    assert "ref_certel#late" in page
    assert attempt.provider_id in page
    assert "Yes: paid twice" in page


def test_the_attempt_list_finds_the_attempts_paid_twice(reviewer):
    twice = paid_twice()
    once = make_attempt(status="verified", reject_fields=[])

    page = reviewer.get(admin_url("attempt_changelist") + "?duplicate=yes")

    listed = page.context["cl"].result_list
    assert [attempt.pk for attempt in listed] == [twice.pk]
    assert once.pk not in [attempt.pk for attempt in listed]


def test_the_admin_index_totals_todays_calls_and_every_duplicate(reviewer):
    paid_twice()

    page = reviewer.get("/admin/").content.decode()
    table = page.split('id="provider-calls-today"')[1].split("</table>")[0]
    totals = " ".join(re.sub(r"<[^>]+>", " ", table).split())

    assert "Calls 3" in totals
    assert "Charged 2" in totals
    assert "Possibly charged (answer lost) 1" in totals
    assert "Duplicate purchases 1" in totals
    assert "Duplicate purchases, all time 1" in totals


def test_the_attempt_page_shows_the_emails_and_how_they_went(reviewer):
    attempt = make_attempt(status="verified", reject_fields=[])
    OutboxEmail.objects.create(
        attempt=attempt,
        kind="outcome",
        about="verified",
        state="failed",
        tries=10,
        last_error="SMTPServerDisconnected",
    )

    page = text_of(reviewer.get(admin_url("attempt_change", attempt.pk)))

    assert "Emails to the applicant" in page
    assert "Gave up" in page
    assert "SMTPServerDisconnected" in page
