"""What an attempt's outcome means for the applicant, in plain words."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from verification import budget, reviews
from verification.models import Attempt

# One plain message per field the provider can reject, and what to do about it.
REJECTION_MESSAGES = {
    "identityId": _(
        "Your NIK was not found in the population register. Check the 16 digits "
        "against your KTP."
    ),
    "fullName": _(
        "Your name does not match the name registered for your NIK. Type it exactly "
        "as printed on your KTP, including abbreviations."
    ),
    "birthDate": _(
        "Your date of birth does not match the date registered for your NIK. Check "
        "it against your KTP."
    ),
    "faceImage": _(
        "Your selfie does not match the photo registered for your NIK. Take a new "
        "selfie of your own face."
    ),
    "identityImage": _(
        "Your KTP photo could not be read. Take a new photo of the whole card."
    ),
    "liveness_check": _(
        "Your selfie did not pass the liveness check: we need a live photo of you, "
        "taken just now."
    ),
}

SELFIE_TIPS = [
    _("Face the camera with your whole face inside the oval."),
    _("Stand in good, even light, with the light in front of you, not behind."),
    _("Take off sunglasses, masks and hats."),
    _("Hold the phone still at eye level."),
    _("Do not photograph a screen or a printed photo."),
]
KTP_TIPS = [
    _("Lay the card flat on a dark, plain surface."),
    _("Make sure all four corners are visible and the text is sharp."),
    _("Avoid glare: tilt the card away from lamps and windows."),
]
TIPS = {
    "faceImage": SELFIE_TIPS,
    "liveness_check": SELFIE_TIPS,
    "identityImage": KTP_TIPS,
}


def mask_email(address: str) -> str:
    """`a*****@example.com`: enough for the applicant to recognise it."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}{'*' * max(1, len(local) - 1)}@{domain}"


def decision_message(attempt: Attempt) -> str:
    """What the reviewer who decided `attempt` wrote to the applicant, if anything."""
    if attempt.status not in (Attempt.Status.APPROVED, Attempt.Status.REJECTED):
        return ""
    decision = attempt.latest_decision
    return decision.applicant_message if decision else ""


def status_context(attempt: Attempt) -> dict:
    rejections = [
        {
            "field": field,
            "message": REJECTION_MESSAGES[field],
            "tips": TIPS.get(field, []),
        }
        for field in attempt.reject_fields
        if field in REJECTION_MESSAGES
    ]
    # Queued while the day's budget of provider calls is spent: it waits for it.
    budget_wait = attempt.status == Attempt.Status.QUEUED and budget.spent()
    return {
        "attempt": attempt,
        "rejections": rejections,
        "masked_email": mask_email(attempt.email_address),
        "budget_wait": budget_wait,
        "slow": (
            attempt.in_progress and attempt.next_try_at is not None and not budget_wait
        ),
        "our_fault": attempt.failure in Attempt.OUR_FAULT,
        "decision_message": decision_message(attempt),
        # When a reviewer's decision is due (REVIEW_SLA_HOURS), and whether it is late.
        "review_due": (
            reviews.answer_due(attempt)
            if attempt.status == Attempt.Status.NEEDS_REVIEW
            else None
        ),
        "review_late": reviews.is_overdue(attempt),
    }
