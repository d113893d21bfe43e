"""The worker (`manage.py worker`): runs the database queue's tasks in lanes of
threads, so that provider calls, emails and housekeeping never wait behind each
other.

- Provider lane: as many threads as calls should be in flight from this process
  (by default twelve per core up to VERIFY_MAX_IN_FLIGHT; a few on SQLite, whose
  writers take turns). It takes a task only when the provider gate has room: calls
  in flight stay within VERIFY_MAX_IN_FLIGHT over every worker, and while the
  circuit is open nothing is taken.
- Email lane: a couple of threads. Housekeeping lane: one thread (recovery, sweeps,
  purges, and tasks queued without a lane). Webhook lane: a couple of threads
  (WORKER_WEBHOOK_THREADS) for integrators' webhooks.

One dispatcher (the main thread) looks for due tasks every WORKER_POLL_SECONDS and
at once whenever a task finishes, claims as many as there are free threads, and
hands them over; an idle worker costs one small read per poll and takes a new task
within that poll.

On SIGTERM or SIGINT the worker takes no new task and lets its threads finish the
ones they hold (a provider call ends by its deadline, its answer is saved through
database blips), for up to the grace period (WORKER_STOP_GRACE_SECONDS); a second
signal stops it at once. `--batch` runs every due task, then returns.
"""

from __future__ import annotations

import logging
import os
import queue as stdlib_queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import DatabaseError, close_old_connections, connection, connections
from django.db.utils import OperationalError
from django.tasks.signals import task_finished, task_started
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from verification import gate, queue
from verification.durable import drop_connection, durably

logger = logging.getLogger(__name__)

# Seconds a task's own record (finished, failed) is retried through a database
# outage.
MARK_SECONDS = 20.0


@dataclass(frozen=True)
class Lane:
    """Threads that run the tasks of `queues`; `room`, when given, caps how many
    may start now (the provider gate)."""

    name: str
    queues: tuple[str, ...]
    threads: int
    room: Callable[[], int] | None = None


def default_threads() -> tuple[int, int]:
    """Provider and email threads for this machine and database: on PostgreSQL
    twelve provider calls per core (they wait on the network, not the CPU), up to
    VERIFY_MAX_IN_FLIGHT, so that the provider's latency and that limit set the
    pace; on SQLite a few, since its writers take turns."""
    if connection.vendor == "sqlite":
        return 4, 1
    cores = os.cpu_count() or 1
    return min(settings.VERIFY_MAX_IN_FLIGHT, 12 * cores), 2


def lanes(*, provider_threads: int = 0, email_threads: int = 0) -> list[Lane]:
    default_provider, default_email = default_threads()
    email = default_email
    return [
        Lane(
            queue.PROVIDER,
            (queue.PROVIDER,),
            provider_threads or settings.WORKER_PROVIDER_THREADS or default_provider,
            room=gate.room,
        ),
        Lane(
            queue.EMAIL,
            (queue.EMAIL,),
            email_threads or settings.WORKER_EMAIL_THREADS or default_email,
        ),
        Lane(queue.HOUSEKEEPING, (queue.HOUSEKEEPING, queue.DEFAULT), 1),
        # Integrators' webhooks: a receiver that is slow or down holds only these.
        Lane(queue.WEBHOOK, (queue.WEBHOOK,), settings.WORKER_WEBHOOK_THREADS or email),
    ]


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


# Taking and running tasks ------------------------------------------------------------


def _ready(queues: Iterable[str]):
    return DBTaskResult.objects.ready().filter(
        backend_name="default", queue_name__in=list(queues)
    )


def lanes_with_due_tasks(queues: Iterable[str]) -> set[str]:
    """The queues among `queues` with a task due now (a read; no lock taken)."""
    return set(
        _ready(queues).order_by().values_list("queue_name", flat=True).distinct()
    )


def claim_due(queues: Iterable[str], *, limit: int, worker_id: str) -> list:
    """Claim up to `limit` due tasks of `queues` for this worker, oldest first.
    Tasks another worker is claiming at the same moment are skipped. Returns []
    when the database is locked or does not answer (the next poll tries again)."""
    if limit <= 0:
        return []
    tasks = _ready(queues)
    try:
        with exclusive_transaction(tasks.db):
            rows = list(tasks.select_for_update(skip_locked=True)[:limit])
            for row in rows:
                row.claim(worker_id)
    except OperationalError as error:
        if not is_locked_database_exception(error):
            logger.warning("The worker could not reach the database (%s).", error)
            drop_connection()
        return []
    return rows


def run_task(row: DBTaskResult) -> None:
    """Run one claimed task and record how it ended (through database blips), as
    django_tasks_db's worker does, with the same signals."""
    try:
        task = row.task
        result = row.task_result
    except (ImportError, SuspiciousOperation) as error:
        logger.exception("Task id=%s cannot be loaded.", row.id)
        unloadable = error
        _mark(row, lambda: row.set_failed(unloadable))
        return
    backend = type(task.get_backend())
    task_started.send(sender=backend, task_result=result)
    try:
        value = task.call(*result.args, **result.kwargs)
    except Exception as error:
        failure = error
        _mark(row, lambda: row.set_failed(failure))
        # Inside the handler: the log line carries the traceback.
        task_finished.send(sender=backend, task_result=row.task_result)
        return
    _mark(row, lambda: row.set_successful(value))
    task_finished.send(sender=backend, task_result=row.task_result)


