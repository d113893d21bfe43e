"""Options shared by the data-subject commands."""

from __future__ import annotations

import getpass
import sys

from django.core.management.base import CommandError


def add_subject_options(parser) -> None:
    parser.add_argument(
        "--nik",
        required=True,
        help="The person's NIK, or - to read it from standard input (recommended: "
        "it then stays out of the shell history and the process list).",
    )
    parser.add_argument(
        "--reference",
        required=True,
        help="The request's ticket or letter number (no personal data).",
    )
    parser.add_argument(
        "--operator", required=True, help="Who carries out the request."
    )


def read_nik(options: dict) -> str:
    nik = options["nik"]
    if nik == "-":
        nik = getpass.getpass("NIK: ") if sys.stdin.isatty() else sys.stdin.readline()
    nik = nik.strip()
    if not nik:
        raise CommandError("No NIK given.")
    return nik
