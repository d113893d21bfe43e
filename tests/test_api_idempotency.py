"""The Idempotency-Key: the same key within 24 hours returns the same session
instead of a new one; with another body it is refused; after 24 hours it makes a
new session; two requests with it at the same moment make one."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client

from tests.integrating import create_session, make_key
from verification.integrations.models import VerificationSession

BODY = {"externalReference": "loan-9", "prefill": {"fullName": "Asep Supriyadi"}}


@pytest.mark.django_db
def test_the_same_key_returns_the_same_session(client):
    made = make_key()

    first = create_session(client, made.key, BODY, **{"Idempotency-Key": "req-1"})
    again = create_session(client, made.key, BODY, **{"Idempotency-Key": "req-1"})
    other = create_session(client, made.key, BODY, **{"Idempotency-Key": "req-2"})
    without = create_session(client, made.key, BODY)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert other.json()["id"] != first.json()["id"]
    assert without.json()["id"] not in (first.json()["id"], other.json()["id"])
    assert VerificationSession.objects.count() == 3


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused(client):
    made = make_key()
    create_session(client, made.key, BODY, **{"Idempotency-Key": "req-1"})

    changed = create_session(
        client,
        made.key,
        {**BODY, "externalReference": "loan-10"},
        **{"Idempotency-Key": "req-1"},
    )

    assert changed.status_code == 422
    assert changed.json()["error"]["code"] == "idempotency_key_reused"
    assert VerificationSession.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_each_api_keys_own(client):
    bank_a, bank_b = make_key("Bank A"), make_key("Bank B")

    a = create_session(client, bank_a.key, BODY, **{"Idempotency-Key": "req-1"})
    b = create_session(client, bank_b.key, BODY, **{"Idempotency-Key": "req-1"})

    assert a.json()["id"] != b.json()["id"]


@pytest.mark.django_db
def test_after_24_hours_the_same_key_makes_a_new_session(client):
    made = make_key()
    first = create_session(client, made.key, BODY, **{"Idempotency-Key": "req-1"})
    VerificationSession.objects.update(
        created_at=VerificationSession.objects.get().created_at - timedelta(hours=25)
    )

    later = create_session(client, made.key, BODY, **{"Idempotency-Key": "req-1"})

    assert later.status_code == 201
    assert later.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in later


@pytest.mark.django_db(transaction=True)
def test_two_requests_with_the_same_key_at_once_make_one_session():
    made = make_key()
    start = threading.Barrier(4)
    answers: list = []

    def send() -> None:
        start.wait()
        try:
            answers.append(
                create_session(Client(), made.key, BODY, **{"Idempotency-Key": "req"})
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["id"] for a in answers}) == 1
    assert VerificationSession.objects.count() == 1
