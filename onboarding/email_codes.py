"""Sending the email code (onboarding.models.EmailCode), in the worker's email lane.

The code is made here, when its email is sent, so that it exists in plain only in
this process's memory and in the applicant's inbox; the row keeps its keyed hash.
A send that fails is tried again a few times, each time with a new code (the one
that failed may never have arrived), for as long as the code would still be worth
having; then the row says so and the applicant's page offers a new one.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone, translation

from onboarding import tasks
from onboarding.models import EmailCode, new_code
from verification.outbox import describe_error
from verification.retry_policy import backoff_seconds

logger = logging.getLogger(__name__)

State = EmailCode.State
SEND_TRIES = 3
RETRY_BASE_SECONDS = 5.0
RETRY_MAX_SECONDS = 30.0

_random = random.Random()  # noqa: S311 - jitter, not secrets


def code_message(email_code: EmailCode, code: str) -> EmailMessage:
    """The code, in the applicant's language, to the address it confirms."""
    context = {"code": code, "minutes": settings.EMAIL_CODE_MINUTES}
    with translation.override(email_code.language):
        subject = render_to_string("onboarding/email/code_subject.txt", context)
        body = render_to_string("onboarding/email/code_body.txt", context)
    return EmailMessage(
        " ".join(subject.split()), body, None, [email_code.email_address]
    )


def issue_code(
    *,
    browser: str,
    submission: uuid.UUID,
    email: str,
    language: str,
    client: str = "",
) -> EmailCode:
    """A new code for the form (invalidating its earlier ones), on its way to
    `email`. `client`: the keyed digest of the client address that asks; raises
    onboarding.models.CodeLimitReached, and sends nothing, when it has had its
    EMAIL_CODES_PER_IP_PER_HOUR."""
    email_code = EmailCode.issue(
        browser=browser,
        submission=submission,
        email=email,
        language=language,
        client=client,
    )
    if email_code.state == State.PENDING and email_code.send_tries == 0:
        tasks.send_email_code.enqueue(email_code.pk)
    return email_code


def send_code(*, code_id: int, now: datetime | None = None) -> bool:
    """Make the code and email it, if the row still waits for it and is its
    form's newest; otherwise do nothing (a duplicate task sends nothing). Returns
    whether an email went out. Retries are queued as tasks."""
    now = now or timezone.now()
    claimed = EmailCode.objects.filter(pk=code_id, state=State.PENDING).update(
        state=State.SENDING
    )
    if not claimed:
        return False
    email_code = EmailCode.objects.get(pk=code_id)
    newer = EmailCode.objects.filter(
        browser=email_code.browser,
        submission=email_code.submission,
        generation__gt=email_code.generation,
    )
    if newer.exists() or not email_code.email_address:
        EmailCode.objects.filter(pk=code_id).update(state=State.SUPERSEDED)
        return False
    code = new_code()
    # The hash and the time first: the code works the moment it can arrive.
    EmailCode.objects.filter(pk=code_id).update(
        code_hash=email_code.digest(code),
        sent_at=now,
        send_tries=email_code.send_tries + 1,
    )
    try:
        code_message(email_code, code).send()
    except Exception as error:
        tries = email_code.send_tries + 1
        worth_it = now - email_code.created_at < timedelta(
            minutes=settings.EMAIL_CODE_MINUTES
        )
        if tries >= SEND_TRIES or not worth_it:
            EmailCode.objects.filter(pk=code_id).update(state=State.FAILED)
            logger.error(
                "Email code %s: gave up after %d tries (%s).",
                code_id,
                tries,
                describe_error(error),
            )
            return False
        delay = backoff_seconds(
            tries, base=RETRY_BASE_SECONDS, cap=RETRY_MAX_SECONDS, rng=_random
        )
        EmailCode.objects.filter(pk=code_id).update(state=State.PENDING, code_hash="")
        tasks.send_email_code.using(run_after=now + timedelta(seconds=delay)).enqueue(
            code_id
        )
        logger.warning(
            "Email code %s could not be sent (%s); trying again in %.0f s.",
            code_id,
            describe_error(error),
            delay,
        )
        return False
    EmailCode.objects.filter(pk=code_id, state=State.SENDING).update(state=State.SENT)
    logger.info("Email code %s sent.", code_id)
    return True
