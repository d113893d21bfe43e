"""A data subject's erasure request: the person's data, photos and drafts go, the
reviewers' notes about them are redacted (never deleted), the minimal audit record
and the fact of the erasure stay; attempts in flight are waited for or the erasure
is refused, saying why."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from onboarding.models import Handoff, PendingPhoto
from tests.applying import submit
from tests.at_rest import database_text, plain_values_found
from tests.reviewing import admin_url, make_attempt, make_user, tiny_jpeg
from tests.worker import run_worker
from verification import reviews, subjects
from verification.models import (
    Applicant,
    Attempt,
    DataSubjectRequest,
    ImageAccess,
    ReviewDecision,
)

NIK = "3171010101088888"


@pytest.fixture
def person(db):
    reviewer = make_user("rita", reviewer=True)
    first = make_attempt(
        nik=NIK,
        images=True,
        full_name="SITI RAHAYU",
        email="siti.rahayu@example.com",
        phone="6281299998888",
        browser="browser-of-siti",
    )
    ImageAccess.objects.create(user=reviewer, attempt=first, image="face")
    reviews.decide(
        attempt=first,
        reviewer=reviewer,
        decision="rejected",
        reason="face_mismatch",
        note="SITI RAHAYU's selfie does not match.",
        applicant_message="Siti, please retake the selfie.",
    )
    second = make_attempt(applicant=first.applicant, status="not_verified", images=True)
    PendingPhoto.keep(browser="browser-of-siti", kind="face", data=tiny_jpeg())
    Handoff.objects.create(values={"identityId": "3171 0101 0108 8888"})
    Handoff.objects.create(values={"identityId": "3171010101000001"})  # someone else
    return first, second


def erase(**options) -> str:
    """The command, run by an operator reading English."""
    out = StringIO()
    with translation.override("en"):
        call_command(
            "erase_subject_data",
            nik=NIK,
            reference="DSR-2026-0043",
            operator="Dewi (privacy officer)",
            yes=True,
            stdout=out,
            **options,
        )
    return out.getvalue()


def test_the_command_removes_the_person_and_keeps_the_audit_record(person):
    first, second = person
    kept = (first.code, first.status, first.reference_id, first.provider_id)

    output = erase()

    first = Attempt.objects.select_related("applicant").get(pk=first.pk)
    assert (first.full_name, first.birth_date, first.email_address) == ("", None, "")
    assert (first.phone_number, first.email_digest, first.phone_digest) == ("", "", "")
    assert (first.face_image.name, first.identity_image.name) == ("", "")
    assert not first.face_image.storage.exists(f"attempts/{first.code}/face.jpg")
    assert (first.code, first.status, first.reference_id, first.provider_id) == kept
    assert first.applicant.nik == ""
    assert first.applicant.nik_digest is None
    assert first.applicant.masked_nik == "317101******8888"
    decision = ReviewDecision.objects.get(attempt=first)
    assert (decision.decision, decision.reason) == ("rejected", "face_mismatch")
    assert (decision.note, decision.applicant_message) == ("", "")
    assert ImageAccess.objects.filter(attempt=first).count() == 1
    assert PendingPhoto.objects.count() == 0
    assert [h.values["identityId"] for h in Handoff.objects.all()] == [
        "3171010101000001"
    ]
    record = DataSubjectRequest.objects.get()
    assert (record.kind, record.reference, record.masked_nik) == (
        "erasure",
        "DSR-2026-0043",
        "317101******8888",
    )
    assert record.performed_by_name == "Dewi (privacy officer)"
    assert record.counts == {"attempts": 2, "photos": 4, "decisions": 1, "drafts": 2}
    assert "Erased applicant 317101******8888" in output
    assert (
        plain_values_found(
            database_text(),
            [NIK, "SITI RAHAYU", "siti.rahayu@example.com", "6281299998888"],
        )
        == []
    )
    values = [
        value
        for attempt in Attempt.objects.filter(pk__in=[first.pk, second.pk])
        for value in (attempt.full_name, attempt.email_address, attempt.phone_number)
    ]
    assert values == [""] * 6


def test_the_person_is_not_found_again_and_can_start_afresh(person):
    erase()

    assert subjects.find_applicant(NIK) is None
    with pytest.raises(CommandError, match="Nothing is held"):
        erase()
    fresh = Applicant.for_nik(NIK)
    assert fresh.pk != person[0].applicant_id


def test_an_attempt_waiting_for_a_reviewer_refuses_the_erasure(person):
    make_attempt(applicant=person[0].applicant, status="needs_review", images=True)

    with pytest.raises(CommandError, match="waiting for a reviewer's decision"):
        erase()

    assert Attempt.objects.get(pk=person[0].pk).full_name == "SITI RAHAYU"
    assert DataSubjectRequest.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_attempt_with_the_provider_refuses_the_erasure_without_waiting(sandbox):
    queued = make_attempt(nik=NIK, status="queued", images=True)

    with pytest.raises(CommandError, match="still being verified by the provider"):
        erase()

    queued.refresh_from_db()
    assert queued.full_name
    assert queued.photos_deleted_at is None


@pytest.mark.django_db(transaction=True)
def test_the_erasure_waits_for_attempts_with_the_provider(sandbox, applicant):
    submit(applicant)
    queued = Attempt.objects.get()
    assert queued.status == "queued"
    looks = []

    def worker_runs_meanwhile(seconds: float) -> None:
        looks.append(seconds)
        run_worker()

    subjects.erase(
        applicant=queued.applicant,
        reference="DSR-9",
        performed_by_name="Dewi",
        wait=timedelta(minutes=5),
        sleep=worker_runs_meanwhile,
    )

    queued.refresh_from_db()
    assert looks  # it did wait
    assert queued.status == "verified"  # the paid answer was kept
    assert queued.full_name == ""
    assert queued.redacted_at is not None


def erase_action(client, applicant, **extra):
    return client.post(
        admin_url("applicant_changelist"),
        {"action": "erase_subject_data", "_selected_action": [applicant.pk], **extra},
        follow=True,
    )


def test_the_admin_action_asks_for_the_request_and_a_confirmation(person, client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    applicant = person[0].applicant
    officer = make_user(
        "dewi",
        permissions=("verification.view_applicant", "verification.erase_subject_data"),
    )
    client.force_login(officer)

    asked = erase_action(client, applicant, index="0")
    unconfirmed = erase_action(client, applicant, reference="DSR-8")
    confirmed = erase_action(client, applicant, reference="DSR-8", confirm="on")

    assert "Request reference" in asked.content.decode()
    assert "data-certified" not in asked.content.decode()  # nothing was certified
    assert "This field is required" in unconfirmed.content.decode()
    assert "Erased: 2 attempt(s) and 4 photo(s) of 317101******8888" in (
        confirmed.content.decode()
    )
    record = DataSubjectRequest.objects.get()
    assert (record.performed_by, record.reference) == (officer, "DSR-8")


def test_the_officer_is_warned_before_erasing_evidence_behind_a_certificate(
    person, client
):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    make_attempt(applicant=person[0].applicant, status="verified")
    client.force_login(make_user("dewi", superuser=True))

    asked = erase_action(client, person[0].applicant, index="0")

    assert "1 of these attempts led to a certificate" in asked.content.decode()


def test_an_erased_attempt_says_its_photos_are_gone(person, client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    erase()
    client.force_login(make_user("tono", reviewer=True))

    page = client.get(admin_url("attempt_change", person[0].pk)).content.decode()

    assert "data-photos-deleted" in page
    assert admin_url("attempt_image", person[0].pk, "face") not in page


def test_the_admin_action_needs_its_own_permission(person, client):
    client.force_login(
        make_user(
            "tono",
            reviewer=True,
            permissions=("verification.export_subject_data",),
        )
    )

    erase_action(client, person[0].applicant, reference="DSR-8", confirm="on")

    assert DataSubjectRequest.objects.count() == 0
    assert Attempt.objects.get(pk=person[0].pk).full_name == "SITI RAHAYU"
