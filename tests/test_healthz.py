from __future__ import annotations

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

pytestmark = pytest.mark.django_db


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
    }
    assert "no-cache" in response["Cache-Control"]


def test_it_counts_tasks_waiting_for_a_worker(client):
    from tests.tasks_for_tests import noop

    noop.enqueue()

    body = client.get("/healthz").json()

    assert body["tasks_due"] == 1
    assert DBTaskResult.objects.count() == 1


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
