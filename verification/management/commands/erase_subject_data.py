"""Erase a person's data on request, keeping the minimal audit record and the
fact of the erasure.

    manage.py erase_subject_data --nik - --reference DSR-2026-0043 \
        --operator "Dewi (privacy officer)" [--wait 300] [--yes]

Attempts still with the provider are waited for (up to --wait seconds); an attempt
waiting for a reviewer's decision must be decided first.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from verification import subjects
from verification.management.subject_options import add_subject_options, read_nik


class Command(BaseCommand):
    help = "Erase everything held about a NIK except the minimal audit record."

    def add_arguments(self, parser):
        add_subject_options(parser)
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            help="Seconds to wait for attempts still being verified (default: refuse).",
        )
        parser.add_argument(
            "--yes", action="store_true", help="Do not ask for confirmation."
        )

    def handle(self, *args, **options):
        applicant = subjects.find_applicant(read_nik(options))
        if applicant is None:
            raise CommandError(str(subjects.MESSAGES["no_applicant"]))
        attempts = applicant.attempts.count()
        if not options["yes"]:
            answer = input(
                f"Erase applicant {applicant.masked_nik} and {attempts} attempt(s)? "
                "This cannot be undone. [y/N] "
            )
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("Nothing was erased.")
        try:
            record = subjects.erase(
                applicant=applicant,
                reference=options["reference"],
                performed_by_name=options["operator"],
                wait=timedelta(seconds=options["wait"]),
            )
        except subjects.ErasureRefused as refused:
            raise CommandError(f"Nothing was erased: {refused}") from refused
        counts = record.counts
        self.stdout.write(
            f"Erased applicant {record.masked_nik}: {counts['attempts']} attempt(s), "
            f"{counts['photos']} photo(s), {counts['decisions']} decision note(s), "
            f"{counts['drafts']} draft(s). Recorded as request {record.code}."
        )
