"""Run the web server and one background worker together; Ctrl-C stops both.

With DEBUG on (the embedded default) the web server is Django's development server;
in production mode it is gunicorn with threaded workers whose reads give up
(onboarding.webserver): WEB_WORKERS processes of WEB_THREADS threads, so that a
dozen slow clients leave everyone else served. Either way one `manage.py worker`
runs beside it, with its lanes for provider calls, emails and housekeeping. If one
of the two stops on its own, the other is stopped too and the command exits
non-zero, so a process supervisor notices.

On SIGTERM, SIGINT or SIGHUP both get SIGTERM and up to STOP_GRACE_SECONDS to
finish: the worker completes the provider calls it is in (each ends by its
deadline) and saves their answers, so a deploy never buys an answer twice. A
supervisor must allow at least that long before it kills (systemd
`TimeoutStopSec`, a container platform's termination grace period).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from verification.addrport import base_url, split_addrport


def stop_grace_seconds() -> float:
    """How long `serve` waits for its children after SIGTERM: the worker's grace
    (a call's deadline and the time to save its answer) and a margin."""
    return settings.WORKER_STOP_GRACE_SECONDS + 5


class Command(BaseCommand):
    help = "Run the web server and one background worker; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument(
            "addrport",
            nargs="?",
            help="address:port or port to listen on (default 127.0.0.1:$PORT)",
        )
        parser.add_argument(
            "--gunicorn-workers",
            type=int,
            default=None,
            help="gunicorn worker processes in production mode (default WEB_WORKERS)",
        )

    def handle(
        self, *args, addrport: str | None, gunicorn_workers: int | None, **options
    ):
        try:
            host, port = split_addrport(addrport or str(settings.PORT))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        python = sys.executable
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if settings.DEBUG:
            web = [python, manage, "runserver", bind]
        else:
            web = [
                python, "-m", "gunicorn", "onboarding.wsgi",
                "--bind", bind,
                # From any directory, the project's modules are found.
                "--chdir", str(settings.BASE_DIR),
                "--workers", str(gunicorn_workers or settings.WEB_WORKERS),
                "--worker-class", "onboarding.webserver.ThreadWorker",
                "--threads", str(settings.WEB_THREADS),
                "--access-logfile", "-",
            ]  # fmt: skip
        worker = [python, manage, "worker"]
        # Attempts left behind by a previous run that stopped mid-way.
        call_command("recover_attempts", verbosity=options["verbosity"])

        # Children read the port so the embedded sandbox address follows it.
        env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
        # Each child leads its own process group, so stopping it also stops the
        # helper processes it starts (the autoreloader's child, gunicorn workers).
        children = {
            "web server": subprocess.Popen(web, env=env, start_new_session=True),  # noqa: S603
            "worker": subprocess.Popen(worker, env=env, start_new_session=True),  # noqa: S603
        }
        self.stdout.write(
            f"Onboarding is running at {base_url(host, port)}/ "
            "with one background worker. Press Ctrl-C to stop both."
        )
        self.stdout.flush()

        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, request_stop)

        exited = None
        while not stopping and exited is None:
            for name, process in children.items():
                if process.poll() is not None:
                    exited = name
                    break
            time.sleep(0.2)

        self._stop(children)
        if exited:
            raise CommandError(
                f"The {exited} stopped; the other process was stopped too."
            )
        self.stdout.write("Stopped the web server and the worker.")

    def _stop(self, children: dict[str, subprocess.Popen]) -> None:
        for process in children.values():
            if process.poll() is None:
                self._signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + stop_grace_seconds()
        for process in children.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal_group(process, signal.SIGKILL)
                process.wait()
            # Whatever the leader left behind in its group goes too.
            self._signal_group(process, signal.SIGKILL)

    @staticmethod
    def _signal_group(process: subprocess.Popen, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
