"""Recover what stalled, now: attempts whose task was lost or whose worker stopped,
answers saved but never applied, task rows and emails left half-done by a worker
that died, photo folders without their attempt (verification.recovery). Also makes
sure the periodic sweep that does the same, the daily retention pass and the
clearing of expired sessions are scheduled.

`manage.py serve` runs it before starting its worker. Where workers are run by other
means, run it when they start or from cron: it is safe to run any time, from
anywhere.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from verification import outbox, recovery, retention
from verification.queue import schedule_clear_sessions, schedule_sweep


class Command(BaseCommand):
    help = (
        "Recover what stalled: attempts whose task was lost or whose worker "
        "stopped, and what a dead worker left half-done."
    )

    def handle(self, *args, **options):
        tasks = recovery.finish_abandoned_tasks()
        attempts = recovery.recover_stalled_attempts()
        emails = outbox.finish_abandoned() + outbox.queue_forgotten(
            older_than=recovery.STALLED_AFTER
        )
        folders = recovery.remove_orphan_photos()
        schedule_sweep()
        retention.schedule()
        schedule_clear_sessions()
        if attempts or tasks or emails or folders or options["verbosity"] > 1:
            self.stdout.write(
                f"Queued {attempts} stalled attempt(s) again; finished {tasks} "
                f"abandoned task(s); {emails} email(s) recovered; removed "
                f"{folders} orphan photo folder(s)."
            )
