"""A worker killed in the middle of a provider call: the attempt does not stay
`verifying` forever, and the lost call is on record as possibly charged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from onboarding.models import PendingPhoto
from onboarding.tasks import purge_drafts
from tests.applying import details, submit
from tests.worker import run_worker
from verification.models import Attempt, ProviderCall
from verification.tasks import sweep, verify

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(__file__).resolve().parent.parent
LEASE_SECONDS = 3  # connect 1 + read 2 + margin 0, for the worker process below
# How long to wait for a worker process to get somewhere before failing the test:
# far longer than it needs on a loaded machine (waiting ends as soon as it gets
# there, so a generous deadline costs a passing run nothing).
DEADLINE_SECONDS = 60


def database_url() -> str:
    """The test database, as a DATABASE_URL another process can open."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(condition, timeout: float = DEADLINE_SECONDS) -> None:
    """Poll `condition` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{condition.__name__} did not happen within {timeout} s"
            )
        time.sleep(0.05)


def test_an_attempt_whose_worker_died_mid_call_is_picked_up_again(
    sandbox, settings, applicant, tmp_path
):
    # The provider hangs, so the worker is certainly inside the call when it dies.
    settings.KREDIBEL_SANDBOX_FAULTS = {"stall": 20}
    sent = submit(applicant)
    attempt = Attempt.objects.get()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "PRIVATE_MEDIA_ROOT": str(settings.STORAGES["default"]["OPTIONS"]["location"]),
        "KREDIBEL_BASE_URL": settings.KREDIBEL_BASE_URL,
        "KREDIBEL_CONNECT_TIMEOUT": "1",
        "KREDIBEL_READ_TIMEOUT": "2",
        "VERIFY_LEASE_MARGIN_SECONDS": "0",
    }
    worker = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "db_worker", "--no-reload",
         "--interval", "0.1", "--no-startup-delay"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def worker_is_inside_the_call() -> bool:
        return attempt.calls.filter(outcome=ProviderCall.Outcome.PENDING).exists()

    try:
        wait_for(worker_is_inside_the_call)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.VERIFYING

    # The provider recovers; once the dead worker's lease ends, a live worker
    # picks the attempt up.
    settings.KREDIBEL_SANDBOX_FAULTS = {}

    def live_worker_finished_it() -> bool:
        run_worker()
        return Attempt.objects.get().status == Attempt.Status.VERIFIED

    wait_for(live_worker_finished_it, timeout=LEASE_SECONDS + DEADLINE_SECONDS)

    attempt.refresh_from_db()
    assert attempt.unknown_outcomes == 1
    assert list(attempt.calls.values_list("outcome", "charged")) == [
        (ProviderCall.Outcome.LOST, ProviderCall.Charged.UNKNOWN),
        (ProviderCall.Outcome.VERIFIED, ProviderCall.Charged.YES),
    ]
    assert (
        "Your identity is verified" in applicant.get(sent["Location"]).content.decode()
    )


def test_an_attempt_whose_task_was_lost_is_queued_again_by_recover_attempts(
    sandbox, applicant
):
    submit(applicant)
    DBTaskResult.objects.all().delete()  # the process died between commit and enqueue
    Attempt.objects.update(updated_at=timezone.now() - timedelta(minutes=11))

    call_command("recover_attempts", verbosity=0)
    run_worker()

    attempt = Attempt.objects.get()
    assert attempt.status == Attempt.Status.VERIFIED
    assert attempt.calls.count() == 1


def test_recover_attempts_leaves_fresh_and_finished_attempts_alone(sandbox, applicant):
    submit(applicant)
    DBTaskResult.objects.all().delete()

    call_command("recover_attempts", verbosity=0)

    assert not DBTaskResult.objects.filter(task_path=verify.module_path).exists()
    assert Attempt.objects.get().status == Attempt.Status.QUEUED


def test_a_sweep_comes_while_attempts_are_in_flight_and_stops_after(sandbox, applicant):
    submit(applicant)
    sweeps = DBTaskResult.objects.filter(task_path=sweep.module_path)
    assert sweeps.count() == 1
    assert sweeps.get().run_after > timezone.now()

    run_worker()  # verifies the attempt; the sweep is not due yet
    sweeps.update(run_after=timezone.now())
    run_worker()

    assert Attempt.objects.get().status == Attempt.Status.VERIFIED
    assert sweeps.count() == 1  # nothing in flight: no next sweep
    assert sweeps.get().status == "SUCCESSFUL"


def test_drafts_never_sent_are_deleted_when_a_day_old(applicant, db):
    applicant.post("/register/", details(emailAddress="not-an-email"))
    assert PendingPhoto.objects.count() == 2
    purge = DBTaskResult.objects.get(task_path=purge_drafts.module_path)
    assert purge.run_after > timezone.now() + timedelta(hours=24)

    PendingPhoto.objects.update(
        created_at=timezone.now() - timedelta(days=1, minutes=1)
    )
    DBTaskResult.objects.filter(pk=purge.pk).update(run_after=timezone.now())
    run_worker()

    assert not PendingPhoto.objects.exists()
