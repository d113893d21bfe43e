"""The worker against real faults, as real processes: `manage.py worker` on the test
database, the stand-alone sandbox behind a proxy that counts what reaches it and
misbehaves (trickles, holds, drops), a database connection closed from the server
side, signals, a mail server that is down and then up.

Each test asserts what the provider received and answered, the charges on record,
the attempt's final state and the emails sent."""

from __future__ import annotations

import signal
import sqlite3
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.attempts import stored_attempt
from tests.kredibel_payloads import closed_port
from tests.processes import (
    WORKER_APPLICATION,
    Mailbox,
    database_url,
    run_worker_batch,
    smtp_server,
    standalone_sandbox,
    wait_for,
    worker_process,
)
from tests.provider_proxy import DROP, TRICKLE, provider_proxy
from tests.worker import run_worker
from verification import recovery, tasks
from verification.models import Attempt, OutboxEmail, ProviderCall

pytestmark = pytest.mark.django_db(transaction=True)

Status = Attempt.Status
Outcome = ProviderCall.Outcome
Charged = ProviderCall.Charged


@pytest.fixture(scope="module")
def sandbox_url():
    with standalone_sandbox() as url:
        yield url


@pytest.fixture
def proxy(sandbox_url):
    with provider_proxy(sandbox_url) as proxy:
        yield proxy


def status_of(attempt: Attempt) -> str:
    return Attempt.objects.get(pk=attempt.pk).status


def calls_of(attempt: Attempt) -> list[tuple[str, str, bool]]:
    return list(
        attempt.calls.order_by("pk").values_list("outcome", "charged", "duplicate")
    )


def test_a_provider_that_trickles_its_answer_is_cut_off_at_the_call_deadline(
    proxy, tmp_path
):
    """A byte every 0.2 s keeps every read inside the read timeout; the wall-clock
    deadline ends the call anyway, before the lease, so no repeat runs beside it.
    The repeat that follows gets the answer."""
    proxy.plan = [TRICKLE]
    attempt = stored_attempt()

    with worker_process(
        tmp_path,
        KREDIBEL_BASE_URL=proxy.url,
        KREDIBEL_READ_TIMEOUT="5",
        KREDIBEL_CALL_DEADLINE="3",
    ):
        wait_for(lambda: status_of(attempt) == Status.VERIFIED, what="verified")

    first, second = attempt.calls.order_by("pk")
    assert (first.outcome, first.charged) == (
        Outcome.DEADLINE_EXCEEDED,
        Charged.UNKNOWN,
    )
    assert (second.outcome, second.charged) == (Outcome.VERIFIED, Charged.YES)
    assert first.finished_at is not None
    assert first.finished_at <= second.started_at  # never two calls at once
    assert len(proxy.exchanges) == 2
    assert not proxy.exchanges[0].delivered
    attempt.refresh_from_db()
    assert attempt.provider_id == second.provider_id == proxy.delivered_ids()[0]
    assert attempt.unknown_outcomes == 1


