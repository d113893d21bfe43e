"""The CSV export of review decisions, as an auditor opens it in a spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.utils import timezone

from tests.reviewing import admin_url, make_attempt, make_user
from verification import reviews
from verification.models import ReviewDecision

pytestmark = pytest.mark.django_db

HEADER = [
    "attempt",
    "reference id",
    "masked NIK",
    "status",
    "decision",
    "reason",
    "reviewer",
    "time",
    "internal note",
]


@pytest.fixture
def auditor() -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(make_user("rita", reviewer=True))
    return client


def decided(note: str, *, decision: str = "rejected", **fields) -> ReviewDecision:
    record = reviews.decide(
        attempt=make_attempt(**fields),
        reviewer=make_user(f"reviewer{ReviewDecision.objects.count()}", reviewer=True),
        decision=decision,
        reason="suspected_fraud" if decision == "rejected" else "",
        note=note,
    )
    assert isinstance(record, ReviewDecision)  # four-eyes review is off
    return record


def export(client: Client, decisions: list[ReviewDecision]) -> list[list[str]]:
    response = client.post(
        admin_url("reviewdecision_changelist"),
        {"action": "export_csv", "_selected_action": [d.pk for d in decisions]},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="review-decisions-'
    )
    assert "no-store" in response["Cache-Control"]
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_export_has_one_row_per_selected_decision_with_the_audit_columns(auditor):
    first = decided(
        "Email belongs to the husband.",
        decision="approved",
        nik="3171234567890123",
        reference_id="ref_certel#first",
    )
    second = decided("Selfie of a screen.", nik="3171234567890999")
    decided("Not selected.")

    header, *rows = export(auditor, [first, second])

    assert header == HEADER
    assert len(rows) == 2
    code, reference, nik, status, decision, reason, reviewer, time, note = rows[0]
    assert code == str(first.attempt.code)
    assert reference == "ref_certel#first"
    assert nik == "317123******0123"
    assert (status, decision, reason) == ("Approved", "Approved", "")
    assert reviewer == first.reviewer.username
    assert time == timezone.localtime(first.decided_at).isoformat(timespec="seconds")
    assert note == "Email belongs to the husband."
    assert rows[1][2:6] == [
        "317123******0999",
        "Rejected",
        "Rejected",
        "Suspected identity fraud",
    ]
    assert "3171234567890123" not in str(rows)


@pytest.mark.parametrize(
    "note",
    ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1:A2)"],
)
def test_a_note_a_spreadsheet_would_run_as_a_formula_is_exported_as_text(auditor, note):
    _, row = export(auditor, [decided(note)])

    assert row[-1] == "'" + note


@pytest.mark.parametrize("reference", ["=1+2", "\t=cmd", "\r=cmd", "@x", "-1", "+1"])
def test_any_column_that_would_run_as_a_formula_is_exported_as_text(auditor, reference):
    _, row = export(auditor, [decided("Fine.", reference_id=reference)])

    assert row[1] == "'" + reference
    assert row[-1] == "Fine."


def test_harmless_values_are_exported_as_they_are():
    assert reviews.spreadsheet_safe("ref_certel#=x") == "ref_certel#=x"
    assert reviews.spreadsheet_safe("plain text") == "plain text"
    assert reviews.spreadsheet_safe(None) == ""


def test_staff_outside_the_group_cannot_export(client):
    decision = decided("Fine.")
    client.force_login(make_user("staff"))

    response = client.post(
        admin_url("reviewdecision_changelist"),
        {"action": "export_csv", "_selected_action": [decision.pk]},
    )

    assert response.status_code == 403
