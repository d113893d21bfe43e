"""Emails to applicants. They carry the signed status link and no identity data."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from verification.models import Attempt

logger = logging.getLogger(__name__)


def status_link(attempt: Attempt) -> str:
    return settings.SITE_URL + reverse("status_link", args=[attempt.signed_token()])


def send_outcome_email(attempt: Attempt, *, applicant_message: str = "") -> bool:
    """Tell the applicant where their attempt stands, in the language they used.

    A mail server that does not answer is logged (without the address) and does not
    undo anything: the status page shows the same outcome.
    """
    context = {
        "attempt": attempt,
        "link": status_link(attempt),
        "applicant_message": applicant_message,
        "link_days": settings.STATUS_LINK_MAX_AGE_DAYS,
    }
    with translation.override(attempt.language):
        subject = render_to_string("verification/email/outcome_subject.txt", context)
        body = render_to_string("verification/email/outcome_body.txt", context)
    try:
        send_mail(
            " ".join(subject.split()),
            body,
            None,
            [attempt.email_address],
        )
    except Exception:
        logger.exception(
            "Attempt %s: the outcome email could not be sent.", attempt.code
        )
        return False
    return True
