"""The operator's health check: does the database answer, does the task queue
answer and keep up, is any attempt stuck."""

from __future__ import annotations

from contextlib import nullcontext

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from verification import budget, gate, queue, recovery


def _database_answers() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def _task_queue() -> tuple[dict[str, object], list[str]]:
    """The queue's numbers, and those past their threshold, by name."""
    loads = queue.lane_loads()
    due = sum(load.due for load in loads.values())
    oldest = max(load.oldest_due_seconds for load in loads.values())
    stuck = recovery.stuck_attempts()
    late = [
        name
        for name, value, limit in (
            ("oldest_due_seconds", oldest, settings.HEALTH_MAX_TASK_WAIT_SECONDS),
            ("tasks_due", due, settings.HEALTH_MAX_TASKS_DUE),
            ("attempts_stuck", stuck, settings.HEALTH_MAX_STUCK_ATTEMPTS),
        )
        if value > limit
    ]
    numbers = {
        "tasks_due": due,
        "oldest_due_seconds": oldest,
        "queues": {
            lane: {"due": load.due, "oldest_due_seconds": load.oldest_due_seconds}
            for lane, load in loads.items()
        },
        "attempts_stuck": stuck,
        "provider_circuit": gate.state(),
        "daily_budget": _daily_budget(),
    }
    return numbers, late


def _daily_budget() -> str:
    """`spent` while the day's budget of provider calls is used up (attempts wait,
    as meant: not a reason for a 503), `ok` before, `none` without a budget."""
    if not settings.DAILY_VERIFICATION_BUDGET:
        return "none"
    return "spent" if budget.spent() else "ok"


def _guarded():
    # Inside a surrounding transaction a failed query would poison it (PostgreSQL);
    # a savepoint keeps the failure to this check.
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with a small JSON body when the database and the task queue answer and
    the queue keeps up; 503 otherwise. The body names what failed, never why (no
    internals leak).

    `tasks_due` counts tasks that could run now and `oldest_due_seconds` is how
    long the oldest has waited (also per lane, under `queues`); `attempts_stuck`
    counts attempts verifying well past their lease, which nobody is recovering.
    Past HEALTH_MAX_TASK_WAIT_SECONDS, HEALTH_MAX_TASKS_DUE or
    HEALTH_MAX_STUCK_ATTEMPTS the answer is 503 with `late` naming which: no worker
    is taking the tasks, or not fast enough. `provider_circuit` is open while the
    provider is failing and attempts wait for it; `daily_budget` is `spent` while
    the day's DAILY_VERIFICATION_BUDGET is used up and attempts wait for the next
    day (`ok` before, `none` without a budget).
    """
    body: dict[str, object] = {"status": "ok", "database": "ok", "tasks": "ok"}
    try:
        with _guarded():
            _database_answers()
    except DatabaseError:
        body["database"] = "error"
    late: list[str] = []
    try:
        with _guarded():
            numbers, late = _task_queue()
            body.update(numbers)
    except DatabaseError:
        body["tasks"] = "error"
    if "error" in (body["database"], body["tasks"]):
        body["status"] = "error"
        return JsonResponse(body, status=503)
    if late:
        body["status"] = "late"
        body["late"] = late
        return JsonResponse(body, status=503)
    return JsonResponse(body)
