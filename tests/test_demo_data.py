"""`manage.py demo_data`: a local database filled with attempts in every state,
made through the real flow against an in-process sandbox. (That production mode
refuses it is in test_production_mode.)"""

from __future__ import annotations

from collections import Counter
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client

from tests.pages import text_of
from tests.reviewing import admin_url, make_attempt, reviewers_group
from verification import reviews
from verification.lookups import nik_digest
from verification.models import Attempt, ProviderCall, ReviewCase, ReviewDecision

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(settings, tmp_path) -> str:
    settings.DATA_DIR = tmp_path
    reviewers_group()
    out = StringIO()
    call_command("demo_data", "--send-emails", "--seed", "7", stdout=out)
    return out.getvalue()


def test_it_makes_obviously_fake_attempts_in_every_state_through_the_provider(demo):
    statuses = Counter(Attempt.objects.values_list("status", flat=True))

    assert statuses == {
        "verified": 5,
        "not_verified": 6,
        "needs_review": 2,
        "approved": 1,
        "rejected": 1,
        "failed": 1,
    }
    assert {
        tuple(fields)
        for fields in Attempt.objects.filter(status="not_verified").values_list(
            "reject_fields", flat=True
        )
    } == {
        ("identityId",),
        ("fullName",),
        ("birthDate",),
        ("faceImage",),
        ("identityImage",),
        ("liveness_check",),
    }
    # Every attempt was sent to the provider; the failed one until it gave up.
    assert not Attempt.objects.filter(calls__isnull=True).exists()
    failed = Attempt.objects.get(status="failed")
    assert set(failed.calls.values_list("http_status", flat=True)) == {503}
    assert failed.calls.count() > 1
    assert ProviderCall.objects.filter(outcome="verified_with_reason").count() == 4
    assert "Made 16 demo attempts" in demo

    # Nobody real: DEMO names, example.com, the sandbox's NIKs or province 99.
    for attempt in Attempt.objects.select_related("applicant"):
        assert attempt.full_name.startswith("DEMO ")
        assert attempt.email_address.endswith("@example.com")
        assert attempt.applicant.nik.startswith(("99", "1234567890111"))
        for image in (attempt.face_image, attempt.identity_image):
            with image.open("rb") as photo:
                assert len(photo.read()) >= 110_000


def test_its_review_cases_link_to_others_and_the_demo_reviewer_can_work_them(
    demo, tmp_path
):
    fitri = ReviewCase.objects.get(applicant__nik_digest=nik_digest("1234567890111116"))
    rina = ReviewCase.objects.get(applicant__nik_digest=nik_digest("1234567890111118"))
    fitri_links = reviews.linked_panel(fitri).applicants
    rina_links = reviews.linked_panel(rina).applicants
    assert [(a.shares_email, a.shares_phone) for a in fitri_links] == [(True, False)]
    assert sorted((a.shares_email, a.shares_phone) for a in rina_links) == [
        (False, True),
        (True, False),
    ]
    assert rina.assigned_to.username == "reviewer"
    assert fitri.assigned_to is None

    decisions = ReviewDecision.objects.order_by("decided_at")
    assert [(d.decision, d.reviewer.username) for d in decisions] == [
        ("rejected", "reviewer"),
        ("approved", "reviewer"),
    ]
    rejected = decisions[0].attempt
    assert rejected.applicant == decisions[1].attempt.applicant
    rejected_links = reviews.linked_panel(rejected).applicants
    assert [(a.shares_email, a.shares_phone) for a in rejected_links] == [(False, True)]
    told = [m for m in mail.outbox if "belongs to someone else" in m.body]
    assert [m.to for m in told] == [[rejected.email_address]]

    password = (tmp_path / "demo-reviewer-password").read_text().strip()
    reviewer = Client(headers={"accept-language": "en"})
    logged_in = reviewer.post(
        "/admin/login/", {"username": "reviewer", "password": password}
    )
    assert logged_in.status_code == 302
    queue = text_of(reviewer.get(admin_url("reviewcase_changelist")))
    assert "2 cases waiting for a decision" in queue
    assert "123456******1116" in queue
    assert "123456******1118" in queue


def test_it_stops_before_a_sandbox_nik_runs_out_of_daily_attempts(settings):
    settings.ATTEMPTS_PER_NIK_PER_DAY = 2
    make_attempt(nik="1234567890111117", browser="demo-data")

    with pytest.raises(CommandError, match="1234567890111117 has 1 of its daily"):
        call_command("demo_data", stdout=StringIO())

    assert Attempt.objects.count() == 1
