"""Writes that must survive a database blip: a provider's answer that was paid for,
an email marked sent, a task marked finished.

A connection that the server closed (a restart, a failover, an idle connection cut
by a proxy, `pg_terminate_backend`) or a SQLite database locked for longer than its
timeout makes the next query fail. `durably` drops the connection and runs the write
again on a fresh one, with backoff, for a bounded time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress

from django.db import DatabaseError, InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

FIRST_PAUSE = 0.1
LONGEST_PAUSE = 2.0


def durably[T](
    write: Callable[[], T],
    *,
    seconds: float,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `write` (which opens its own transaction) until it succeeds, for up to
    `seconds`: after an OperationalError or InterfaceError the connection is
    closed, and the next try opens a fresh one. Raises the last error when the time
    is up. `what` names the write in log lines (an attempt code, never identity
    data).

    Inside a transaction nothing can be retried (the transaction is gone with its
    connection): `write` runs once.
    """
    if connection.in_atomic_block:
        return write()
    deadline = time.monotonic() + seconds
    pause = FIRST_PAUSE
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError) as error:
            if time.monotonic() + pause > deadline:
                raise
            logger.warning(
                "%s: the database did not take the write (%s); trying again on a "
                "fresh connection.",
                what,
                type(error).__name__,
            )
            drop_connection()
            sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)


def drop_connection() -> None:
    """Close this thread's database connection, however broken it is; the next
    query opens a new one."""
    with suppress(DatabaseError):
        connection.close()
