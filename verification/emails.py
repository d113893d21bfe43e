"""Emails to applicants, rendered when they are sent (verification.outbox sends
them). They carry the signed status link and no identity data."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from verification.models import Attempt


def status_link(attempt: Attempt) -> str:
    return settings.SITE_URL + reverse("status_link", args=[attempt.signed_token()])


def outcome_message(attempt: Attempt, *, applicant_message: str = "") -> EmailMessage:
    """Where the attempt stands, in the language the applicant used, to the
    address they gave; with a reviewer's message to them when there is one."""
    context = {
        "attempt": attempt,
        "link": status_link(attempt),
        "applicant_message": applicant_message,
        "link_days": settings.STATUS_LINK_MAX_AGE_DAYS,
    }
    with translation.override(attempt.language):
        subject = render_to_string("verification/email/outcome_subject.txt", context)
        body = render_to_string("verification/email/outcome_body.txt", context)
    return EmailMessage(" ".join(subject.split()), body, None, [attempt.email_address])
