"""Real processes for fault tests: the stand-alone sandbox, workers started as
`manage.py worker` on the test database, a mail server; and waiting for what
they do, with generous deadlines."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.db import connection

from tests.production import SUITE_LIMITS_ENV

BASE_DIR = Path(__file__).resolve().parent.parent
MANAGE = [sys.executable, str(BASE_DIR / "manage.py")]
# The name a fault test's workers give their database connections, so that a test
# can close exactly theirs from the server side.
WORKER_APPLICATION = "ktp-fault-worker"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(
    condition: Callable[[], object], timeout: float = 60, what: str = "it"
) -> None:
    """Poll `condition` until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def database_url(**options: str) -> str:
    """The test database, as a DATABASE_URL another process can open."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{db['NAME']}"
    else:
        user = db["USER"] or "postgres"
        host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
        url = f"postgres://{user}@{host}:{port}/{db['NAME']}"
    query = "&".join(f"{key}={value}" for key, value in options.items())
    return f"{url}?{query}" if query else url


@contextlib.contextmanager
def standalone_sandbox() -> Iterator[str]:
    """`manage.py runsandbox` on a free port; yields its base URL."""
    process = subprocess.Popen(
        [*MANAGE, "runsandbox", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        first = process.stdout.readline() if process.stdout else ""
        url = first.split(" at ", 1)[1].strip()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait_for_log(self, fragment: str, timeout: float = 60) -> None:
        wait_for(lambda: fragment in self.text(), timeout, repr(fragment))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
        self.process.wait(timeout=30)


def private_media_root() -> Path:
    """Where this test's identity photos are kept (see conftest)."""
    storage = cast(dict[str, Any], settings.STORAGES["default"])
    return Path(storage["OPTIONS"]["location"])


def worker_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment of a worker on the test database and the test's private
    media, quick to retry, with short timeouts unless `overrides` say otherwise."""
    vendor = connection.vendor
    options = {"application_name": WORKER_APPLICATION} if vendor == "postgresql" else {}
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "worker-data"),
        "SECRET_KEY": settings.SECRET_KEY,
        # The test process's keys: the worker reads what the tests stored.
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "NIK_LOOKUP_KEY": settings.NIK_LOOKUP_KEY,
        "DATABASE_URL": database_url(**options),
        "PRIVATE_MEDIA_ROOT": str(private_media_root()),
        "KREDIBEL_API_KEY": settings.SANDBOX_API_KEY,
        "KREDIBEL_CONNECT_TIMEOUT": "2",
        "KREDIBEL_READ_TIMEOUT": "10",
        "KREDIBEL_CALL_DEADLINE": "15",
        "VERIFY_LEASE_MARGIN_SECONDS": "10",
        "VERIFY_ANSWER_WRITE_SECONDS": "8",
        "VERIFY_RETRY_BASE_SECONDS": "0",
        "VERIFY_UNKNOWN_DELAY_SECONDS": "0",
        "WORKER_POLL_SECONDS": "0.05",
        "EMAIL_URL": "dummymail://",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        **SUITE_LIMITS_ENV,
    }
    env.update(overrides)
    return env


@contextlib.contextmanager
def worker_process(
    tmp_path: Path, *args: str, name: str = "worker", **env: str
) -> Iterator[WorkerProcess]:
    """`manage.py worker` (with `args`) in its own process; killed on exit if it
    is still running."""
    log = tmp_path / f"{name}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*MANAGE, "worker", *args],
            env=worker_env(tmp_path, **env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    worker = WorkerProcess(process, log)
    try:
        yield worker
    except BaseException:
        # What the worker said goes with the failure's report.
        sys.stderr.write(f"--- {name}'s log ---\n{worker.text()[-20000:]}\n")
        raise
    finally:
        worker.stop()


def run_worker_batch(tmp_path: Path, **env: str) -> None:
    """`manage.py worker --batch` in its own process, to its end."""
    subprocess.run(
        [*MANAGE, "worker", "--batch"],
        env=worker_env(tmp_path, **env),
        check=True,
        timeout=120,
        capture_output=True,
    )


# Mail --------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What a real SMTP server on this machine received."""

    messages: list[Message] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        with self._lock:
            self.messages.append(BytesParser().parsebytes(envelope.original_content))
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        with self._lock:
            return [str(message["Subject"]) for message in self.messages]


@contextlib.contextmanager
def smtp_server(port: int, mailbox: Mailbox) -> Iterator[Mailbox]:
    """An SMTP server (aiosmtpd) on 127.0.0.1:`port` for the block's length."""
    from aiosmtpd.controller import Controller

    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
