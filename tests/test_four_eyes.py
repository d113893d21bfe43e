"""Four-eyes decisions (REVIEW_FOUR_EYES): a decision waits for a second reviewer,
who confirms it or sends it back with a note; nobody confirms their own; the
applicant hears only the confirmed outcome; both steps are in the append-only
record; and simultaneous steps are settled exactly once, on either database."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test import Client

from tests.pages import text_of
from tests.reviewing import admin_url, make_attempt, make_user, reviewers_group
from tests.worker import run_worker
from verification import reviews
from verification.models import (
    Attempt,
    RecordIsAppendOnly,
    ReviewCheck,
    ReviewDecision,
    ReviewProposal,
)


@pytest.fixture(autouse=True)
def _rejections_need_four_eyes(settings):
    settings.REVIEW_FOUR_EYES = "rejections"


def logged_in(user) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def reject(client: Client, attempt: Attempt, **overrides: str):
    return client.post(
        admin_url("attempt_decide", attempt.pk),
        {
            "decision": "rejected",
            "reason": "face_mismatch",
            "note": "The selfie shows someone else.",
            "applicant_message": "Please send a selfie of yourself.",
            **overrides,
        },
    )


@pytest.mark.django_db
def test_a_rejection_waits_for_a_second_reviewer_and_the_applicant_hears_nothing():
    attempt = make_attempt(language="en")
    rita = make_user("rita", reviewer=True)
    applicant = Client(headers={"accept-language": "en"})
    session = applicant.session
    session["attempts"] = [str(attempt.code)]
    session.save()

    response = reject(logged_in(rita), attempt)
    run_worker()

    assert response.status_code == 302
    attempt.refresh_from_db()
    assert attempt.status == "needs_review"
    proposal = ReviewProposal.objects.get(attempt=attempt)
    assert attempt.pending_proposal == proposal
    assert (proposal.reviewer, proposal.decision) == (rita, "rejected")
    assert not ReviewDecision.objects.exists()
    assert mail.outbox == []
    status = text_of(applicant.get(f"/status/{attempt.code}/"))
    assert "Your application is being reviewed" in status
    assert "not approved" not in status
    page = text_of(logged_in(rita).get(admin_url("attempt_change", attempt.pk)))
    assert "Waiting for a second reviewer: rita decided" in page
    assert "Another reviewer must confirm your decision before it takes effect." in page
    assert "Confirm" not in page.split("Waiting for a second reviewer")[1][:400]


@pytest.mark.django_db
def test_a_second_reviewer_confirms_and_only_then_the_applicant_is_told():
    attempt = make_attempt(email="dewi@example.com", language="en")
    rita, sari = (make_user(name, reviewer=True) for name in ("rita", "sari"))
    reject(logged_in(rita), attempt)
    sari_client = logged_in(sari)

    page = text_of(sari_client.get(admin_url("attempt_change", attempt.pk)))
    assert "The selfie shows someone else." in page
    assert "Send back" in page
    response = sari_client.post(
        admin_url("attempt_check", attempt.pk),
        {"verdict": "confirmed", "note": "Agreed: not the same face."},
    )
    run_worker()

    assert response.status_code == 302
    attempt.refresh_from_db()
    assert attempt.status == "rejected"
    assert attempt.pending_proposal is None
    decision = ReviewDecision.objects.get(attempt=attempt)
    assert (decision.reviewer, decision.confirmed_by) == (rita, sari)
    assert decision.note == "The selfie shows someone else."
    check = ReviewCheck.objects.get(proposal__attempt=attempt)
    assert (check.verdict, check.reviewer, check.proposed_by) == (
        "confirmed",
        sari,
        rita,
    )
    (email,) = mail.outbox
    assert email.to == ["dewi@example.com"]
    assert "Please send a selfie of yourself." in email.body
    assert "Agreed" not in email.body
    page = text_of(sari_client.get(admin_url("attempt_change", attempt.pk)))
    assert "Confirmed by sari" in page


@pytest.mark.django_db
def test_nobody_confirms_their_own_decision():
    attempt = make_attempt()
    rita = make_user("rita", reviewer=True)
    reject(logged_in(rita), attempt)
    proposal = ReviewProposal.objects.get(attempt=attempt)

    response = logged_in(rita).post(
        admin_url("attempt_check", attempt.pk), {"verdict": "confirmed"}, follow=True
    )

    assert "a second reviewer must check your decision" in text_of(response)
    with pytest.raises(reviews.OwnDecision):
        reviews.confirm(proposal=proposal, reviewer=rita)
    # Nor can anyone write it past the service: the database refuses it.
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewCheck.objects.create(
            proposal=proposal, reviewer=rita, proposed_by=rita, verdict="confirmed"
        )
    attempt.refresh_from_db()
    assert attempt.status == "needs_review"
    assert not ReviewDecision.objects.exists()


@pytest.mark.django_db
def test_a_decision_sent_back_returns_to_its_reviewer_with_the_note():
    attempt = make_attempt()
    rita, sari = (make_user(name, reviewer=True) for name in ("rita", "sari"))
    reject(logged_in(rita), attempt)

    refused = logged_in(sari).post(
        admin_url("attempt_check", attempt.pk), {"verdict": "sent_back", "note": " "}
    )
    assert refused.status_code == 400
    assert "Write a note for the reviewer: what to look at again." in text_of(refused)
    logged_in(sari).post(
        admin_url("attempt_check", attempt.pk),
        {"verdict": "sent_back", "note": "Compare the ears, not the hair."},
    )
    run_worker()

    attempt.refresh_from_db()
    assert (attempt.status, attempt.pending_proposal, attempt.assigned_to) == (
        "needs_review",
        None,
        rita,
    )
    assert mail.outbox == []
    page = text_of(logged_in(rita).get(admin_url("attempt_change", attempt.pk)))
    assert "Sent back" in page
    assert "Compare the ears, not the hair." in page
    # Rita decides again; this time it is an approval, which needs no second look.
    logged_in(rita).post(
        admin_url("attempt_decide", attempt.pk),
        {"decision": "approved", "note": "Same person after all."},
    )
    attempt.refresh_from_db()
    assert attempt.status == "approved"
    assert ReviewDecision.objects.get(attempt=attempt).proposal is None


@pytest.mark.django_db
def test_under_all_an_approval_waits_too_and_off_decides_at_once(settings):
    settings.REVIEW_FOUR_EYES = "all"
    rita = make_user("rita", reviewer=True)
    waiting = make_attempt()
    result = reviews.decide(
        attempt=waiting, reviewer=rita, decision="approved", note="Family phone."
    )
    assert isinstance(result, ReviewProposal)
    assert Attempt.objects.get(pk=waiting.pk).status == "needs_review"

    settings.REVIEW_FOUR_EYES = "off"
    direct = make_attempt()
    result = reviews.decide(
        attempt=direct,
        reviewer=rita,
        decision="rejected",
        reason="face_mismatch",
        note="Not her.",
    )
    assert isinstance(result, ReviewDecision)
    assert Attempt.objects.get(pk=direct.pk).status == "rejected"


@pytest.mark.django_db
def test_both_steps_are_append_only_records():
    attempt = make_attempt()
    rita, sari = (make_user(name, reviewer=True) for name in ("rita", "sari"))
    reject(logged_in(rita), attempt)
    proposal = ReviewProposal.objects.get()
    reviews.confirm(proposal=proposal, reviewer=sari)
    check = ReviewCheck.objects.get()

    for record in (proposal, check):
        record.note = "rewritten"
        with pytest.raises(RecordIsAppendOnly):
            record.save()
        with pytest.raises(RecordIsAppendOnly):
            record.delete()
    with pytest.raises(RecordIsAppendOnly):
        ReviewProposal.objects.update(note="rewritten")
    # Each step took its place in the audit chain.
    assert proposal.chain_seq is not None
    assert check.chain_seq is not None
    assert check.chain_seq > proposal.chain_seq


def at_the_same_moment(*steps: Callable[[], object]) -> list[str]:
    """Run each step in a thread of its own, released together; what each did."""
    start = threading.Barrier(len(steps))
    outcomes: list[str] = []

    def run(step: Callable[[], object]) -> None:
        start.wait()
        try:
            step()
            outcomes.append("done")
        except reviews.DecisionRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(step,)) for step in steps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
def test_two_second_reviewers_confirming_at_once_make_one_decision():
    reviewers_group()
    attempt = make_attempt()
    rita, sari, tono = (make_user(n, reviewer=True) for n in ("rita", "sari", "tono"))
    proposal = reviews.decide(
        attempt=attempt,
        reviewer=rita,
        decision="rejected",
        reason="face_mismatch",
        note="Not her.",
    )
    assert isinstance(proposal, ReviewProposal)

    outcomes = at_the_same_moment(
        lambda: reviews.confirm(proposal=proposal, reviewer=sari),
        lambda: reviews.confirm(proposal=proposal, reviewer=tono),
    )

    assert outcomes == ["done", "refused"]
    assert ReviewDecision.objects.filter(attempt=attempt).count() == 1
    assert ReviewCheck.objects.filter(proposal=proposal).count() == 1
    run_worker()
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_confirmation_and_a_send_back_at_once_settle_one_way():
    reviewers_group()
    attempt = make_attempt()
    rita, sari, tono = (make_user(n, reviewer=True) for n in ("rita", "sari", "tono"))
    proposal = reviews.decide(
        attempt=attempt,
        reviewer=rita,
        decision="rejected",
        reason="face_mismatch",
        note="Not her.",
    )
    assert isinstance(proposal, ReviewProposal)

    outcomes = at_the_same_moment(
        lambda: reviews.confirm(proposal=proposal, reviewer=sari),
        lambda: reviews.send_back(proposal=proposal, reviewer=tono, note="Look again."),
    )

    assert outcomes == ["done", "refused"]
    (check,) = ReviewCheck.objects.filter(proposal=proposal)
    attempt.refresh_from_db()
    if check.verdict == "confirmed":
        assert attempt.status == "rejected"
        assert ReviewDecision.objects.filter(attempt=attempt).count() == 1
    else:
        assert (attempt.status, attempt.pending_proposal) == ("needs_review", None)
        assert not ReviewDecision.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_deciding_at_once_make_one_proposal_that_counts():
    reviewers_group()
    attempt = make_attempt()
    rita, sari = (make_user(n, reviewer=True) for n in ("rita", "sari"))

    def reject_as(user):
        return lambda: reviews.decide(
            attempt=attempt,
            reviewer=user,
            decision="rejected",
            reason="face_mismatch",
            note="Not her.",
        )

    outcomes = at_the_same_moment(reject_as(rita), reject_as(sari))

    assert outcomes == ["done", "refused"]
    (proposal,) = ReviewProposal.objects.filter(attempt=attempt)
    attempt.refresh_from_db()
    assert attempt.pending_proposal == proposal
    assert attempt.assigned_to == proposal.reviewer
