"""Deciding a case: the reviewer's whole path from the queue to the applicant's
email, the decision form's rules, taking a case, and a second decision refused."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection
from django.test import Client

from tests.applying import submit
from tests.pages import text_of
from tests.reviewing import (
    admin_url,
    holder,
    make_attempt,
    make_user,
    reviewers_group,
)
from tests.worker import run_worker
from verification import reviews
from verification.lookups import nik_digest
from verification.models import Attempt, ImageAccess, ReviewDecision

REVIEW_NIK = "1234567890111116"  # the sandbox answers verified_with_reason (email)


@pytest.fixture(autouse=True)
def _english(client):
    """The admin in English, the language the assertions are written in."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def log_in_demo_reviewer(settings, tmp_path) -> Client:
    """The documented way: `manage.py demo_reviewer`, then the admin's login form."""
    settings.DATA_DIR = tmp_path
    reviewers_group()
    out = StringIO()
    call_command("demo_reviewer", stdout=out)
    password = (tmp_path / "demo-reviewer-password").read_text().strip()
    assert password in out.getvalue()
    reviewer = Client(headers={"accept-language": "en"})
    login = reviewer.post(
        "/admin/login/?next=/admin/",
        {"username": "reviewer", "password": password},
    )
    assert login.status_code == 302
    return reviewer


@pytest.mark.django_db(transaction=True)
def test_a_reviewer_takes_a_case_sees_the_evidence_rejects_it_and_the_applicant_is_told(
    sandbox, settings, tmp_path
):
    someone_else = Client(headers={"accept-language": "en"})
    submit(someone_else, phoneNumber="0812-1111-2222")
    applicant = Client(headers={"accept-language": "en"})
    sent = submit(applicant, identityId=REVIEW_NIK)
    run_worker()
    attempt = Attempt.objects.get(applicant__nik_digest=nik_digest(REVIEW_NIK))
    assert attempt.status == "needs_review"
    mail.outbox.clear()
    reviewer = log_in_demo_reviewer(settings, tmp_path)

    queue = text_of(reviewer.get(admin_url("reviewcase_changelist")))
    assert "1 case waiting for a decision" in queue
    assert "123456******1116" in queue
    assert "Email address already used by another NIK" in queue

    taken = reviewer.post(admin_url("attempt_take", attempt.pk))
    assert taken.status_code == 302
    assert "reviewer" in text_of(reviewer.get(admin_url("reviewcase_changelist")))

    page = reviewer.get(admin_url("attempt_change", attempt.pk))
    seen = text_of(page)
    assert "Taken by reviewer" in seen
    assert "123456******3456" in seen  # the other applicant, sharing the email
    assert "Other applicants with this email address or phone number" in seen
    for kind in ("face", "identity"):
        url = admin_url("attempt_image", attempt.pk, kind)
        assert url in page.content.decode()
        photo = reviewer.get(url)
        assert photo.status_code == 200
        assert photo["Content-Type"] == "image/jpeg"
        assert photo.content[:2] == b"\xff\xd8"
    assert ImageAccess.objects.filter(attempt=attempt).count() == 2

    decided = reviewer.post(
        admin_url("attempt_decide", attempt.pk),
        {
            "decision": "rejected",
            "reason": "contact_of_another_person",
            "note": "Email belongs to the NIK ending 3456; applicant could not explain.",
            "applicant_message": "Please apply again with your own email address.",
        },
    )

    assert decided.status_code == 302
    attempt.refresh_from_db()
    assert attempt.status == "rejected"
    decision = ReviewDecision.objects.get(attempt=attempt)
    assert decision.reviewer.username == "reviewer"
    assert decision.reason == "contact_of_another_person"
    assert attempt.latest_decision == decision
    after = text_of(reviewer.get(admin_url("attempt_change", attempt.pk)))
    assert "Decision recorded: Rejected" in after
    assert "Email belongs to the NIK ending 3456" in after
    run_worker()
    (email,) = mail.outbox
    assert email.to == ["asep@example.com"]
    assert email.subject == "Your application was not approved after review"
    assert "could not approve it" in email.body
    assert "Please apply again with your own email address." in email.body
    assert "3456" not in email.body
    assert "applicant could not explain" not in email.body
    status_page = text_of(applicant.get(sent["Location"]))
    assert "Your application was not approved" in status_page
    assert "Please apply again with your own email address." in status_page
    assert "applicant could not explain" not in status_page


