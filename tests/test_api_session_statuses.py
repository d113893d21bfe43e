"""Every status a session can reach, each reported by a webhook: a reviewer's
decision, "fix and send again" and "try again" within the session, expiry; and one
attempt at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.applying import submit
from tests.integrating import (
    create_session,
    get_session,
    make_key,
    receiver,
    session_of,
    session_path,
)
from tests.pages import form_fields, matched, text_of
from tests.reviewing import make_user
from tests.worker import run_worker
from verification import reviews
from verification.integrations import sessions
from verification.integrations.models import VerificationSession, WebhookDelivery
from verification.models import Attempt

pytestmark = pytest.mark.django_db(transaction=True)


def started(client: Client, applicant: Client, made, **body) -> dict:
    """A session created by API and opened by the applicant."""
    answer = create_session(client, made.key, {"externalReference": "c-1", **body})
    applicant.get(session_path(answer.json()["url"]))
    return answer.json()


def test_a_reviewers_approval_is_reported_with_the_decision(sandbox, client, applicant):
    made = make_key()
    with receiver(made.webhook_secret) as hooks:
        made.api_key.webhook_url = hooks.url
        made.api_key.save()
        body = started(client, applicant, made)
        submit(applicant, identityId="1234567890111116", session=body["id"])
        run_worker()
        attempt = Attempt.objects.get()
        assert get_session(client, made.key, body["id"]).json()["status"] == (
            "needs_review"
        )
        reviews.decide(
            attempt=attempt,
            reviewer=make_user("rita", reviewer=True),
            decision="approved",
            reason="shared_household",
            note="Her husband's email.",
        )
        run_worker()
        hooks.wait_for(4)

    assert hooks.statuses() == ["in_progress", "verifying", "needs_review", "approved"]
    review = hooks.payloads()[2]["data"]
    assert review["rejectFields"] == ["emailAddress"]
    final = get_session(client, made.key, body["id"]).json()
    assert final == hooks.payloads()[3]["data"]
    assert final["decision"]["outcome"] == "approved"
    assert final["decision"]["reason"] == "shared_household"
    assert final["decision"]["decidedAt"].endswith("Z")
    assert "husband" not in str(final)


def test_fix_and_send_again_stays_within_the_session(sandbox, client, applicant):
    made = make_key()
    body = started(client, applicant, made)
    submit(applicant, identityId="1234567890111112", session=body["id"])
    run_worker()
    assert get_session(client, made.key, body["id"]).json()["status"] == "not_verified"

    retry_form = applicant.get(f"/register/retry/{Attempt.objects.get().code}/")
    fields = form_fields(retry_form.content.decode(), "data-register")
    assert fields.get("session", "") == ""  # the correction brings its session
    submit(
        applicant,
        identityId="1234567890111112",
        retryOf=fields["retryOf"],
        fullName="Asep Supriyadi Putra",
    )

    session = VerificationSession.objects.get()
    second = Attempt.objects.latest("created_at")
    assert second.retry_of == Attempt.objects.earliest("created_at")
    assert session.attempt == second
    assert get_session(client, made.key, body["id"]).json()["status"] == "verifying"
    run_worker()
    assert get_session(client, made.key, body["id"]).json()["status"] == "not_verified"


def test_the_applicants_try_again_is_reported(sandbox, settings, client, applicant):
    made = make_key()
    body = started(client, applicant, made)
    settings.VERIFY_MAX_TRIES = 1
    settings.KREDIBEL_SANDBOX_FAULTS = {"failure_rate": 1.0, "failure_status": 503}
    sent = submit(applicant, identityId="1234 5678 9012 3456", session=body["id"])
    run_worker()
    assert get_session(client, made.key, body["id"]).json()["status"] == "failed"

    settings.KREDIBEL_SANDBOX_FAULTS = {}
    applicant.post(sent["Location"] + "retry")
    assert get_session(client, made.key, body["id"]).json()["status"] == "verifying"
    run_worker()

    assert get_session(client, made.key, body["id"]).json()["status"] == "verified"
    assert (
        list(
            WebhookDelivery.objects.order_by("created_at", "pk").values_list(
                "about", flat=True
            )
        )
        == []
    )  # this key has no webhook URL: polling only


def test_a_session_takes_one_attempt_at_a_time(sandbox, client, applicant):
    made = make_key()
    body = started(client, applicant, made)
    first = submit(applicant, session=body["id"])

    # Another tab of the same browser sends the session's form again.
    again = submit(applicant, session=body["id"], fullName="Someone Else")

    assert Attempt.objects.count() == 1
    assert again.status_code == 302
    assert again["Location"] == first["Location"]
    assert session_of_id(body["id"]).attempt == Attempt.objects.get()


def test_opening_the_url_again_after_sending_shows_the_status(
    sandbox, client, applicant
):
    made = make_key()
    body = started(client, applicant, made)
    sent = submit(applicant, session=body["id"])

    opened = applicant.get(session_path(body["url"]))
    elsewhere = Client().get(session_path(body["url"]))

    assert opened.status_code == 302
    assert opened["Location"] == sent["Location"]
    assert elsewhere["Location"] == sent["Location"]


def test_a_browser_that_did_not_open_the_url_cannot_send_into_the_session(
    sandbox, client, applicant
):
    made = make_key()
    body = create_session(client, made.key).json()  # never opened by `applicant`

    submit(applicant, session=body["id"])

    assert Attempt.objects.count() == 1
    assert session_of_id(body["id"]).attempt is None
    assert get_session(client, made.key, body["id"]).json()["status"] == "created"


def test_the_form_is_in_the_sessions_language(client):
    made = make_key()
    body = create_session(client, made.key, {"externalReference": "c-2"}).json()
    browser = Client(headers={"accept-language": "en"})

    form = browser.get(session_path(body["url"]))

    assert "Data Anda" in text_of(form)
    assert form.cookies["django_language"].value == "id"


def test_an_unused_session_expires_and_says_so(client, applicant):
    made = make_key(name="Bank Contoh")
    with receiver(made.webhook_secret) as hooks:
        made.api_key.webhook_url = hooks.url
        made.api_key.save()
        answer = create_session(
            client,
            made.key,
            {
                "externalReference": "c-3",
                "returnUrl": "https://bank.example/done",
                "locale": "en",
                "prefill": {"fullName": "Asep Supriyadi"},
            },
        )
        session = session_of(answer)
        later = session.expires_at + timedelta(seconds=1)
        VerificationSession.objects.update(expires_at=timezone.now())
        # GET says so at once; the expiry task then records it and tells.
        assert get_session(client, made.key, answer.json()["id"]).json()["status"] == (
            "expired"
        )
        assert sessions.expire(session_id=session.pk, now=later)
        run_worker()
        hooks.wait_for(1)

    assert hooks.statuses() == ["expired"]
    session.refresh_from_db()
    assert session.status == "expired"
    assert session.prefill == {}
    page = applicant.get(session_path(answer.json()["url"]))
    assert page.status_code == 410
    assert "Back to Bank Contoh" in text_of(page)
    assert f"https://bank.example/done?session={session.code}" in page.content.decode()


def test_a_tampered_session_url_opens_nothing(client, applicant):
    made = make_key()
    body = create_session(client, made.key).json()

    page = applicant.get(session_path(body["url"])[:-3] + "xx/")

    assert page.status_code == 410
    assert VerificationSession.objects.get().status == "created"


def session_of_id(code: str) -> VerificationSession:
    return VerificationSession.objects.get(code=code)


def test_continuing_on_a_phone_keeps_the_session(sandbox, client, applicant):
    made = make_key()
    body = started(client, applicant, made)
    handoff = applicant.post(
        "/register/handoff/", {"fullName": "Asep Supriyadi", "session": body["id"]}
    )
    link = matched(
        r'href="http://testserver(/continue/[^"]+)"', handoff.content.decode(), 1
    )
    phone = Client(headers={"accept-language": "en"})

    form = phone.get(link)
    submit(
        phone, session=form_fields(form.content.decode(), "data-register")["session"]
    )

    assert session_of_id(body["id"]).attempt == Attempt.objects.get()
