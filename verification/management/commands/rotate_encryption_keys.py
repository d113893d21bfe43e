"""Re-encrypt every identity value and photo under the newest key.

    FIELD_ENCRYPTION_KEYS=NEW,OLD manage.py rotate_encryption_keys
    manage.py rotate_encryption_keys --report   # only look: counts, unreadable records

A rotation that rewrites anything is recorded in the audit trail (KeyRotation).

When it reports nothing unreadable, the old keys can be removed from the list.
"""

from __future__ import annotations

from getpass import getuser

from django.core.management.base import BaseCommand, CommandError

from verification import crypto, rotation


class Command(BaseCommand):
    help = (
        "Re-encrypt identity data and photos under the first FIELD_ENCRYPTION_KEYS key."
    )
    # Its job is to read what the start-up check might refuse.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--operator",
            default="",
            help="Who runs the rotation, for the audit trail (default: the "
            "system user).",
        )
        parser.add_argument(
            "--report",
            action="store_true",
            help="Change nothing: count what is under which key and list every "
            "record the configured keys cannot read.",
        )

    def handle(self, *args, **options):
        report = rotation.rotate(write=not options["report"])
        if not options["report"]:
            rotation.record(report, performed_by=options["operator"] or getuser())
        self.stdout.write(f"Newest key: {crypto.current_key_id()}")
        for line in report.lines():
            self.stdout.write(line)
        for problem in report.problems:
            self.stderr.write(problem)
        if report.problems:
            raise CommandError(
                f"{len(report.problems)} value(s) or file(s) could not be read; keep "
                "the old keys in FIELD_ENCRYPTION_KEYS until they are accounted for."
            )
        if not options["report"]:
            self.stdout.write(
                "Everything is under the newest key: older keys can be removed."
            )
