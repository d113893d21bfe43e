"""Reading the email code as the applicant does: from the newest email sent to
their address (Django's test mailbox; the worker's email lane sent it)."""

from __future__ import annotations

import re

from django.core import mail

from tests.worker import run_worker


def codes_to(address: str) -> list[str]:
    """The codes emailed to `address`, oldest first."""
    codes = []
    for message in mail.outbox:
        found = re.search(r"^(\d{6})$", str(message.body), re.M)
        if message.to == [address] and found:
            codes.append(found.group(1))
    return codes


def newest_code(address: str) -> str:
    """Let the worker send what waits, then the newest code emailed to
    `address`."""
    run_worker()
    codes = codes_to(address)
    assert codes, f"no code was emailed to {address}"
    return codes[-1]
