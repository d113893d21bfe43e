"""The delivery log in the admin: every webhook with its response code and tries,
and "Send again", which posts the same webhook-id once more."""

from __future__ import annotations

import pytest

from tests.integrating import make_key, receiver
from tests.pages import text_of
from tests.reviewing import make_user
from tests.worker import run_worker
from verification.integrations import sessions
from verification.integrations.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_log_shows_each_delivery_and_send_again_repeats_it(applicant):
    client = applicant  # a browser reading the admin in English
    made = make_key(name="Bank Contoh")
    client.force_login(make_user("ops", superuser=True))
    with receiver(made.webhook_secret, [503, 200]) as hooks:
        made.api_key.webhook_url = hooks.url
        made.api_key.save()
        session, _ = sessions.create_session(
            api_key=made.api_key,
            request=sessions.SessionRequest(external_reference="loan-1"),
        )
        sessions.open_form(session)
        run_worker()  # answered 503
        delivery = WebhookDelivery.objects.get()

        listing = client.get("/admin/integrations/webhookdelivery/")
        page = client.get(f"/admin/integrations/webhookdelivery/{delivery.pk}/change/")
        client.post(
            "/admin/integrations/webhookdelivery/",
            {"action": "send_again", "_selected_action": [delivery.pk]},
        )
        run_worker()  # sent again at once, whatever the backoff said: 200
        hooks.wait_for(2)

    listed = text_of(listing)
    assert "Bank Contoh" in listed
    assert "503" in listed
    assert "Waiting to be sent" in listed
    shown = text_of(page)
    assert delivery.webhook_id in shown
    assert '"externalReference": "loan-1"' in page.content.decode().replace(
        "&quot;", '"'
    )
    assert "503" in shown
    delivery.refresh_from_db()
    assert delivery.state == WebhookDelivery.State.DELIVERED
    assert [t["status"] for t in delivery.history] == [503, 200]
    assert [r.headers["webhook-id"] for r in hooks.received] == [
        delivery.webhook_id
    ] * 2
    hooks.payloads()  # both signatures verify


def test_the_sessions_list_never_shows_the_prefill(client):
    made = make_key()
    client.force_login(make_user("ops", superuser=True))
    session, _ = sessions.create_session(
        api_key=made.api_key,
        request=sessions.SessionRequest(
            external_reference="loan-2", prefill={"fullName": "Asep Supriyadi"}
        ),
    )

    listing = client.get("/admin/integrations/verificationsession/")
    page = client.get(f"/admin/integrations/verificationsession/{session.pk}/change/")

    assert "loan-2" in text_of(listing)
    assert "loan-2" in text_of(page)
    assert "Asep" not in listing.content.decode() + page.content.decode()
