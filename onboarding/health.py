"""The operator's health check: does the database answer, does the task queue answer."""

from __future__ import annotations

from contextlib import nullcontext

from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_tasks_db.models import DBTaskResult, get_date_max


def _database_answers() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def _task_queue() -> dict[str, int]:
    due = DBTaskResult.objects.ready()
    oldest = due.order_by("enqueued_at").values("enqueued_at", "run_after").first()
    oldest_seconds = 0
    if oldest:
        since = oldest["enqueued_at"]
        if oldest["run_after"] != get_date_max():
            since = max(since, oldest["run_after"])
        oldest_seconds = round((timezone.now() - since).total_seconds())
    return {"tasks_due": due.count(), "oldest_due_seconds": oldest_seconds}


def _guarded():
    # Inside a surrounding transaction a failed query would poison it (PostgreSQL);
    # a savepoint keeps the failure to this check.
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with a small JSON body when the database and the task queue answer,
    503 otherwise. The body names what failed, never why (no internals leak).

    `tasks_due` counts tasks that could run now; a number that keeps growing, or an
    `oldest_due_seconds` that keeps rising, means no worker is taking them.
    """
    body: dict[str, object] = {"status": "ok", "database": "ok", "tasks": "ok"}
    try:
        with _guarded():
            _database_answers()
    except DatabaseError:
        body["database"] = "error"
    try:
        with _guarded():
            body.update(_task_queue())
    except DatabaseError:
        body["tasks"] = "error"
    if "error" in (body["database"], body["tasks"]):
        body["status"] = "error"
        return JsonResponse(body, status=503)
    return JsonResponse(body)
