"""Check the audit trail: every review decision and its four-eyes steps, every view
of an identity photo, every data-subject request, key rotation and redaction, as
written, and none missing.

    manage.py verify_audit_chain
    manage.py verify_audit_chain --anchor 1234:9f86d08...   # a head noted before

Prints the number of records and the chain's head (its place and hash: note them
to check against later); exits 1 naming the first record that was changed,
removed or inserted.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from verification import audit


class Command(BaseCommand):
    help = "Check that no audit record was changed, removed or inserted."

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="PLACE:HASH",
            help="A place and hash printed by an earlier run: the chain must still "
            "pass through it (repeat for several).",
        )

    def handle(self, *args, **options):
        try:
            anchors = [audit.parse_anchor(value) for value in options["anchor"]]
        except ValueError as error:
            raise CommandError(
                "--anchor takes PLACE:HASH, as printed by a run."
            ) from error
        report = audit.verify(anchors=anchors)
        self.stdout.write(f"Records checked: {report.records}")
        self.stdout.write(f"Head: {report.head_seq}:{report.head_hash}")
        if report.intact:
            self.stdout.write(
                self.style.SUCCESS(
                    "The audit trail is intact: every record is as it was written "
                    "and none is missing."
                )
            )
            return
        for finding in report.findings[:50]:
            self.stderr.write(str(finding))
        if len(report.findings) > 50:
            self.stderr.write(f"... and {len(report.findings) - 50} more.")
        raise CommandError(f"The audit trail was tampered with. First: {report.first}.")
