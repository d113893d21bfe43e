"""The money limits against real processes, as an attacker and an operator meet
them: a web server and a worker started as `manage.py` processes on the test
database, the stand-alone sandbox behind a proxy that counts every request that
reaches it, a real mail server for the operators' email. Every send is a real
browser session over HTTP (fresh cookies each time)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.applying import details, ktp_bytes, selfie_bytes
from tests.pages import form_fields
from tests.processes import (
    MANAGE,
    Mailbox,
    free_port,
    smtp_server,
    standalone_sandbox,
    wait_for,
    worker_env,
    worker_process,
)
from tests.provider_proxy import provider_proxy
from tests.reviewing import make_user
from verification.models import Attempt
from verification.retry_policy import RetryPolicy
from verification.verifying import verify_attempt

pytestmark = pytest.mark.django_db(transaction=True)

Status = Attempt.Status
ADDRESS_REFUSAL = (
    "Many applications have been sent from your network in the last hour. Each "
    "check costs money, so no more can be sent from it for now."
)
OPERATORS = "ops@example.id"


@contextlib.contextmanager
def web_server(tmp_path: Path, **env: str) -> Iterator[str]:
    """`manage.py runserver` in its own process on the test database; yields its
    base URL once it answers."""
    port = free_port()
    log = tmp_path / "web.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*MANAGE, "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=worker_env(tmp_path, **env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return requests.get(url + "/", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_for(answers, timeout=60, what="the web server")
        yield url
    except BaseException:
        # What the server said goes with the failure's report.
        sys.stderr.write(f"--- web server's log ---\n{log.read_text()[-20000:]}\n")
        raise
    finally:
        process.terminate()
        process.wait(timeout=30)


def send(url: str, nik: str) -> tuple[requests.Session, requests.Response]:
    """A new browser fills in the form and, if the review step comes, sends it.
    Returns the browser and the page it ends on."""
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en"
    browser.get(url + "/register/", timeout=30)
    files = {
        "faceImage": ("selfie.jpg", selfie_bytes(), "image/jpeg"),
        "identityImage": ("ktp.jpg", ktp_bytes(), "image/jpeg"),
    }
    fields = {k: v for k, v in details(identityId=nik).items() if k not in files}
    fields["csrfmiddlewaretoken"] = browser.cookies["csrftoken"]
    page = browser.post(url + "/register/", data=fields, files=files, timeout=60)
    review = form_fields(page.text)
    if review:
        page = browser.post(url + "/register/confirm/", data=review, timeout=60)
    return browser, page


def nik(n: int) -> str:
    # Digits 7 to 12 encode the form's birth date (06-07-1990).
    return f"317101060790{n:04d}"


def text(page: requests.Response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page.text).split())


def settled() -> bool:
    return not Attempt.objects.filter(status__in=Attempt.IN_PROGRESS).exists()


@pytest.fixture(scope="module")
def sandbox_url():
    with standalone_sandbox() as url:
        yield url


@pytest.fixture
def proxy(sandbox_url):
    with provider_proxy(sandbox_url) as proxy:
        yield proxy


def test_thirty_sends_from_one_client_with_fresh_cookies_make_twenty_attempts(
    proxy, tmp_path
):
    limits = {"VERIFICATIONS_PER_IP_PER_HOUR": "20", "DAILY_VERIFICATION_BUDGET": "0"}
    with (
        web_server(tmp_path, KREDIBEL_BASE_URL=proxy.url, **limits) as url,
        worker_process(tmp_path, KREDIBEL_BASE_URL=proxy.url, **limits),
    ):
        pages = [send(url, nik(n))[1] for n in range(30)]
        wait_for(
            lambda: Attempt.objects.count() == 20 and settled(),
            timeout=120,
            what="twenty attempts verified",
        )

    sent = [page for page in pages if "/status/" in page.url]
    refused = [page for page in pages if "/status/" not in page.url]
    assert len(sent) == 20
    assert len(refused) == 10
    for page in refused:
        assert page.status_code == 200
        assert ADDRESS_REFUSAL in text(page)
        # The form again, with what was typed and both photos kept as drafts.
        assert 'name="facePhoto" value="' in page.text
        assert 'name="identityPhoto" value="' in page.text
    assert Attempt.objects.filter(status=Status.VERIFIED).count() == 20
    assert len(proxy.exchanges) == 20


def test_past_the_daily_budget_attempts_wait_and_the_operators_are_told_once(
    proxy, tmp_path, settings
):
    # This process drains the queue the next day, as the worker would.
    settings.KREDIBEL_BASE_URL = proxy.url
    settings.KREDIBEL_API_KEY = settings.SANDBOX_API_KEY
    settings.DAILY_VERIFICATION_BUDGET = 3
    box = Mailbox()
    mail_port = free_port()
    password = "a-long-operator-password-for-the-test"
    make_user("operator", superuser=True, password=password)
    env = {
        "KREDIBEL_BASE_URL": proxy.url,
        "DAILY_VERIFICATION_BUDGET": "3",
        "ADMINS": OPERATORS,
        "EMAIL_URL": f"smtp://127.0.0.1:{mail_port}",
    }
    with (
        smtp_server(mail_port, box),
        web_server(tmp_path, **env) as url,
        worker_process(tmp_path, **env),
    ):
        browsers = [send(url, nik(n)) for n in range(5)]
        # The worker has asked for each of the two past the budget, and was
        # told to wait (their next try set, their tries untouched).
        wait_for(
            lambda: (
                Attempt.objects.filter(status=Status.VERIFIED).count() == 3
                and Attempt.objects.filter(
                    status=Status.QUEUED, next_try_at__isnull=False
                ).count()
                == 2
            ),
            timeout=120,
            what="three verified and two waiting",
        )
        browsers += [send(url, nik(n)) for n in range(5, 7)]
        wait_for(
            lambda: (
                Attempt.objects.filter(
                    status=Status.QUEUED, next_try_at__isnull=False
                ).count()
                == 4
            ),
            timeout=60,
            what="four waiting",
        )
        wait_for(lambda: operators_emails(box), timeout=60, what="the email")
        wait_for(emails_sent, timeout=60, what="every email sent")

        waiting_browser, waiting_page = browsers[-1]
        status_page = text(waiting_browser.get(waiting_page.url, timeout=30))
        banner = text(admin_page(url, password))

    assert len(proxy.exchanges) == 3
    waiting = Attempt.objects.filter(status=Status.QUEUED)
    assert sorted(waiting.values_list("tries", flat=True)) == [0, 0, 0, 0]
    (email,) = operators_emails(box)
    assert "Daily verification budget spent (3 provider calls)" in email["Subject"]
    assert "nothing is lost" in email.get_payload()
    assert "Many applications are being checked today" in status_page
    assert "at the latest tomorrow" in status_page
    assert "Today's budget of 3 provider calls" in banner

    # The next day, on an injected clock: the queue drains, through the same
    # proxy to the same sandbox.
    morning = tomorrow_at_one_minute_past_midnight()
    for attempt in waiting:
        verify_attempt(
            attempt_id=attempt.pk,
            policy=RetryPolicy.from_settings(clock=lambda: morning),
        )
    assert Attempt.objects.filter(status=Status.VERIFIED).count() == 6
    assert Attempt.objects.filter(status=Status.QUEUED).count() == 1  # 3 a day
    assert len(proxy.exchanges) == 6


def operators_emails(box: Mailbox) -> list:
    with box._lock:
        return [m for m in box.messages if m["To"] == OPERATORS]


def emails_sent() -> bool:
    return not DBTaskResult.objects.ready().filter(queue_name="email").exists()


def admin_page(url: str, password: str) -> requests.Response:
    """The admin's index, signed in as an operator through the login form."""
    staff = requests.Session()
    staff.headers["Accept-Language"] = "en"
    staff.get(url + "/admin/login/", timeout=30)
    signed_in = staff.post(
        url + "/admin/login/?next=/admin/",
        data={
            "username": "operator",
            "password": password,
            "csrfmiddlewaretoken": staff.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": url + "/admin/login/"},
        timeout=30,
    )
    assert signed_in.url.rstrip("/").endswith("/admin"), signed_in.url
    return signed_in


def tomorrow_at_one_minute_past_midnight() -> datetime:
    day = timezone.localdate() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, time(0, 1)))
