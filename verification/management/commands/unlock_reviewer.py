"""Lift the lock on a reviewer's logins after too many failures.

    manage.py unlock_reviewer dewi
    manage.py unlock_reviewer dewi --address 203.0.113.7   # and that address's

The account's failed logins are forgotten, so the next login starts counting from
zero; with --address, so are the failures counted against that client address
(whatever account they named), which locks a whole office behind one address.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from verification import clients, lockout


class Command(BaseCommand):
    help = "Unlock a reviewer's logins locked after too many failed attempts."

    def add_arguments(self, parser):
        parser.add_argument("username", help="The reviewer's username.")
        parser.add_argument(
            "--address",
            action="append",
            default=[],
            help="Also unlock logins from this client address (repeat for several).",
        )

    def handle(self, *args, **options):
        username = options["username"]
        removed = lockout.unlock(username)
        for address in options["address"]:
            removed += lockout.unlock_address(clients.normalise(address))
        if removed:
            self.stdout.write(
                f"Unlocked {username!r}: {removed} record(s) of failed logins removed."
            )
        else:
            self.stdout.write(f"{username!r} was not locked: no failed logins found.")
