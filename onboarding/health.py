"""The operator's health check: does the database answer, does the task queue answer."""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_tasks_db.models import DBTaskResult, get_date_max


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
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        body["database"] = "error"
    try:
        due = DBTaskResult.objects.ready()
        body["tasks_due"] = due.count()
        oldest = due.order_by("enqueued_at").values("enqueued_at", "run_after").first()
        body["oldest_due_seconds"] = 0
        if oldest:
            since = oldest["enqueued_at"]
            if oldest["run_after"] != get_date_max():
                since = max(since, oldest["run_after"])
            body["oldest_due_seconds"] = round((timezone.now() - since).total_seconds())
    except DatabaseError:
        body["tasks"] = "error"
    healthy = body["database"] == "ok" and body["tasks"] == "ok"
    if not healthy:
        body["status"] = "error"
    return JsonResponse(body, status=200 if healthy else 503)