def _mark(row: DBTaskResult, write: Callable[[], None]) -> None:
    try:
        durably(write, seconds=MARK_SECONDS, what=f"Task {row.id}")
    except DatabaseError:
        # The sweep finishes rows left running.
        logger.exception("Task id=%s: its end could not be recorded.", row.id)


# The worker ---------------------------------------------------------------------------


class _LaneThreads:
    """A lane's threads and what they are doing."""

    def __init__(self, lane: Lane, finished: threading.Event) -> None:
        self.lane = lane
        self.busy = 0
        self._finished = finished
        self._lock = threading.Lock()
        self._inbox: stdlib_queue.SimpleQueue[DBTaskResult | None] = (
            stdlib_queue.SimpleQueue()
        )
        self.threads = [
            threading.Thread(target=self._serve, name=f"{lane.name}-{n}", daemon=True)
            for n in range(lane.threads)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    @property
    def free(self) -> int:
        with self._lock:
            return self.lane.threads - self.busy

    def hand_over(self, rows: list[DBTaskResult]) -> None:
        with self._lock:
            self.busy += len(rows)
        for row in rows:
            self._inbox.put(row)

    def close(self) -> None:
        """No more tasks: each thread ends once its current one is done."""
        for _ in self.threads:
            self._inbox.put(None)

    def _serve(self) -> None:
        try:
            while (row := self._inbox.get()) is not None:
                try:
                    run_task(row)
                except Exception:
                    logger.exception("Task id=%s failed in the worker.", row.id)
                finally:
                    close_old_connections()
                    with self._lock:
                        self.busy -= 1
                    self._finished.set()
        finally:
            connections.close_all()


class Worker:
    def __init__(
        self,
        lanes: list[Lane],
        *,
        worker_id: str | None = None,
        poll_seconds: float | None = None,
        batch: bool = False,
    ) -> None:
        self.lanes = lanes
        self.worker_id = worker_id or new_worker_id()
        self.poll_seconds = (
            settings.WORKER_POLL_SECONDS if poll_seconds is None else poll_seconds
        )
        self.batch = batch
        self._stopping = threading.Event()
        self._wake = threading.Event()

    def stop(self) -> None:
        """Take no new task; the threads finish what they hold (from a signal
        handler too)."""
        self._stopping.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self, *, grace: float | None = None) -> bool:
        """Run until stopped (or, in batch mode, until no task can be taken), then
        wait up to `grace` seconds (None: as long as it takes) for the tasks in
        hand. Returns False when some were still running after the grace."""
        running = [_LaneThreads(lane, self._wake) for lane in self.lanes]
        for lane in running:
            lane.start()
        logger.info(
            "Worker %s: %s.",
            self.worker_id,
            ", ".join(f"{lane.name} {lane.threads} thread(s)" for lane in self.lanes),
        )
        try:
            while not self.stopping:
                took = self._dispatch(running)
                if self.batch and not took and self._quiet(running):
                    break
                if not took:
                    self._wake.wait(self.poll_seconds)
                    self._wake.clear()
        finally:
            for lane in running:
                lane.close()
            done = self._wait(running, grace)
            connections.close_all()
        return done

    def _dispatch(self, running: list[_LaneThreads]) -> bool:
        """Hand every lane as many due tasks as it may take now."""
        close_old_connections()
        wanted = [lane for lane in running if lane.free > 0]
        if not wanted:
            return False
        try:
            due = lanes_with_due_tasks(
                name for lane in wanted for name in lane.lane.queues
            )
        except DatabaseError as error:
            logger.warning("The worker could not reach the database (%s).", error)
            drop_connection()
            return False
        took = False
        for lane in wanted:
            if not due.intersection(lane.lane.queues):
                continue
            limit = lane.free
            if lane.lane.room is not None:
                try:
                    limit = min(limit, lane.lane.room())
                except DatabaseError:
                    drop_connection()
                    limit = 0
            rows = claim_due(lane.lane.queues, limit=limit, worker_id=self.worker_id)
            if rows:
                lane.hand_over(rows)
                took = True
        return took

    def _quiet(self, running: list[_LaneThreads]) -> bool:
        """Batch mode: nothing in hand, and nothing due that may be taken now."""
        if any(lane.busy for lane in running):
            return False
        due = lanes_with_due_tasks(
            name for lane in running for name in lane.lane.queues
        )
        for lane in running:
            if due.intersection(lane.lane.queues) and (
                lane.lane.room is None or lane.lane.room() > 0
            ):
                return False
        return True

    def _wait(self, running: list[_LaneThreads], grace: float | None) -> bool:
        deadline = None if grace is None else time.monotonic() + grace
        for lane in running:
            for thread in lane.threads:
                left = None if deadline is None else max(0, deadline - time.monotonic())
                thread.join(left)
        still = sum(lane.busy for lane in running)
        if still:
            logger.error(
                "Worker %s: %d task(s) still running after %.0f s; leaving them to "
                "recovery.",
                self.worker_id,
                still,
                grace or 0,
            )
        return not still
