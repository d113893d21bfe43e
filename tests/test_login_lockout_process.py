"""The issue's "30 wrong passwords" against a real server: gunicorn with two
worker processes in production mode, on the test database. Locked after 5, the
right password refused while locked, unlocked by `manage.py unlock_reviewer`, then
the password and the one-time code let the reviewer in."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import requests
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.processes import BASE_DIR, MANAGE, database_url, free_port, wait_for
from tests.production import PRODUCTION_ENV
from tests.reviewing import make_user

pytestmark = pytest.mark.django_db(transaction=True)

HOST = "onboarding.example.id"
PASSWORD = "a long reviewer passphrase for the real server"
ATTACKER = "203.0.113.7"
HER_DESK = "198.51.100.20"


def production_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        **PRODUCTION_ENV,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": database_url(),
        # Behind a TLS proxy that says who the client is.
        "TRUST_X_FORWARDED_PROTO": "true",
        "TRUST_X_FORWARDED_FOR": "true",
        "PYTHONUNBUFFERED": "1",
    }


@contextlib.contextmanager
def gunicorn(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "tests.production_wsgi"),
            *("--bind", f"127.0.0.1:{port}", "--workers", "2"),
        ],
        env=production_env(tmp_path),
        cwd=BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError("gunicorn stopped")
        try:
            health = requests.get(f"{url}/healthz", headers={"Host": HOST}, timeout=10)
            return health.status_code in (200, 503)
        except requests.RequestException:
            return False

    try:
        wait_for(answers, timeout=90, what="gunicorn")
        yield url
    except BaseException:
        sys.stderr.write((tmp_path / "gunicorn.log").read_text()[-20000:])
        raise
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


class Browser:
    """A browser behind the TLS proxy at `address`. Production cookies are
    secure-only, so they are kept here rather than in requests' jar (which would
    not send them over the proxy's plain-HTTP hop)."""

    def __init__(self, url: str, address: str) -> None:
        self.url = url
        self.address = address
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **data: str) -> requests.Response:
        headers = {
            "Host": HOST,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": self.address,
            "Referer": f"https://{HOST}{path}",
            "Accept-Language": "en",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = requests.request(
            method,
            self.url + path,
            data=data or None,
            headers=headers,
            allow_redirects=False,
            timeout=30,
        )
        for header in response.raw.headers.getlist("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response

    def csrf(self, path: str) -> str:
        page = self.request("GET", path).text
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert found, page[:2000]
        return found.group(1)

    def log_in(self, username: str, password: str) -> requests.Response:
        token = self.csrf("/admin/login/")
        return self.request(
            "POST",
            "/admin/login/?next=/admin/",
            csrfmiddlewaretoken=token,
            username=username,
            password=password,
            next="/admin/",
        )


LOCKED = "Too many failed logins"
WRONG = "Please enter the correct username and password"


def test_thirty_wrong_passwords_lock_the_reviewer_until_an_operator_unlocks(
    tmp_path,
):
    reviewer = make_user("dewi", reviewer=True, password=PASSWORD)
    # Her authenticator app: production mode asks for its code after the password.
    dewi_device = TOTPDevice.objects.create(user=reviewer, name="phone", confirmed=True)

    with gunicorn(tmp_path) as url:
        attacker = Browser(url, ATTACKER)
        pages = [attacker.log_in("dewi", f"guess-{n}") for n in range(30)]
        dewi = Browser(url, HER_DESK)
        while_locked = dewi.log_in("dewi", PASSWORD)

        unlocked = subprocess.run(
            [*MANAGE, "unlock_reviewer", "dewi"],
            env=production_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        after = dewi.log_in("dewi", PASSWORD)
        asked = dewi.request("GET", "/admin/")
        code = f"{totp(dewi_device.bin_key):06d}"
        token = dewi.csrf("/admin/two-step/?next=/admin/")
        entered = dewi.request(
            "POST",
            "/admin/two-step/?next=/admin/",
            csrfmiddlewaretoken=token,
            code=code,
            next="/admin/",
        )
        workspace = dewi.request("GET", "/admin/")

    statuses = [page.status_code for page in pages]
    assert statuses[:4] == [200] * 4
    assert all(WRONG in page.text for page in pages[:4])
    assert statuses[4:] == [429] * 26
    assert all(LOCKED in page.text for page in pages[4:])
    assert while_locked.status_code == 429
    assert LOCKED in while_locked.text
    assert unlocked.returncode == 0, unlocked.stderr
    assert "Unlocked 'dewi'" in unlocked.stdout
    assert after.status_code == 302
    assert asked.headers["Location"] == "/admin/two-step/?next=%2Fadmin%2F"
    assert entered.headers["Location"] == "/admin/"
    assert workspace.status_code == 200
    assert 'id="review-dashboard"' in workspace.text
