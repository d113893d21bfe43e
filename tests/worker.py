"""The background worker, run in the test process and thread: every due task, one
after the other, with the production worker's claim and run (so a test sees the
same records), until nothing more is due. Tasks the provider gate holds back wait,
as they would in the worker."""

from __future__ import annotations

from verification import queue
from verification.worker import claim_due, run_task

# Far more than any test queues: a task that queued itself forever would be a bug.
MOST_TASKS = 1000


def run_worker() -> int:
    """Run every task that is due, in this thread; returns how many ran."""
    ran = 0
    while rows := claim_due(queue.LANES, limit=1, worker_id="test-process"):
        run_task(rows[0])
        ran += 1
        assert ran < MOST_TASKS, "tasks keep queueing themselves"
    return ran
