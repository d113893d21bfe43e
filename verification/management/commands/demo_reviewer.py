"""Create (or refresh) the local demo reviewer account and print how to log in.

For local installs only: the password is random, kept in DATA_DIR with owner-only
permissions, and printed on every run so the person who started the app can log in.
Production mode refuses to create it.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from verification.reviews import REVIEWERS_GROUP

USERNAME = "reviewer"


class Command(BaseCommand):
    help = "Create the local demo reviewer account and print its credentials."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError(
                "The demo reviewer is for local installs; production mode refuses it. "
                "Create reviewers with `manage.py createsuperuser` or in the admin."
            )
        path = settings.DATA_DIR / "demo-reviewer-password"
        if path.is_file():
            password = path.read_text().strip()
        else:
            password = secrets.token_urlsafe(12)
            settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(password)
            path.chmod(0o600)

        user, _ = get_user_model().objects.get_or_create(username=USERNAME)
        user.is_staff = True
        user.is_active = True
        if not user.check_password(password):
            user.set_password(password)
        user.save()
        group = Group.objects.filter(name=REVIEWERS_GROUP).first()
        if group:
            user.groups.add(group)

        self.stdout.write(
            f"Demo reviewer for /admin/: username {USERNAME!r}, password {password!r}"
        )
