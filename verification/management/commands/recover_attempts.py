"""Queue again every attempt that should be moving and is not, and make sure the
periodic sweep that does the same, and the daily retention pass, are scheduled.

`manage.py serve` runs it before starting its worker. Where workers are run by other
means, run it when they start: it is safe to run any time, from anywhere.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from verification import retention
from verification.tasks import recover_stalled_attempts, schedule_sweep


class Command(BaseCommand):
    help = "Queue again attempts whose task was lost or whose worker stopped."

    def handle(self, *args, **options):
        count = recover_stalled_attempts()
        schedule_sweep()
        retention.schedule()
        if count or options["verbosity"] > 1:
            self.stdout.write(f"Queued {count} stalled attempt(s) again.")
