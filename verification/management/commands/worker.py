"""Run the background worker: provider calls, emails and housekeeping in lanes of
their own (see verification.worker). `manage.py serve` starts one; on several
hosts run as many as you like, on any host.

SIGTERM or Ctrl-C: take no new task and finish those in hand, for up to
WORKER_STOP_GRACE_SECONDS (the call deadline plus the time to save its answer);
a second signal stops at once. `--batch` runs every due task, then exits.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from verification import queue
from verification.worker import Worker, lanes

logger = logging.getLogger("verification.worker")


class Command(BaseCommand):
    help = (
        "Run the background worker (provider calls, emails, housekeeping); SIGTERM "
        "finishes the tasks in hand first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch",
            action="store_true",
            help="run every task that is due (and those they queue), then exit",
        )
        parser.add_argument(
            "--provider-threads",
            type=int,
            default=0,
            help="provider calls this worker makes at once (default: "
            "WORKER_PROVIDER_THREADS, else 12 per core up to VERIFY_MAX_IN_FLIGHT "
            "on PostgreSQL, 4 on SQLite)",
        )
        parser.add_argument(
            "--email-threads",
            type=int,
            default=0,
            help="emails sent at once (default: WORKER_EMAIL_THREADS, else 2; 1 on "
            "SQLite)",
        )
        parser.add_argument(
            "--poll",
            type=float,
            default=None,
            help="seconds between looks for work while idle (default: "
            "WORKER_POLL_SECONDS)",
        )
        parser.add_argument(
            "--grace",
            type=float,
            default=None,
            help="seconds to finish the tasks in hand after SIGTERM (default: "
            "WORKER_STOP_GRACE_SECONDS)",
        )
        parser.add_argument("--worker-id", help="this worker's name in task records")

    def handle(self, *args: Any, **options: Any) -> None:
        for name in ("provider_threads", "email_threads"):
            if options[name] < 0:
                raise CommandError(f"--{name.replace('_', '-')} must not be negative.")
        worker = Worker(
            lanes(
                provider_threads=options["provider_threads"],
                email_threads=options["email_threads"],
            ),
            worker_id=options["worker_id"],
            poll_seconds=options["poll"],
            batch=options["batch"],
        )
        if options["batch"]:
            worker.run()
            return
        grace = options["grace"]
        if grace is None:
            grace = settings.WORKER_STOP_GRACE_SECONDS

        def stop(signum: int, frame: object) -> None:
            if worker.stopping:
                logger.warning("Second %s: stopping now.", signal.strsignal(signum))
                os._exit(1)
            logger.warning(
                "%s: taking no new task; finishing those in hand (up to %.0f s).",
                signal.strsignal(signum),
                grace,
            )
            worker.stop()

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, stop)
        queue.schedule_sweep()
        if not worker.run(grace=grace):
            raise CommandError("Stopped with tasks still running; recovery takes them.")
        logger.info("Worker %s stopped.", worker.worker_id)
