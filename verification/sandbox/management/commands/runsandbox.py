"""Serve only the built-in Kredibel sandbox, at the provider's own paths.

`manage.py runsandbox [addr:port]` (default 127.0.0.1:9000) answers
`POST http://addr:port/v1/certificate/issuance` like the provider's sandbox, so the
application (or a load run) can use `KREDIBEL_BASE_URL=http://addr:port`. Every fault
of `verification.sandbox.faults.Faults` has an option. Ctrl-C or SIGTERM stops it.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from verification.addrport import base_url, split_addrport
from verification.sandbox.answers import Sandbox
from verification.sandbox.faults import FAILURE_STATUSES, Faults
from verification.sandbox.server import make_server

DEFAULT_ADDRPORT = "127.0.0.1:9000"


class Command(BaseCommand):
    help = (
        "Serve only the built-in Kredibel sandbox (POST /v1/certificate/issuance), "
        "with optional faults; Ctrl-C stops it."
    )
    # It needs no database and no checks; it must start fast for tests and loads.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "addrport",
            nargs="?",
            default=DEFAULT_ADDRPORT,
            help=f"address:port or port to listen on (default {DEFAULT_ADDRPORT}; "
            "port 0 picks a free one)",
        )
        parser.add_argument(
            "--api-key",
            help="the key clients must send (default: settings.KREDIBEL_API_KEY)",
        )
        parser.add_argument(
            "--latency", type=float, default=0.0, help="seconds added to every answer"
        )
        parser.add_argument(
            "--failure-rate",
            type=float,
            default=0.0,
            help="share of requests (0..1) answered with --failure-status",
        )
        parser.add_argument(
            "--failure-status",
            type=int,
            default=500,
            choices=FAILURE_STATUSES,
            help="status of a failed answer (default 500)",
        )
        parser.add_argument(
            "--retry-after",
            type=int,
            default=1,
            help="Retry-After seconds sent with a 429 (default 1)",
        )
        parser.add_argument(
            "--down-for-seconds",
            type=float,
            default=0.0,
            help="fail every request during the first N seconds after start",
        )
        parser.add_argument(
            "--down-for-requests",
            type=int,
            default=0,
            help="fail the first N requests",
        )
        parser.add_argument(
            "--stall",
            type=float,
            default=0.0,
            help="seconds to wait before answering (to provoke read timeouts)",
        )
        parser.add_argument(
            "--malformed",
            action="store_true",
            help="answer successes with a 200 whose body is not the documented JSON",
        )
        parser.add_argument(
            "--seed",
            type=int,
            help="seed for the random failures, so that a run can be repeated",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            host, port = split_addrport(options["addrport"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            faults = Faults(
                latency=options["latency"],
                failure_rate=options["failure_rate"],
                failure_status=options["failure_status"],
                retry_after=options["retry_after"],
                down_for_seconds=options["down_for_seconds"],
                down_for_requests=options["down_for_requests"],
                stall=options["stall"],
                malformed=options["malformed"],
                seed=options["seed"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        api_key = options["api_key"]
        if api_key is None:
            api_key = settings.KREDIBEL_API_KEY
            # The configured key may be a real one: show only the documented
            # sandbox default.
            shown_key = (
                api_key
                if api_key == settings.SANDBOX_API_KEY
                else "the value of KREDIBEL_API_KEY"
            )
        else:
            shown_key = api_key
        if not api_key:
            raise CommandError("The API key is empty; pass --api-key.")

        try:
            server = make_server(host, port, Sandbox(api_key=api_key, faults=faults))
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc}") from exc

        url = base_url(host, server.server_address[1])
        self.stdout.write(f"Kredibel sandbox at {url}")
        self.stdout.write(f"Endpoint: POST {url}/v1/certificate/issuance")
        self.stdout.write(f"API key: {shown_key} (Authorization: Bearer <key>)")
        self.stdout.write(f"Faults: {faults.describe()}")
        self.stdout.write(
            f"Use KREDIBEL_BASE_URL={url} in the application. Press Ctrl-C to stop."
        )
        self.stdout.flush()

        def stop(signum: int, frame: object) -> None:
            # shutdown() waits for serve_forever() to return, so it cannot run in
            # the main thread, which is the one serving.
            threading.Thread(target=server.shutdown, daemon=True).start()

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, stop)
        try:
            server.serve_forever()
        finally:
            server.server_close()
        self.stdout.write("Kredibel sandbox stopped.")
