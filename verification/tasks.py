"""The background tasks' entry points; the work is done elsewhere:

- `verify` (provider lane): verification.verifying
- `send_email` (email lane): verification.outbox
- `tell_operators_budget_spent` (email lane): verification.budget
- `recover`, `sweep` (housekeeping lane): verification.recovery
- `retention_pass` (housekeeping lane, daily): verification.retention
- `clear_sessions` (housekeeping lane, every few hours): Django's clearsessions
- `deliver_webhook` (webhook lane), `expire_session` (housekeeping lane):
  verification.integrations

Each is safe to run twice and at any time: it acts only on a row in the state it
expects, so duplicate and late tasks do nothing.
"""

from __future__ import annotations

from datetime import date

from django.core.management import call_command
from django.tasks import task

from verification import budget, outbox, queue, recovery, retention, verifying
from verification.integrations import sessions, webhooks


@task(queue_name="provider")
def verify(attempt_id: int) -> None:
    verifying.verify_attempt(attempt_id=attempt_id)


@task(queue_name="email")
def send_email(email_id: int) -> None:
    outbox.send_email(email_id=email_id)


@task(queue_name="housekeeping")
def recover(attempt_id: int) -> None:
    recovery.recover_attempt(attempt_id=attempt_id)


@task(queue_name="housekeeping")
def sweep() -> None:
    """Every queue.SWEEP_EVERY while anything is in flight: recover what stalled
    (see verification.recovery), and drop the queue's finished records after a
    week."""
    recovery.sweep()
    call_command("prune_db_task_results", min_age_days=7, queue_name="*", verbosity=0)
    retention.schedule()  # the daily retention pass, kept coming
    queue.schedule_clear_sessions()
    if recovery.in_flight():
        queue.schedule_sweep()


@task(queue_name="housekeeping")
def retention_pass() -> None:
    """Daily: apply the retention periods (see verification.retention), and come
    back tomorrow."""
    retention.apply_retention()
    retention.schedule()


@task(queue_name="housekeeping")
def clear_sessions() -> None:
    """Every queue.CLEAR_SESSIONS_EVERY: delete the sessions past their expiry
    (an applicant's browser id and attempt codes, a reviewer's login), and come
    back."""
    call_command("clearsessions", verbosity=0)
    queue.schedule_clear_sessions()


@task(queue_name="webhook")
def deliver_webhook(delivery_id: int) -> None:
    webhooks.send_delivery(delivery_id=delivery_id)


@task(queue_name="housekeeping")
def expire_session(session_id: int) -> None:
    sessions.expire(session_id=session_id)


@task(queue_name="email")
def tell_operators_budget_spent(day: str) -> None:
    """Once a day at most: the email to ADMINS that the day's budget of provider
    calls is spent (see verification.budget)."""
    budget.tell_operators(day=date.fromisoformat(day))
