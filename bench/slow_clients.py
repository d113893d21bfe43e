"""A visitor's start page while twelve slow clients hold connections, on 127.0.0.1.

    uv run python bench/slow_clients.py [--visits 30]

Starts `manage.py serve` in production mode (gunicorn, threaded workers whose reads
give up; nothing in front) on a scratch SQLite database, and measures a visitor's
`GET /`: first alone, then while 12 slow clients are connected (6 trickling a
request head a byte every half second, 6 trickling an 8.8 MB form upload at 128 KB/s).
For comparison, in the same run, the web server as `serve` ran it before: gunicorn's
default synchronous workers (2), where the same slow clients hold every worker; each
of its visits gives up after --give-up seconds.

Everything goes to 127.0.0.1 only; every loop is bounded in count and time (about
40 seconds in all). Prints p50/p95 for each case and the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.front_door import (  # noqa: E402
    HOST,
    MANAGE,
    SlowClients,
    free_port,
    production_serve,
    serve_env,
)
from tests.production import PRODUCTION_ENV  # noqa: E402

SLOW_HEADS = 6
SLOW_BODIES = 6


def visits(url: str, count: int, give_up: float) -> tuple[list[float], int]:
    """`count` visits of `url`, one after the other: the seconds each took, and
    how many gave up after `give_up` seconds."""
    took, gave_up = [], 0
    with requests.Session() as visitor:
        for _ in range(count):
            start = time.perf_counter()
            try:
                answer = visitor.get(url, timeout=give_up)
                answer.raise_for_status()
                took.append(time.perf_counter() - start)
            except requests.RequestException:
                gave_up += 1
    return took, gave_up


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def line(name: str, took: list[float], gave_up: int) -> str:
    if not took:
        return f"{name:<58} every visit gave up ({gave_up})"
    p50, p95 = statistics.median(took) * 1000, percentile(took, 0.95) * 1000
    return (
        f"{name:<58} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
        f"({len(took)} served, {gave_up} gave up)"
    )


def with_slow_clients(port: int, run) -> tuple[list[float], int, int]:
    slow = SlowClients(
        port, heads=SLOW_HEADS, bodies=SLOW_BODIES, body_rate=128_000
    ).start()
    try:
        time.sleep(1)  # let every slow client get its request under way
        took, gave_up = run()
        connected = slow.open_count()
    finally:
        slow.stop()
    return took, gave_up, connected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visits", type=int, default=30)
    parser.add_argument("--give-up", type=float, default=3.0)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-slow-clients-"))
    env = serve_env(
        {**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}"},
        scratch,
        LOG_LEVEL="WARNING",
    )
    subprocess.run(
        [*MANAGE, "migrate", "-v", "0"], env=env, check=True, timeout=120, cwd=scratch
    )
    results = []
    with production_serve(env, scratch) as server:
        url = server.url + "/"
        visits(url, 3, args.give_up)  # warm up both processes
        alone = visits(url, args.visits, args.give_up)
        took, gave_up, connected = with_slow_clients(
            server.port, lambda: visits(url, args.visits, args.give_up)
        )
        results.append(line("serve now, alone", *alone))
        results.append(
            line(f"serve now, {connected} slow clients connected", took, gave_up)
        )
        now = (alone[0], took)

    # Before: gunicorn with its default synchronous workers, as serve ran it.
    port = free_port()
    before = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "onboarding.wsgi", "--chdir", str(ROOT),
         "--bind", f"{HOST}:{port}", "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        old_url = f"http://{HOST}:{port}/"
        deadline = time.monotonic() + 30
        while not visits(old_url, 1, 2)[0] and time.monotonic() < deadline:
            time.sleep(0.2)
        old_alone = visits(old_url, args.visits, args.give_up)
        old_took, old_gave_up, old_connected = with_slow_clients(
            port, lambda: visits(old_url, 5, args.give_up)
        )
    finally:
        before.terminate()
        before.wait(timeout=30)
    results.append(line("before (sync workers), alone", *old_alone))
    results.append(
        line(
            f"before (sync workers), {old_connected} slow clients connected",
            old_took,
            old_gave_up,
        )
    )

    print(f"{args.visits} visits of GET / each, 127.0.0.1, {os.cpu_count()} cores")
    for text in results:
        print(text)
    alone_p50, slow_p50 = statistics.median(now[0]), statistics.median(now[1])
    print(f"serve now: p50 with slow clients / alone = {slow_p50 / alone_p50:.2f}")
    print(
        f"before: {old_gave_up} of 5 visits gave up after {args.give_up:g} s "
        "with the slow clients connected"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
