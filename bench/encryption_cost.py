"""Benchmark what encrypting identity data costs on the submission path and on the
admin's attempt list, against the same code before encryption, in one run.

    uv run python bench/encryption_cost.py [--runs 30] [--turns 6] [--baseline REF]

The baseline is the commit before field encryption came in (found from git history,
or --baseline REF), unpacked into a scratch directory with `git archive`. Each side
runs in its own process on its own scratch SQLite database, in turns (baseline,
encrypted, baseline, encrypted, ...: a busy moment on a shared machine then hits both
sides alike), and measures, with Django's test client:

- the form POST with two 12-megapixel phone photos, no JavaScript (validation, both
  photos prepared and kept: encrypted as drafts);
- the review step's send (the attempt stored with its identity fields and photos
  encrypted, its verification queued);
- the admin's attempt list with 100 attempts on the page (each row's name decrypted).

Times are the process's CPU time per request (`time.process_time`), not the wall
clock: on a shared machine, other work stretches the wall clock of either side at
random, while the CPU a request burns is what encryption adds to. Prints the medians
and p95s and the ratio encrypted / baseline for each. Exits 1 when a median ratio
exceeds TARGET_RATIO.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.10
WARM_UP = 2
LIST_ROWS = 100


def baseline_ref() -> str:
    added = subprocess.run(
        [  # noqa: S607 (git from PATH, as the developer running this has it)
            "git",
            "log",
            "--diff-filter=A",
            "--format=%H",
            "--",
            "verification/crypto.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if not added:
        raise SystemExit("No commit adds verification/crypto.py; pass --baseline REF.")
    return added[-1] + "^"


def unpack(ref: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


# The measuring side: runs inside one tree (baseline or current) ---------------------


def measure(root: Path, runs: int) -> dict[str, list[float]]:
    sys.path.insert(0, str(root))
    sys.path.insert(0, str(root / "bench"))
    scratch = tempfile.mkdtemp(prefix="bench-encryption-")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "onboarding.settings",
            "DATA_DIR": scratch,
            "DATABASE_URL": f"sqlite:///{scratch}/db.sqlite3",
            "ATTEMPTS_PER_NIK_PER_DAY": str(10**6),
            "ATTEMPTS_PER_SESSION": str(10**6),
            "VERIFICATIONS_PER_IP_PER_HOUR": str(10**6),
            "DAILY_VERIFICATION_BUDGET": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    import re

    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.test import Client
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
    from prepare_images import phone_jpeg

    from tests.reviewing import make_attempt

    call_command("migrate", verbosity=0)
    photo = phone_jpeg()
    client = Client(headers={"accept-language": "en"})
    client.get("/register/")

    def body() -> bytes:
        return encode_multipart(
            BOUNDARY,
            {
                "identityId": "1234567890123456",
                "fullName": "Asep Supriyadi",
                "birthDate": "1990-07-06",
                "emailAddress": "asep@example.com",
                "phoneNumber": "0812 3456 7890",
                "consent": "on",
                "submission": str(uuid.uuid4()),
                "faceImage": SimpleUploadedFile("selfie.jpg", photo, "image/jpeg"),
                "identityImage": SimpleUploadedFile("ktp.jpg", photo, "image/jpeg"),
            },
        )

    results: dict[str, list[float]] = {"form": [], "send": [], "list": []}
    bodies = [body() for _ in range(runs + WARM_UP)]
    for index, payload in enumerate(bodies):
        start = time.process_time()
        review = client.generic("POST", "/register/", payload, MULTIPART_CONTENT)
        middle = time.process_time()
        fields = dict(
            re.findall(
                r'<input type="hidden" name="(\w+)" value="([^"]*)"', review.text
            )
        )
        before_send = time.process_time()
        sent = client.post("/register/confirm/", fields)
        end = time.process_time()
        if review.status_code != 200 or sent.status_code != 302:
            raise SystemExit("The submission did not reach the status page.")
        if index >= WARM_UP:
            results["form"].append((middle - start) * 1000)
            results["send"].append((end - before_send) * 1000)

    for _ in range(LIST_ROWS):
        make_attempt()
    admin = Client(headers={"accept-language": "en"})
    admin.force_login(User.objects.create_superuser("bench", "bench@example.com"))
    for index in range(runs + WARM_UP):
        start = time.process_time()
        page = admin.get("/admin/verification/attempt/")
        end = time.process_time()
        rows = page.content.count(b'class="field-full_name')
        if page.status_code != 200 or rows < LIST_ROWS:
            raise SystemExit("The attempt list did not show its rows.")
        if index >= WARM_UP:
            results["list"].append((end - start) * 1000)
    return results


# The comparing side ---------------------------------------------------------------


def run_side(root: Path, runs: int) -> dict[str, list[float]]:
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--measure",
            str(root),
            "--runs",
            str(runs),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"Measuring {root} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="runs a side in all")
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--baseline", help="git ref of the code before encryption")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.runs)))
        return 0

    ref = args.baseline or baseline_ref()
    old = unpack(ref, Path(tempfile.mkdtemp(prefix="bench-baseline-")))
    sides: dict[str, dict[str, list[float]]] = {"baseline": {}, "encrypted": {}}
    for _ in range(args.turns):
        for name, root in (("baseline", old), ("encrypted", ROOT)):
            for key, values in run_side(root, max(1, args.runs // args.turns)).items():
                sides[name].setdefault(key, []).extend(values)

    labels = {
        "form": "form POST, two 12 MP photos",
        "send": "send from the review step",
        "list": f"admin attempt list, {LIST_ROWS} rows",
    }
    runs = len(sides["baseline"]["send"])
    print(f"Baseline {ref}; {runs} runs a side after {WARM_UP} warm-up, "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")  # fmt: skip
    columns = ("base med", "p95", "enc med", "p95", "ratio")
    widths = (9, 8, 9, 8, 8)
    print(f"{'server CPU time (ms)':<32}" + "".join(
        f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))  # fmt: skip
    worst = 0.0
    for key, label in labels.items():
        base, enc = sides["baseline"][key], sides["encrypted"][key]
        ratio = statistics.median(enc) / statistics.median(base)
        worst = max(worst, ratio)
        print(
            f"{label:<32}{statistics.median(base):>9.1f}{p95(base):>8.1f}"
            f"{statistics.median(enc):>9.1f}{p95(enc):>8.1f}{ratio:>8.2f}"
        )
    if worst > TARGET_RATIO:
        print(f"MISSED: encryption costs more than {TARGET_RATIO:.2f}x somewhere")
        return 1
    print(f"OK: every median within {TARGET_RATIO:.2f}x of the baseline")
    return 0


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


if __name__ == "__main__":
    sys.exit(main())
