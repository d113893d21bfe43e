"""/healthz: what an operator's monitor reads, and when it says something is wrong."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.reviewing import make_attempt
from tests.tasks_for_tests import noop
from verification.models import Attempt, ProviderGate

pytestmark = pytest.mark.django_db

IDLE_LANE = {"due": 0, "oldest_due_seconds": 0}


def test_it_answers_200_with_a_small_json_body_when_everything_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "tasks": "ok",
        "tasks_due": 0,
        "oldest_due_seconds": 0,
        "queues": {
            "provider": IDLE_LANE,
            "email": IDLE_LANE,
            "housekeeping": IDLE_LANE,
            "webhook": IDLE_LANE,
            "default": IDLE_LANE,
        },
        "attempts_stuck": 0,
        "provider_circuit": "closed",
        "daily_budget": "none",
    }
    assert "no-cache" in response["Cache-Control"]


def test_it_counts_tasks_waiting_for_a_worker_and_how_long_the_oldest_waited(
    client,
):
    noop.enqueue()
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(seconds=42))

    body = client.get("/healthz").json()

    assert body["tasks_due"] == 1
    assert body["queues"]["default"]["due"] == 1
    assert 42 <= body["oldest_due_seconds"] < 60
    assert body["status"] == "ok"


def test_a_deferred_task_waits_from_the_moment_it_became_due(client):
    noop.using(run_after=timezone.now() - timedelta(seconds=5)).enqueue()
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(hours=2))

    body = client.get("/healthz").json()

    assert 5 <= body["oldest_due_seconds"] < 60


def test_it_answers_503_when_the_oldest_due_task_waited_too_long(client, settings):
    settings.HEALTH_MAX_TASK_WAIT_SECONDS = 300
    noop.enqueue()
    DBTaskResult.objects.update(enqueued_at=timezone.now() - timedelta(minutes=6))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "late"
    assert response.json()["late"] == ["oldest_due_seconds"]


def test_it_answers_503_when_too_many_tasks_are_due(client, settings):
    settings.HEALTH_MAX_TASKS_DUE = 2
    for _ in range(3):
        noop.enqueue()

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["late"] == ["tasks_due"]


def test_it_answers_503_when_an_attempt_is_stuck_past_its_lease(client):
    attempt = make_attempt()
    Attempt.objects.filter(pk=attempt.pk).update(
        status=Attempt.Status.VERIFYING,
        lease_expires_at=timezone.now() - timedelta(minutes=5),
    )

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["attempts_stuck"] == 1
    assert response.json()["late"] == ["attempts_stuck"]


def test_an_attempt_just_past_its_lease_is_not_stuck_yet(client):
    """Recovery takes it a second after the lease ends."""
    attempt = make_attempt()
    Attempt.objects.filter(pk=attempt.pk).update(
        status=Attempt.Status.VERIFYING,
        lease_expires_at=timezone.now() - timedelta(seconds=2),
    )

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["attempts_stuck"] == 0


def test_it_tells_when_the_provider_circuit_is_open(client):
    ProviderGate.objects.update_or_create(
        pk=1, defaults={"open_until": timezone.now() + timedelta(seconds=30)}
    )

    assert client.get("/healthz").json()["provider_circuit"] == "open"


def test_it_answers_503_when_the_task_queue_does_not_answer(client):
    table = DBTaskResult._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO healthz_hidden")
    try:
        response = client.get("/healthz")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE healthz_hidden RENAME TO {table}")

    assert response.status_code == 503
    assert response.json()["status"] == "error"
    assert response.json()["tasks"] == "error"
    assert response.json()["database"] == "ok"


def test_it_refuses_other_methods(client):
    assert client.post("/healthz").status_code == 405
