"""Running `manage.py` as its own process, with nothing but the environment given:
settings are read once per process, so each mode (production, the embedded
defaults) needs a process of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# The suite's limits on sends and provider calls, generous (it sends many
# applications from 127.0.0.1): the defaults are a real site's. Tests about a
# limit set their own.
SUITE_LIMITS = {
    "VERIFICATIONS_PER_IP_PER_HOUR": 100_000,
    "DAILY_VERIFICATION_BUDGET": 0,
    "EMAIL_CODES_PER_IP_PER_HOUR": 100_000,
}
SUITE_LIMITS_ENV = {name: str(value) for name, value in SUITE_LIMITS.items()}

# Everything production mode requires. The start-up key check looks into the
# database named here and finds nothing stored to check; a case that needs a
# database of its own passes its own DATABASE_URL.
PRODUCTION_ENV = {
    "PRODUCTION": "true",
    "SECRET_KEY": "a-long-random-production-secret-key-for-the-test-only-0123456789",
    "ALLOWED_HOSTS": "onboarding.example.id",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
    "KREDIBEL_BASE_URL": "https://synapses.kredibel.example",
    "KREDIBEL_API_KEY": "production-key",
    "FIELD_ENCRYPTION_KEYS": "kVqh3C2yqGm6mWc3rS1kNq6XkVzTq6mB0q3b1o8C5yI=",
    "NIK_LOOKUP_KEY": "a-separate-random-lookup-key-for-the-test-only",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.id:587",
}


def manage(
    *args: str, env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess:
    """`manage.py *args` in a clean environment (nothing from the developer's shell
    leaks into the case) with DATA_DIR and HOME in `tmp_path`."""
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