def _blip_the_workers_database():
    """Close the worker's database connections from the server's side (PostgreSQL),
    or lock the database longer than the worker's busy timeout (SQLite); returns
    what ends the blip."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = %s",
                [WORKER_APPLICATION],
            )
            assert cursor.fetchall(), "no worker connection to close"
        return lambda: None
    blocker = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
    blocker.execute("BEGIN EXCLUSIVE")

    def end() -> None:
        blocker.rollback()
        blocker.close()

    return end


def test_an_answer_that_meets_a_database_blip_is_saved_on_a_fresh_connection(
    proxy, tmp_path, mailbox_port
):
    proxy.hold()
    attempt = stored_attempt()

    # SQLite: the worker's writers give up after half a second of waiting.
    sqlite = {"DATABASE_URL": database_url(timeout="0.5")}
    with worker_process(
        tmp_path,
        KREDIBEL_BASE_URL=proxy.url,
        EMAIL_URL=f"smtp://127.0.0.1:{mailbox_port.port}",
        **(sqlite if connection.vendor == "sqlite" else {}),
    ) as worker:
        proxy.wait_for_requests(1)
        end_blip = _blip_the_workers_database()
        proxy.release.set()
        worker.wait_for_log("trying again on a fresh connection")
        end_blip()
        wait_for(lambda: status_of(attempt) == Status.VERIFIED, what="verified")
        wait_for(lambda: mailbox_port.mailbox.subjects(), what="the email")

    assert calls_of(attempt) == [(Outcome.VERIFIED, Charged.YES, False)]
    assert len(proxy.exchanges) == 1
    assert attempt.calls.get().provider_id == proxy.delivered_ids()[0]
    assert mailbox_port.mailbox.subjects() == ["Your identity is verified"]


def test_sigterm_mid_call_lets_the_call_finish_and_its_answer_land(proxy, tmp_path):
    proxy.hold()
    attempt = stored_attempt()

    with worker_process(tmp_path, KREDIBEL_BASE_URL=proxy.url) as worker:
        proxy.wait_for_requests(1)
        worker.signal(signal.SIGTERM)
        worker.wait_for_log("taking no new task")
        proxy.release.set()
        assert worker.process.wait(timeout=60) == 0
    run_worker_batch(tmp_path)  # the email the stopping worker left queued

    assert calls_of(attempt) == [(Outcome.VERIFIED, Charged.YES, False)]
    assert len(proxy.exchanges) == 1
    assert status_of(attempt) == Status.VERIFIED
    assert not DBTaskResult.objects.filter(status="RUNNING").exists()
    assert OutboxEmail.objects.get().state == OutboxEmail.State.SENT


def test_a_worker_frozen_past_its_lease_still_delivers_the_answer_it_paid_for(
    proxy, tmp_path
):
    """SIGSTOP while the provider answers; recovery takes the attempt over when the
    lease ends and schedules a repeat; the worker resumes, reads the answer that
    waited in its socket, and it decides the attempt: the repeat never calls."""
    proxy.hold()
    attempt = stored_attempt()

    with worker_process(
        tmp_path,
        KREDIBEL_BASE_URL=proxy.url,
        KREDIBEL_CALL_DEADLINE="3",
        VERIFY_LEASE_MARGIN_SECONDS="1",
        VERIFY_UNKNOWN_DELAY_SECONDS="300",
    ) as worker:
        proxy.wait_for_requests(1)
        worker.signal(signal.SIGSTOP)
        proxy.release.set()
        wait_for(lambda: proxy.exchanges[0].delivered, what="the answer sent")

        def recovered() -> bool:
            run_worker()  # this process's worker: it runs the lease-end recovery
            return status_of(attempt) == Status.QUEUED

        wait_for(recovered, what="recovery")
        assert calls_of(attempt) == [(Outcome.LOST, Charged.UNKNOWN, False)]
        worker.signal(signal.SIGCONT)
        wait_for(lambda: status_of(attempt) == Status.VERIFIED, what="late answer")

    assert calls_of(attempt) == [(Outcome.VERIFIED, Charged.YES, False)]
    assert len(proxy.exchanges) == 1
    attempt.refresh_from_db()
    assert attempt.provider_id == proxy.delivered_ids()[0]


def test_a_killed_worker_costs_at_most_one_repeat_and_leaves_nothing_running(
    proxy, tmp_path
):
    proxy.hold()
    attempt = stored_attempt()

    with worker_process(
        tmp_path,
        KREDIBEL_BASE_URL=proxy.url,
        KREDIBEL_CALL_DEADLINE="3",
        VERIFY_LEASE_MARGIN_SECONDS="1",
    ) as worker:
        proxy.wait_for_requests(1)
        worker.signal(signal.SIGKILL)
        worker.process.wait(timeout=30)
    proxy.release.set()
    assert DBTaskResult.objects.filter(status="RUNNING").count() == 1
    later = timezone.now() + timedelta(hours=1)
    assert recovery.stuck_attempts(now=later) == 1

    recovery.finish_abandoned_tasks(now=later)
    with worker_process(tmp_path, KREDIBEL_BASE_URL=proxy.url, name="second"):
        wait_for(lambda: status_of(attempt) == Status.VERIFIED, what="verified")
        wait_for(
            lambda: (
                OutboxEmail.objects.filter(state="sent").exists()
                and not DBTaskResult.objects.filter(status="RUNNING").exists()
            ),
            what="the email sent and every task done",
        )

    assert calls_of(attempt) == [
        (Outcome.LOST, Charged.UNKNOWN, False),
        (Outcome.VERIFIED, Charged.YES, False),
    ]
    assert len(proxy.exchanges) == 2
    assert not DBTaskResult.objects.filter(status="RUNNING").exists()
    assert recovery.stuck_attempts(now=later) == 0


def test_a_dropped_connection_after_sending_counts_as_a_lost_answer(proxy, tmp_path):
    proxy.plan = [DROP]
    attempt = stored_attempt()

    with worker_process(tmp_path, KREDIBEL_BASE_URL=proxy.url):
        wait_for(lambda: status_of(attempt) == Status.VERIFIED, what="verified")

    assert calls_of(attempt) == [
        (Outcome.CONNECTION_FAILED, Charged.UNKNOWN, False),
        (Outcome.VERIFIED, Charged.YES, False),
    ]
    assert len(proxy.exchanges) == 2


def test_duplicate_tasks_on_a_busy_worker_call_the_provider_once(proxy, tmp_path):
    attempt = stored_attempt()
    for _ in range(6):
        tasks.verify.enqueue(attempt.pk)

    with worker_process(
        tmp_path, "--provider-threads", "4", KREDIBEL_BASE_URL=proxy.url
    ):
        wait_for(lambda: status_of(attempt) == Status.VERIFIED, what="verified")
        wait_for(
            lambda: (
                not DBTaskResult.objects.filter(task_path=tasks.verify.module_path)
                .exclude(status__in=("SUCCESSFUL", "FAILED"))
                .exists()
            ),
            what="every task done",
        )

    assert calls_of(attempt) == [(Outcome.VERIFIED, Charged.YES, False)]
    assert len(proxy.exchanges) == 1


def test_calls_in_flight_stay_within_the_limit_over_every_worker(proxy, tmp_path):
    proxy.hold()
    attempts = [stored_attempt(nik=f"31710101010{n:05d}") for n in range(6)]
    env = {"KREDIBEL_BASE_URL": proxy.url, "VERIFY_MAX_IN_FLIGHT": "3"}

    with (
        worker_process(tmp_path, "--provider-threads", "4", name="one", **env),
        worker_process(tmp_path, "--provider-threads", "4", name="two", **env),
    ):
        proxy.wait_for_in_flight(3)
        # Every thread is free to take more; the gate keeps them out.
        with pytest.raises(AssertionError):
            proxy.wait_for_requests(4, timeout=2)
        proxy.release.set()
        wait_for(
            lambda: all(status_of(a) == Status.VERIFIED for a in attempts),
            what="all verified",
        )

    assert proxy.most_in_flight == 3
    assert len(proxy.exchanges) == 6
    assert ProviderCall.objects.filter(charged=Charged.YES).count() == 6


class MailboxPort:
    def __init__(self) -> None:
        self.port = closed_port()
        self.mailbox = Mailbox()


@pytest.fixture
def mailbox_port():
    box = MailboxPort()
    with smtp_server(box.port, box.mailbox):
        yield box


def test_an_email_waits_out_a_mail_server_that_is_down_then_goes_once(proxy, tmp_path):
    port = closed_port()
    attempt = stored_attempt()
    mailbox = Mailbox()

    with worker_process(
        tmp_path,
        KREDIBEL_BASE_URL=proxy.url,
        EMAIL_URL=f"smtp://127.0.0.1:{port}",
        EMAIL_RETRY_BASE_SECONDS="600",
    ):
        wait_for(
            lambda: OutboxEmail.objects.filter(tries=1, state="pending").exists(),
            what="a failed first send",
        )
        email = OutboxEmail.objects.get()
        assert email.last_error == "ConnectionRefusedError"
        assert email.next_try_at is not None
        assert email.next_try_at > timezone.now() + timedelta(minutes=4)
        with smtp_server(port, mailbox):
            # The mail server is back: the retry's time comes.
            OutboxEmail.objects.update(next_try_at=timezone.now())
            DBTaskResult.objects.filter(
                task_path=tasks.send_email.module_path, status="READY"
            ).update(run_after=timezone.now())
            wait_for(lambda: mailbox.subjects(), what="the email")
            wait_for(
                lambda: OutboxEmail.objects.filter(state="sent").exists(),
                what="sent on record",
            )

    email.refresh_from_db()
    assert (email.state, email.tries) == (OutboxEmail.State.SENT, 2)
    assert mailbox.subjects() == ["Your identity is verified"]
    assert calls_of(attempt) == [(Outcome.VERIFIED, Charged.YES, False)]
    assert len(proxy.exchanges) == 1
