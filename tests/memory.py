"""A photo prepared in a process of its own, as a web worker would prepare it: what
it came to, how much the process's peak memory grew meanwhile, and how long it took.
Used by the tests and by bench/hostile_png.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
MEGABYTE = 1024 * 1024

# Prepares the photo in `argv[1]` as a selfie; prints the outcome, how far the
# process's resident memory rose above what it held before (its peak, VmHWM, reset
# first through /proc/self/clear_refs: ru_maxrss would carry the peak of the
# process that started this one), and the seconds it took.
CHILD = """
import json, sys, time
import django
django.setup()
from django.core.exceptions import ValidationError
from onboarding import images

def status(name):
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(name + ":"))
    return int(line.split()[1]) * 1024

data = open(sys.argv[1], "rb").read()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak starts again from now
before = status("VmRSS")
started = time.perf_counter()
try:
    images.prepare_selfie(data)
    outcome = "prepared"
except ValidationError as error:
    outcome = error.code
took = time.perf_counter() - started
peak = status("VmHWM")
print(json.dumps({"outcome": outcome, "grew": peak - before, "took": took}))
"""


def prepared_in_a_process(folder: Path, data: bytes) -> dict:
    """{"outcome": "prepared" or the refusal's code, "grew": bytes, "took": s}."""
    photo = folder / "photo"
    photo.write_bytes(data)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "onboarding.settings",
        "DATA_DIR": str(folder / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(photo)],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])
