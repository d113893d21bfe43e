"""Remove a staff member's authenticator app (a lost or replaced phone).

    manage.py reset_two_step dewi

Their next login asks for the password, then sets up a new app (a QR code and the
secret) before any admin page opens. Do this only once you know it is really them.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from verification import two_step


class Command(BaseCommand):
    help = "Remove a staff member's authenticator app, so the next login sets one up."

    def add_arguments(self, parser):
        parser.add_argument("username", help="The staff member's username.")

    def handle(self, *args, **options):
        username = options["username"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        removed = two_step.reset(user)
        self.stdout.write(
            f"Removed {removed} authenticator app(s) of {username!r}: the next "
            "login sets up a new one."
        )
