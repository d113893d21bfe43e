"""Drain N queued attempts through the real worker against the stand-alone sandbox
at a given provider latency, and compare with the worker this replaced.

    DATABASE_URL=postgres://user@host:5432/scratch uv run python bench/drain.py \\
        [--attempts 200] [--latency 1.0] [--baseline-attempts 40]

THE DATABASE IS EMPTIED FIRST (migrate, then flush): give it a scratch database.
Without DATABASE_URL it uses a temporary SQLite file.

What it measures, in one run:

1. `manage.py serve` with its defaults (web server and one `manage.py worker`) drains
   `--attempts` attempts queued before it starts: attempts per second from the first
   provider call to the last attempt finished, and the duplicate purchases (calls
   beyond one charged answer per attempt).
2. Idle latency: with the worker idle, one attempt at a time from being queued to
   being finished, five times; what is left after the provider's latency is ours.
3. The baseline, the same way: two `manage.py db_worker` processes (django_tasks_db's
   worker, one task at a time each, polling every second), which is what ran before,
   on `--baseline-attempts` attempts.

Prints a table for the README; exits 1 when the drain is below TARGET_PER_SECOND at
a one-second latency on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MANAGE = [sys.executable, str(ROOT / "manage.py")]
TARGET_PER_SECOND = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--baseline-attempts", type=int, default=40)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch}/db.sqlite3")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "onboarding.settings",
            "DATA_DIR": str(scratch),
            "PRIVATE_MEDIA_ROOT": str(scratch / "private"),
            "ATTEMPTS_PER_NIK_PER_DAY": str(10**6),
            "VERIFICATIONS_PER_IP_PER_HOUR": str(10**6),
            "DAILY_VERIFICATION_BUDGET": "0",
            "EMAIL_URL": "dummymail://",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    subprocess.run([*MANAGE, "migrate", "-v", "0"], check=True)
    subprocess.run([*MANAGE, "flush", "--no-input", "-v", "0"], check=True)

    import django

    django.setup()
    from django.db import connection

    vendor = connection.vendor
    sandbox = subprocess.Popen(
        [*MANAGE, "runsandbox", "127.0.0.1:0", "--latency", str(args.latency)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        first = sandbox.stdout.readline() if sandbox.stdout else ""
        url = first.split(" at ", 1)[1].strip()
        os.environ["KREDIBEL_BASE_URL"] = url
        photos = make_photos()
        ours = drain_with_serve(args.attempts, photos)
        idle = idle_latency(photos, runs=5)
        base = drain_with(
            [[*MANAGE, "db_worker", "--queue-name", "*", "--no-reload"]] * 2,
            args.baseline_attempts,
            photos,
        )
    finally:
        sandbox.send_signal(signal.SIGTERM)
        sandbox.wait(timeout=30)

    print(f"Database: {vendor}; provider latency {args.latency:.1f} s")
    print("| what | attempts | per second | duplicate purchases |")
    print("| --- | --- | --- | --- |")
    print(
        f"| `serve` (one `manage.py worker`, defaults) | {args.attempts} | "
        f"{ours[0]:.1f} | {ours[1]} |"
    )
    print(
        f"| baseline: two `db_worker`s | {args.baseline_attempts} | "
        f"{base[0]:.2f} | {base[1]} |"
    )
    print(f"Ratio: {ours[0] / base[0]:.1f}x")
    print(
        f"Idle latency, queued to finished: median {statistics.median(idle):.2f} s "
        f"(max {max(idle):.2f} s), of which the provider {args.latency:.1f} s"
    )
    slow = vendor == "postgresql" and args.latency == 1.0
    return 1 if slow and ours[0] < TARGET_PER_SECOND else 0


def make_photos() -> tuple[bytes, bytes]:
    from onboarding.demo_photos import Look, ktp_jpeg, selfie_jpeg
    from onboarding.images import prepare_identity, prepare_selfie

    look = Look.pick(random.Random(7))
    selfie = prepare_selfie(selfie_jpeg(look)).data
    ktp = prepare_identity(
        ktp_jpeg(look, nik="9912345678901234", name="BENCH", birth="01-01-1990")
    ).data
    return selfie, ktp


def submit(count: int, photos: tuple[bytes, bytes]) -> list[int]:
    from verification.submission import submit_attempt

    rng = random.Random()
    made = []
    for _ in range(count):
        attempt, _ = submit_attempt(
            nik="99" + "".join(rng.choice("0123456789") for _ in range(14)),
            full_name="BENCH APPLICANT",
            birth_date=date(1990, 1, 1),
            email_address="bench@example.com",
            phone_number="6281234567890",
            face_image=photos[0],
            identity_image=photos[1],
            consent_version="bench",
            language="id",
            submission=uuid.uuid4(),
            browser="bench",
        )
        made.append(attempt.pk)
    return made


def wait_until_finished(ids: list[int], timeout: float) -> None:
    from verification.models import Attempt

    deadline = time.monotonic() + timeout
    while Attempt.objects.filter(pk__in=ids, finished_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise SystemExit("The attempts did not finish in time.")
        time.sleep(0.01)


def measure(ids: list[int]) -> tuple[float, int]:
    """(attempts per second from the first call to the last finish, duplicates)."""
    from django.db.models import Max, Min

    from verification.models import Attempt, ProviderCall

    calls = ProviderCall.objects.filter(attempt_id__in=ids)
    first = calls.aggregate(Min("started_at"))["started_at__min"]
    last = Attempt.objects.filter(pk__in=ids).aggregate(Max("finished_at"))[
        "finished_at__max"
    ]
    paid = calls.filter(charged="yes").count()
    answered = calls.filter(charged="yes").values("attempt_id").distinct().count()
    return len(ids) / (last - first).total_seconds(), paid - answered


def drain_with(commands: list[list[str]], count: int, photos) -> tuple[float, int]:
    ids = submit(count, photos)
    processes = [
        subprocess.Popen(
            command,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for command in commands
    ]
    try:
        wait_until_finished(ids, timeout=30 + count * 5)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=120)
    return measure(ids)


_serve: subprocess.Popen | None = None


def drain_with_serve(count: int, photos) -> tuple[float, int]:
    global _serve
    ids = submit(count, photos)
    _serve = subprocess.Popen(
        [*MANAGE, "serve", f"127.0.0.1:{free_port()}"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_finished(ids, timeout=30 + count * 2)
    return measure(ids)


def idle_latency(photos, runs: int) -> list[float]:
    """serve is still running, idle: one attempt at a time."""
    from verification.models import Attempt

    took = []
    try:
        for _ in range(runs):
            time.sleep(1)  # idle: the worker has nothing to do
            start = time.monotonic()
            (attempt_id,) = submit(1, photos)
            while not Attempt.objects.filter(
                pk=attempt_id, finished_at__isnull=False
            ).exists():
                time.sleep(0.005)
            took.append(time.monotonic() - start)
    finally:
        if _serve is not None:
            os.killpg(_serve.pid, signal.SIGTERM)
            _serve.wait(timeout=120)
    return took


if __name__ == "__main__":
    sys.exit(main())
