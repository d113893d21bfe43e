"""Apply the retention periods now (the worker also does it daily) and print what
was removed: counts, never values."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from verification.retention import apply_retention


class Command(BaseCommand):
    help = "Delete photos and redact identity data past their retention periods."

    def handle(self, *args, **options):
        run = apply_retention()
        self.stdout.write(
            f"Photos deleted: {run.photos_deleted}; attempts redacted: "
            f"{run.attempts_redacted}; applicants redacted: {run.applicants_redacted}; "
            f"decision notes redacted: {run.decisions_redacted}."
        )
