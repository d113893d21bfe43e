"""Export everything held about a person as one ZIP archive, and record it.

    manage.py export_subject_data --nik - --reference DSR-2026-0042 \
        --operator "Dewi (privacy officer)" --output dsr-0042.zip

`--nik -` reads the NIK from standard input (or a prompt), so that it stays out of
the shell's history and the process list.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from verification import subjects
from verification.management.subject_options import add_subject_options, read_nik


class Command(BaseCommand):
    help = (
        "Export everything held about a NIK: data, attempts, decisions, photo "
        "views and photos."
    )

    def add_arguments(self, parser):
        add_subject_options(parser)
        parser.add_argument(
            "--output", required=True, help="Path of the ZIP archive to write."
        )

    def handle(self, *args, **options):
        applicant = subjects.find_applicant(read_nik(options))
        if applicant is None:
            raise CommandError(str(subjects.MESSAGES["no_applicant"]))
        output = Path(options["output"])
        if output.exists():
            raise CommandError(f"{output} exists; choose a new file.")
        with output.open("xb") as target:
            output.chmod(0o600)
            record = subjects.export_archive(
                target,
                applicant=applicant,
                reference=options["reference"],
                performed_by_name=options["operator"],
            )
        self.stdout.write(
            f"Wrote {output}: {record.counts['attempts']} attempt(s), "
            f"{record.counts['photos']} photo(s). Recorded as request {record.code}."
        )
