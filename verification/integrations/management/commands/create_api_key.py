"""`manage.py create_api_key NAME [--webhook-url URL]`: a new API key for an
integrator, printed once with its webhook signing secret."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from verification.integrations import keys, targets


class Command(BaseCommand):
    help = (
        "Create an API key for an integrator. The key and its webhook signing "
        "secret are printed once: only the key's hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the integrator's name, as applicants know it")
        parser.add_argument(
            "--webhook-url",
            default="",
            help="where session.updated webhooks are posted (https; http only for "
            "localhost on the embedded defaults)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("NAME must be 1 to 100 characters.")
        url = options["webhook_url"].strip()
        problem = targets.url_problem(url) if url else None
        if problem:
            raise CommandError(f"--webhook-url: {problem}")
        made = keys.make_key(name=name, webhook_url=url)
        self.stdout.write(f"API key for {name} (shown once, keep it secret):")
        self.stdout.write(f"  {made.key}")
        self.stdout.write("Webhook signing secret (verify webhook-signature with it):")
        self.stdout.write(f"  {made.webhook_secret}")
        if not url:
            self.stdout.write("No webhook URL: poll GET /api/v1/sessions/<id>.")
