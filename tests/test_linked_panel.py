"""The linked panel: on an attempt's page, every other applicant (another NIK) whose
attempts used the same email address or phone number, with what they share, their
masked NIK, status and decision, each linked to its own page."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client

from tests.reviewing import admin_url, make_attempt, make_user
from verification import reviews
from verification.models import Applicant

pytestmark = pytest.mark.django_db

EMAIL = "dewi.lestari@example.com"
PHONE = "6281277770001"


@pytest.fixture
def reviewer() -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(make_user("rita", reviewer=True))
    return client


@pytest.fixture
def case():
    return make_attempt(nik="3171000000000001", email=EMAIL, phone=PHONE)


def linked_section(client: Client, attempt) -> tuple[str, str]:
    """The panel's HTML and its visible text, spaces collapsed."""
    html = client.get(admin_url("attempt_change", attempt.pk)).content.decode()
    (section,) = re.findall(
        r'<section class="module review-linked".*?</section>', html, re.S
    )
    return section, text(section)


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def linked_rows(client: Client, attempt) -> list[dict[str, str]]:
    """The panel's table as a reviewer reads it: NIK (on an applicant's first
    row), what is shared, name, status and decision."""
    section, _ = linked_section(client, attempt)
    rows = re.findall(r"<tr data-linked-applicant.*?</tr>", section, re.S)
    cells = [[text(c) for c in re.findall(r"<td>(.*?)</td>", r, re.S)] for r in rows]
    return [
        {"nik": c[0], "shares": c[1], "name": c[3], "status": c[4], "decision": c[5]}
        for c in cells
    ]


def test_another_applicant_with_the_same_email_is_shown_as_sharing_the_email(
    reviewer, case
):
    other = make_attempt(
        nik="3171000000000002", email="Dewi.Lestari@EXAMPLE.com", status="verified"
    )

    html, _ = linked_section(reviewer, case)

    assert linked_rows(reviewer, case) == [
        {
            "nik": "317100******0002",
            "shares": "email",
            "name": other.full_name,
            "status": "Verified",
            "decision": "—",
        }
    ]
    assert admin_url("attempt_change", other.pk) in html
    assert admin_url("applicant_change", other.applicant_id) in html


def test_another_applicant_with_the_same_phone_is_shown_as_sharing_the_phone(
    reviewer, case
):
    make_attempt(nik="3171000000000003", phone=PHONE, status="not_verified")

    (row,) = linked_rows(reviewer, case)

    assert (row["nik"], row["shares"], row["status"]) == (
        "317100******0003",
        "phone",
        "Not verified",
    )


def test_an_applicant_sharing_both_is_shown_once_with_both(reviewer, case):
    make_attempt(nik="3171000000000004", email=EMAIL, phone=PHONE, status="verified")

    (row,) = linked_rows(reviewer, case)

    assert (row["nik"], row["shares"]) == ("317100******0004", "email and phone")


def test_several_applicants_and_each_of_their_attempts_are_listed(reviewer, case):
    by_email = make_attempt(nik="3171000000000005", email=EMAIL, status="verified")
    by_phone_first = make_attempt(nik="3171000000000006", phone=PHONE)
    by_phone_again = make_attempt(
        applicant=by_phone_first.applicant, phone=PHONE, status="rejected"
    )
    make_attempt(nik="3171000000000007")  # shares nothing

    panel = reviews.linked_panel(case)
    rows = linked_rows(reviewer, case)

    assert panel.total == 3
    grouped = {
        entry.masked_nik: {linked.attempt for linked in entry.attempts}
        for entry in panel.applicants
    }
    assert grouped == {
        "317100******0005": {by_email},
        "317100******0006": {by_phone_first, by_phone_again},
    }
    # Newest first, each applicant's attempts together, the NIK on the first.
    assert [row["nik"] for row in rows] == ["317100******0006", "", "317100******0005"]


def test_a_linked_attempts_decision_is_shown_with_who_made_it(reviewer, case):
    other = make_attempt(nik="3171000000000008", email=EMAIL)
    reviews.decide(
        attempt=other,
        reviewer=make_user("tono", reviewer=True),
        decision="rejected",
        reason="contact_of_another_person",
        note="Not her email.",
    )

    (row,) = linked_rows(reviewer, case)

    assert row["status"] == "Rejected"
    assert row["decision"].startswith("Rejected by tono")
    assert row["decision"].endswith("(Email or phone belongs to another person)")
    assert "Not her email." not in linked_section(reviewer, case)[1]


def test_no_link_is_shown_when_nobody_else_shares_the_email_or_phone(reviewer, case):
    make_attempt(nik="3171000000000009")

    html, seen = linked_section(reviewer, case)

    assert "No other applicant in our records uses this email address" in seen
    assert "data-linked-applicant" not in html
    assert reviews.linked_panel(case).applicants == []


def test_the_applicants_own_attempts_are_history_not_links(reviewer, case):
    earlier = make_attempt(
        applicant=case.applicant, email=EMAIL, phone=PHONE, status="not_verified"
    )

    _, seen = linked_section(reviewer, case)
    page = reviewer.get(admin_url("attempt_change", case.pk)).content.decode()
    history = page[page.index('class="module review-history"') :]

    assert "No other applicant in our records" in seen
    assert "This applicant's attempts" in text(history)
    assert "(this attempt)" in text(history)
    assert admin_url("attempt_change", earlier.pk) in history
    assert Applicant.objects.count() == 1
