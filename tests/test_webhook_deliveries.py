"""Webhook deliveries against a real receiver on 127.0.0.1: retried with
exponential backoff for a day on any non-2xx answer or timeout, with the same
webhook-id and body on every try and a fresh signature; redirects never followed;
addresses outside the public internet refused in production mode; at least once
after a worker that stopped mid-send."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.integrating import Receiver, make_key, receiver
from tests.worker import run_worker
from verification import recovery, tasks
from verification.integrations import sessions, webhooks
from verification.integrations.models import VerificationSession, WebhookDelivery
from verification.worker import lanes

pytestmark = pytest.mark.django_db(transaction=True)

State = WebhookDelivery.State


@pytest.fixture
def quick(settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5


def session_for(hooks: Receiver, made) -> VerificationSession:
    """A session of `made`'s key pointed at `hooks`, and one status change (its
    URL opened): one webhook written."""
    made.api_key.webhook_url = hooks.url
    made.api_key.save()
    session, _ = sessions.create_session(
        api_key=made.api_key,
        request=sessions.SessionRequest(external_reference="c-1"),
    )
    assert sessions.open_form(session)
    return session


def the_delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.get()


def test_a_receiver_that_fails_first_gets_the_same_webhook_until_it_answers_2xx(
    quick,
):
    made = make_key()
    with receiver(made.webhook_secret, [500, "hang", 503, 200]) as hooks:
        session_for(hooks, made)
        rng = random.Random(1)

        run_worker()  # the first try, as soon as it is written: 500
        delays = []
        for _ in range(3):
            delivery = the_delivery()
            assert delivery.state == State.PENDING
            assert delivery.next_try_at is not None
            assert delivery.last_tried_at is not None
            delays.append((delivery.next_try_at - delivery.last_tried_at).seconds)
            webhooks.send_delivery(
                delivery_id=delivery.pk, now=delivery.next_try_at, rng=rng
            )
        hooks.wait_for(4)

    delivery = the_delivery()
    assert delivery.state == State.DELIVERED
    assert delivery.tries == 4
    assert [t["status"] for t in delivery.history] == [500, None, 503, 200]
    assert delivery.history[1]["error"] == "timeout"
    # Exponential: each step within [half, whole] of 30 s, 60 s, 120 s.
    assert 15 <= delays[0] <= 30
    assert 30 <= delays[1] <= 60
    assert 60 <= delays[2] <= 120
    payloads = hooks.payloads()  # every try's signature verifies
    assert {r.headers["webhook-id"] for r in hooks.received} == {delivery.webhook_id}
    assert {r.body for r in hooks.received} == {delivery.body.encode()}
    assert payloads[0]["data"]["status"] == "in_progress"


def test_it_keeps_trying_for_a_day_then_gives_up():
    made = make_key()
    with receiver(made.webhook_secret, [500]) as hooks:
        session_for(hooks, made)
        created = the_delivery().created_at
        rng = random.Random(2)
        run_worker()
        while (delivery := the_delivery()).state == State.PENDING:
            assert delivery.next_try_at is not None
            webhooks.send_delivery(
                delivery_id=delivery.pk, now=delivery.next_try_at, rng=rng
            )
            assert delivery.tries < 100

    delivery = the_delivery()
    assert delivery.state == State.FAILED
    assert delivery.last_status_code == 500
    assert len(hooks.received) == delivery.tries
    # The last try came in the day's last hours, and none after the day.
    assert delivery.next_try_at is None
    assert delivery.give_up_at == created + timedelta(hours=24)
    assert 20 <= delivery.tries <= 40


def test_a_redirect_is_not_followed():
    made = make_key()
    with receiver(made.webhook_secret, [302]) as hooks:
        session_for(hooks, made)
        run_worker()

    delivery = the_delivery()
    assert len(hooks.received) == 1
    assert delivery.state == State.PENDING
    assert delivery.last_status_code == 302
    assert delivery.last_error == "redirect not followed"


def test_in_production_mode_a_loopback_address_is_refused_before_anything_is_sent(
    settings, quick
):
    made = make_key()
    with receiver(made.webhook_secret) as hooks:
        session_for(hooks, made)
        settings.PRODUCTION = True
        made.api_key.webhook_url = hooks.url.replace("http://", "https://")
        made.api_key.save()
        run_worker()

    delivery = the_delivery()
    assert hooks.received == []
    assert delivery.state == State.PENDING
    assert delivery.last_error == "address not allowed: 127.0.0.1"


def test_a_network_the_operator_allows_is_reached_in_production_mode(settings, quick):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    made = make_key()
    with receiver(made.webhook_secret) as hooks:
        session_for(hooks, made)
        settings.PRODUCTION = True
        made.api_key.webhook_url = hooks.url.replace("http://", "https://")
        made.api_key.save()
        run_worker()

    # Connected (the receiver speaks plain HTTP, so TLS fails after that).
    assert the_delivery().last_error == "TLS error"


def test_in_production_mode_a_plain_http_webhook_url_is_never_called(settings):
    made = make_key()
    with receiver(made.webhook_secret) as hooks:
        session_for(hooks, made)
        settings.PRODUCTION = True
        run_worker()

    assert hooks.received == []
    assert the_delivery().last_error == "webhook URL refused: Must use https."


def test_a_send_left_half_done_by_a_stopped_worker_is_sent_again():
    made = make_key()
    with receiver(made.webhook_secret) as hooks:
        session_for(hooks, made)
        # A worker claimed it and died before recording the answer.
        WebhookDelivery.objects.update(
            state=State.SENDING,
            tries=1,
            claimed_until=timezone.now() - timedelta(seconds=1),
        )

        recovery.sweep()
        run_worker()
        hooks.wait_for(1)

    delivery = the_delivery()
    assert delivery.state == State.DELIVERED
    assert delivery.tries == 2
    assert hooks.received[0].headers["webhook-id"] == delivery.webhook_id


def test_duplicate_tasks_deliver_once():
    made = make_key()
    with receiver(made.webhook_secret) as hooks:
        session_for(hooks, made)
        tasks.deliver_webhook.enqueue(the_delivery().pk)
        tasks.deliver_webhook.enqueue(the_delivery().pk)

        run_worker()

    assert len(hooks.received) == 1
    assert the_delivery().tries == 1


def test_a_key_without_a_webhook_url_gets_no_deliveries():
    made = make_key()
    session, _ = sessions.create_session(
        api_key=made.api_key,
        request=sessions.SessionRequest(external_reference="c-1"),
    )

    assert sessions.open_form(session)

    assert VerificationSession.objects.get().status == "in_progress"
    assert WebhookDelivery.objects.count() == 0


def test_webhooks_have_a_lane_of_their_own_in_the_worker():
    by_name = {lane.name: lane for lane in lanes()}

    assert by_name["webhook"].queues == ("webhook",)
    assert by_name["webhook"].threads >= 1
    assert "webhook" not in by_name["email"].queues