@pytest.mark.django_db
def test_an_approval_emails_the_applicant_with_the_message_but_not_the_note(client):
    attempt = make_attempt(email="budi@example.com", language="en")
    client.force_login(make_user("rita", reviewer=True))

    response = client.post(
        admin_url("attempt_decide", attempt.pk),
        {
            "decision": "approved",
            "reason": "shared_household",
            "note": "Email is her husband's; confirmed by phone.",
            "applicant_message": "Thank you for your patience.",
        },
    )
    run_worker()

    assert response.status_code == 302
    attempt.refresh_from_db()
    assert attempt.status == "approved"
    assert holder(attempt) == "rita"
    (email,) = mail.outbox
    assert email.to == ["budi@example.com"]
    assert email.subject == "Your identity is verified"
    assert "approved it" in email.body
    assert "Thank you for your patience." in email.body
    assert "husband" not in email.body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sent", "error"),
    [
        (
            {"decision": "rejected", "note": "Not the same person."},
            "Choose the reason for the rejection.",
        ),
        (
            {"decision": "rejected", "reason": "face_mismatch", "note": "  "},
            "Write an internal note: why you decided this way.",
        ),
        (
            {"decision": "approved", "reason": "face_mismatch", "note": "Fine."},
            "This reason does not fit the decision; choose another.",
        ),
        ({"note": "Fine."}, "Choose Approve or Reject."),
    ],
)
def test_an_incomplete_decision_is_shown_again_with_what_to_fix(client, sent, error):
    attempt = make_attempt()
    client.force_login(make_user("rita", reviewer=True))

    response = client.post(admin_url("attempt_decide", attempt.pk), sent)

    assert response.status_code == 400
    assert error in text_of(response)
    attempt.refresh_from_db()
    assert attempt.status == "needs_review"
    assert not ReviewDecision.objects.exists()
    assert not mail.outbox


@pytest.mark.django_db
def test_a_second_decision_from_another_tab_is_refused(client):
    attempt = make_attempt()
    client.force_login(make_user("rita", reviewer=True))
    url = admin_url("attempt_decide", attempt.pk)

    first = client.post(url, {"decision": "approved", "note": "Family email."})
    second = client.post(
        url,
        {"decision": "rejected", "reason": "suspected_fraud", "note": "Fraud."},
        follow=True,
    )
    run_worker()

    assert first.status_code == 302
    assert "Nothing was changed: this attempt has already been decided" in text_of(
        second
    )
    attempt.refresh_from_db()
    assert attempt.status == "approved"
    assert list(ReviewDecision.objects.values_list("decision", flat=True)) == [
        "approved"
    ]
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_decision_made_from_a_stale_copy_of_the_attempt_is_refused():
    first_tab = make_attempt()
    second_tab = Attempt.objects.get(pk=first_tab.pk)
    rita, tono = make_user("rita", reviewer=True), make_user("tono", reviewer=True)

    reviews.decide(attempt=first_tab, reviewer=rita, decision="approved", note="Ok.")
    with pytest.raises(reviews.DecisionRefused):
        reviews.decide(
            attempt=second_tab,
            reviewer=tono,
            decision="rejected",
            reason="suspected_fraud",
            note="No.",
        )

    assert Attempt.objects.get(pk=first_tab.pk).status == "approved"
    assert ReviewDecision.objects.get().reviewer == rita


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["verified", "not_verified", "failed", "queued"])
def test_attempts_that_did_not_need_review_cannot_be_decided(status):
    attempt = make_attempt(status=status)

    with pytest.raises(reviews.DecisionRefused):
        reviews.decide(
            attempt=attempt,
            reviewer=make_user("rita", reviewer=True),
            decision="approved",
            note="Ok.",
        )

    attempt.refresh_from_db()
    assert attempt.status == status
    assert not ReviewDecision.objects.exists()


@pytest.mark.django_db
def test_only_users_allowed_to_decide_can_decide():
    attempt = make_attempt()
    viewer = make_user("viewer", permissions=("verification.view_attempt",))

    with pytest.raises(PermissionDenied):
        reviews.decide(attempt=attempt, reviewer=viewer, decision="approved", note="x")

    assert Attempt.objects.get(pk=attempt.pk).status == "needs_review"


