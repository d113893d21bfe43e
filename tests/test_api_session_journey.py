"""An integrator's whole journey: create a session by API, send the applicant to its
URL, and learn each status change from signed webhooks (verified by a real
receiver with the standardwebhooks package) and from GET."""

from __future__ import annotations

import pytest

from tests.applying import submit
from tests.integrating import (
    create_session,
    deliveries,
    get_session,
    make_key,
    receiver,
    session_of,
    session_path,
)
from tests.pages import form_fields, text_of
from tests.worker import run_worker
from verification.integrations.models import WebhookDelivery
from verification.models import Attempt

pytestmark = pytest.mark.django_db(transaction=True)

NIK = "1234 5678 9012 3456"


def test_a_session_goes_from_created_to_verified_with_a_signed_webhook_each_step(
    sandbox, client, applicant
):
    made = make_key(name="Bank Contoh")
    with receiver(made.webhook_secret) as hooks:
        made.api_key.webhook_url = hooks.url
        made.api_key.save()
        created = create_session(
            client,
            made.key,
            {
                "externalReference": "loan-2026-0042",
                "returnUrl": "https://bank.example/kyc/done?step=3",
                "locale": "en",
                "prefill": {
                    "fullName": "Asep Supriyadi",
                    "emailAddress": "asep@example.com",
                    "phoneNumber": "0812-3456-7890",
                },
            },
        )
        assert created.status_code == 201
        body = created.json()
        assert set(body) == {"id", "url", "expiresAt"}
        assert get_session(client, made.key, body["id"]).json()["status"] == "created"

        form = applicant.get(session_path(body["url"]))
        page = form.content.decode()
        assert "Your details" in text_of(form)  # in the session's language
        assert 'value="Asep Supriyadi"' in page
        assert 'value="asep@example.com"' in page
        assert form_fields(page, "data-register")["session"] == body["id"]

        sent = submit(applicant, identityId=NIK, session=body["id"])
        assert sent.status_code == 302
        session = session_of(created)
        attempt = Attempt.objects.get()
        assert session.attempt == attempt
        assert session.prefill == {}  # the attempt holds what was sent now
        assert get_session(client, made.key, body["id"]).json()["status"] == "verifying"

        run_worker()
        hooks.wait_for(3)

    assert hooks.statuses() == ["in_progress", "verifying", "verified"]
    final = get_session(client, made.key, body["id"]).json()
    assert final == hooks.payloads()[-1]["data"]
    assert final["status"] == "verified"
    assert final["externalReference"] == "loan-2026-0042"
    attempt.refresh_from_db()
    assert final["referenceId"] == attempt.reference_id != ""
    assert final["decision"] is None
    for event in hooks.payloads():
        assert event["type"] == "session.updated"
        assert event["data"]["id"] == body["id"]
    ids = [r.headers["webhook-id"] for r in hooks.received]
    assert len(set(ids)) == 3
    assert all(
        d.state == WebhookDelivery.State.DELIVERED and d.last_status_code == 200
        for d in deliveries(session)
    )


def test_the_status_page_offers_the_way_back_to_the_integrator(
    sandbox, client, applicant
):
    made = make_key(name="Bank Contoh")
    created = create_session(
        client,
        made.key,
        {
            "externalReference": "c-7",
            "returnUrl": "https://bank.example/back?a=1",
            "locale": "en",
        },
    )
    session_id = created.json()["id"]
    applicant.get(session_path(created.json()["url"]))

    sent = submit(applicant, identityId=NIK, session=session_id)
    status = applicant.get(sent["Location"])

    assert "Back to Bank Contoh" in text_of(status)
    assert (
        f'href="https://bank.example/back?a=1&amp;session={session_id}"'
        in status.content.decode()
    )


def test_a_page_of_an_application_sent_without_a_session_has_no_way_back(
    sandbox, applicant
):
    make_key(name="Bank Contoh")

    sent = submit(applicant, identityId=NIK)

    assert "Back to" not in text_of(applicant.get(sent["Location"]))


def test_the_get_body_never_holds_photos_or_the_nik(sandbox, client, applicant):
    made = make_key()
    created = create_session(
        client,
        made.key,
        {"externalReference": "c-8", "prefill": {"fullName": "Asep Supriyadi"}},
    )
    applicant.get(session_path(created.json()["url"]))
    submit(applicant, identityId="1234567890111112", session=created.json()["id"])
    run_worker()

    answer = get_session(client, made.key, created.json()["id"])

    text = answer.content.decode()
    assert answer.json()["status"] == "not_verified"
    assert answer.json()["rejectFields"] == ["fullName"]
    assert "1234567890111112" not in text
    assert "ASEP" not in text.upper()
    assert "asep@" not in text.lower()
    assert "/9j/" not in text  # no base64 JPEG
    assert set(answer.json()) == {
        "id",
        "externalReference",
        "status",
        "rejectFields",
        "referenceId",
        "decision",
        "updatedAt",
    }
