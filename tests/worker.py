"""The background worker, run in the test process."""

from __future__ import annotations

from verification.tasks import run_due_tasks


def run_worker() -> None:
    """Run every task that is due, in this process."""
    run_due_tasks()