@pytest.mark.django_db
def test_the_decision_function_checks_its_inputs_like_the_form():
    attempt = make_attempt()

    with pytest.raises(ValidationError) as refused:
        reviews.decide(
            attempt=attempt,
            reviewer=make_user("rita", reviewer=True),
            decision="rejected",
            note="",
        )

    assert set(refused.value.error_dict) == {"reason", "note"}
    assert Attempt.objects.get(pk=attempt.pk).status == "needs_review"


@pytest.mark.django_db
def test_a_case_taken_by_one_reviewer_cannot_be_taken_or_decided_by_another(client):
    attempt = make_attempt()
    rita, tono = make_user("rita", reviewer=True), make_user("tono", reviewer=True)
    client.force_login(tono)

    assert reviews.take_case(attempt=attempt, reviewer=rita)
    taken = client.post(admin_url("attempt_take", attempt.pk), follow=True)
    decided = client.post(
        admin_url("attempt_decide", attempt.pk),
        {"decision": "approved", "note": "Looks fine."},
        follow=True,
    )
    page = text_of(client.get(admin_url("attempt_change", attempt.pk)))

    assert "Another reviewer has this case" in text_of(taken)
    assert "Nothing was changed" in text_of(decided)
    assert "rita has taken this case; only they can decide it." in page
    assert "Approve" not in page
    attempt.refresh_from_db()
    assert (attempt.status, attempt.assigned_to) == ("needs_review", rita)


@pytest.mark.django_db
def test_a_reviewer_puts_a_case_back_and_a_colleague_takes_it():
    attempt = make_attempt()
    rita, tono = make_user("rita", reviewer=True), make_user("tono", reviewer=True)
    reviews.take_case(attempt=attempt, reviewer=rita)

    assert not reviews.release_case(attempt=attempt, reviewer=tono)
    assert reviews.release_case(attempt=attempt, reviewer=rita)
    assert reviews.take_case(attempt=attempt, reviewer=tono)

    attempt.refresh_from_db()
    assert attempt.assigned_to == tono
    assert attempt.assigned_at is not None


@pytest.mark.django_db
def test_a_superuser_can_put_back_a_case_held_by_an_absent_reviewer():
    attempt = make_attempt()
    reviews.take_case(attempt=attempt, reviewer=make_user("rita", reviewer=True))

    assert reviews.release_case(
        attempt=attempt, reviewer=make_user("root", superuser=True)
    )
    assert Attempt.objects.get(pk=attempt.pk).assigned_to is None


@pytest.mark.django_db
def test_assign_to_me_from_the_queue_skips_cases_held_by_others(client):
    mine, theirs = make_attempt(), make_attempt()
    reviews.take_case(attempt=theirs, reviewer=make_user("tono", reviewer=True))
    client.force_login(make_user("rita", reviewer=True))

    response = client.post(
        admin_url("reviewcase_changelist"),
        {"action": "take_cases", "_selected_action": [mine.pk, theirs.pk]},
        follow=True,
    )

    assert "1 case(s) assigned to you; 1 held by others." in text_of(response)
    assert holder(mine) == "rita"
    assert holder(theirs) == "tono"


@pytest.mark.django_db
def test_an_undecided_attempt_has_no_latest_decision():
    assert make_attempt().latest_decision is None


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_deciding_at_the_same_moment_make_exactly_one_decision():
    # On PostgreSQL both transactions run at once; SQLite makes the second wait for
    # the first. Either way exactly one decision may land.
    reviewers_group()
    attempt = make_attempt()
    reviewers = [make_user(f"reviewer{n}", reviewer=True) for n in range(2)]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def decide_as(reviewer) -> None:
        start.wait()
        try:
            reviews.decide(
                attempt=attempt, reviewer=reviewer, decision="approved", note="Ok."
            )
            outcomes.append("decided")
        except reviews.DecisionRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=decide_as, args=(r,)) for r in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["decided", "refused"]
    assert ReviewDecision.objects.filter(attempt=attempt).count() == 1
    run_worker()
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_rejection_without_reason_or_note_lists_both_problems(client):
    attempt = make_attempt()
    client.force_login(make_user("rita", reviewer=True))

    response = client.post(
        admin_url("attempt_decide", attempt.pk), {"decision": "rejected", "note": ""}
    )

    page = text_of(response)
    assert "Choose the reason for the rejection." in page
    assert "Write an internal note: why you decided this way." in page
    assert Attempt.objects.get(pk=attempt.pk).status == "needs_review"
