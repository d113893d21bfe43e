"""Print a new random key for FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from verification import crypto


class Command(BaseCommand):
    help = "Print a new random encryption key for FIELD_ENCRYPTION_KEYS."
    requires_system_checks: list[str] = []

    def handle(self, *args, **options):
        self.stdout.write(crypto.generate_key())
