"""Compliance review of `needs_review` attempts: taking a case, deciding it, the
evidence a reviewer weighs (other applicants sharing the email or phone, the
applicant's history), the admin dashboard's numbers and the CSV export of decisions.

A decision moves the attempt from `needs_review` to `approved` or `rejected` with one
conditional UPDATE, so that two reviewers (or two tabs) cannot both decide it: the
second finds no row left to move and is refused. Nothing here logs identity data.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, DateTimeField, Min, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from verification import outbox
from verification.integrations import sessions
from verification.lookups import email_digest, nik_digest, phone_digest
from verification.models import (
    Attempt,
    CallTotals,
    ProviderCall,
    ReviewCase,
    ReviewDecision,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger(__name__)

Status = Attempt.Status
Decision = ReviewDecision.Decision
Reason = ReviewDecision.Reason

# The group the reviewers' permissions come with (created by migration 0003).
REVIEWERS_GROUP = "Compliance reviewers"
DECIDE_PERMISSION = "verification.decide_attempt"
VIEW_IMAGES_PERMISSION = "verification.view_identity_images"
# The most linked attempts a review page lists; a shared office address could link
# hundreds, and the reviewer needs the pattern, not every row.
LINKED_LIMIT = 100

# What each provider reject field means, in a reviewer's words.
REJECT_FIELD_LABELS = {
    "emailAddress": _("Email address already used by another NIK"),
    "phoneNumber": _("Phone number already used by another NIK"),
    "identityId": _("NIK not found"),
    "fullName": _("Name does not match the NIK"),
    "birthDate": _("Birth date does not match the NIK"),
    "faceImage": _("Selfie does not match"),
    "identityImage": _("KTP photo unreadable"),
    "liveness_check": _("Liveness check failed"),
}

MESSAGES = {
    "invalid_decision": _("Choose Approve or Reject."),
    "note_required": _("Write an internal note: why you decided this way."),
    "reason_required": _("Choose the reason for the rejection."),
    "reason_mismatch": _("This reason does not fit the decision; choose another."),
}


class DecisionRefused(Exception):
    """The attempt is not waiting for a decision (already decided, or never needed
    one), or another reviewer has taken it."""


# Taking a case ------------------------------------------------------------------------


def take_case(*, attempt: Attempt, reviewer: User) -> bool:
    """Assign a waiting case to `reviewer`. True when the reviewer holds it now
    (including when they already did); False when another reviewer holds it or the
    attempt no longer needs review."""
    now = timezone.now()
    taken = Attempt.objects.filter(
        pk=attempt.pk, status=Status.NEEDS_REVIEW, assigned_to__isnull=True
    ).update(assigned_to=reviewer, assigned_at=now, updated_at=now)
    return (
        bool(taken)
        or Attempt.objects.filter(
            pk=attempt.pk, status=Status.NEEDS_REVIEW, assigned_to=reviewer
        ).exists()
    )


def release_case(*, attempt: Attempt, reviewer: User) -> bool:
    """Put a case back in the queue. Only its holder may, or a superuser (for a
    colleague who is away). False when there was nothing to release."""
    cases = Attempt.objects.filter(pk=attempt.pk, status=Status.NEEDS_REVIEW)
    if not reviewer.is_superuser:
        cases = cases.filter(assigned_to=reviewer)
    released = cases.exclude(assigned_to__isnull=True).update(
        assigned_to=None, assigned_at=None, updated_at=timezone.now()
    )
    return bool(released)


# Deciding -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanDecision:
    decision: str
    reason: str
    note: str
    applicant_message: str


def clean_decision(
    *, decision: str, reason: str, note: str, applicant_message: str
) -> CleanDecision:
    """The decision's inputs, stripped and checked: a decision of approved or
    rejected; a note; for a rejection a rejection reason; for an approval no reason
    or an approval reason. Raises ValidationError keyed by field, with the codes of
    MESSAGES."""
    errors: dict[str, ValidationError] = {}
    note = (note or "").strip()
    reason = reason or ""
    if decision not in Decision.values:
        errors["decision"] = _error("invalid_decision")
    if not note:
        errors["note"] = _error("note_required")
    if decision == Decision.REJECTED and not reason:
        errors["reason"] = _error("reason_required")
    elif reason and reason not in _reasons_for(decision):
        errors["reason"] = _error("reason_mismatch")
    if errors:
        raise ValidationError(errors)
    return CleanDecision(
        decision=decision,
        reason=reason,
        note=note,
        applicant_message=(applicant_message or "").strip(),
    )


def decide(
    *,
    attempt: Attempt,
    reviewer: User,
    decision: str,
    reason: str = "",
    note: str,
    applicant_message: str = "",
) -> ReviewDecision:
    """Record `reviewer`'s decision on an attempt that needs review and move the
    attempt to `approved` or `rejected`, exactly once. The applicant's email (with
    `applicant_message`, never the internal `note`) goes into the outbox in the same
    transaction, so a decision is never without it.

    Raises PermissionDenied when the reviewer may not decide
    (verification.decide_attempt); ValidationError as `clean_decision` does;
    DecisionRefused when the attempt is not waiting for a decision any more or
    another reviewer has taken it. Nothing is written when it raises.
    """
    if not reviewer.has_perm(DECIDE_PERMISSION):
        raise PermissionDenied
    clean = clean_decision(
        decision=decision,
        reason=reason,
        note=note,
        applicant_message=applicant_message,
    )
    now = timezone.now()
    with transaction.atomic():
        # One conditional UPDATE, not a read then a write: of two simultaneous
        # decisions the database lets exactly one move the row.
        moved = (
            Attempt.objects.filter(pk=attempt.pk, status=Status.NEEDS_REVIEW)
            .filter(Q(assigned_to__isnull=True) | Q(assigned_to=reviewer))
            .update(
                status=clean.decision,
                assigned_to=reviewer,
                assigned_at=Coalesce(
                    "assigned_at", Value(now, output_field=DateTimeField())
                ),
                updated_at=now,
            )
        )
        if not moved:
            raise DecisionRefused
        record = ReviewDecision.objects.create(
            attempt_id=attempt.pk,
            reviewer=reviewer,
            decision=clean.decision,
            reason=clean.reason,
            note=clean.note,
            applicant_message=clean.applicant_message,
            decided_at=now,
        )
        attempt.refresh_from_db()
        outbox.queue_decision_email(record)
        sessions.attempt_changed(attempt, now=now)
    logger.info(
        "Attempt %s: %s by reviewer %s.", attempt.code, clean.decision, reviewer.pk
    )
    return record


def reason_choices() -> list[tuple[StrOrPromise, object]]:
    """The reasons as grouped choices for a select: none, approval, rejection."""
    return [
        ("", _("— choose a reason —")),
        (_("Approval (optional)"), [(r.value, r.label) for r in _APPROVAL]),
        (_("Rejection (required)"), [(r.value, r.label) for r in _REJECTION]),
    ]


_APPROVAL = ReviewDecision.APPROVAL_REASONS
_REJECTION = ReviewDecision.REJECTION_REASONS


def _reasons_for(decision: str) -> tuple[str, ...]:
    if decision == Decision.APPROVED:
        return tuple(r.value for r in _APPROVAL)
    if decision == Decision.REJECTED:
        return tuple(r.value for r in _REJECTION)
    return ()


def _error(code: str) -> ValidationError:
    return ValidationError(MESSAGES[code], code=code)


# Evidence -----------------------------------------------------------------------------


@dataclass
class LinkedAttempt:
    attempt: Attempt
    shares_email: bool
    shares_phone: bool


@dataclass
class LinkedApplicant:
    """Another applicant (another NIK) with attempts sharing this attempt's email
    or phone number."""

    applicant_id: int
    masked_nik: str
    attempts: list[LinkedAttempt] = field(default_factory=list)

    @property
    def shares_email(self) -> bool:
        return any(linked.shares_email for linked in self.attempts)

    @property
    def shares_phone(self) -> bool:
        return any(linked.shares_phone for linked in self.attempts)


@dataclass
class LinkedPanel:
    applicants: list[LinkedApplicant]
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > sum(len(a.attempts) for a in self.applicants)


def _with_decisions(attempts: QuerySet) -> QuerySet:
    return attempts.prefetch_related(
        Prefetch(
            "decisions", queryset=ReviewDecision.objects.select_related("reviewer")
        )
    )


def linked_panel(attempt: Attempt) -> LinkedPanel:
    """Every attempt of every other applicant that used this attempt's email
    address (case-folded, IDNA domain) or phone number (E.164), found through their
    blind indexes, newest first, grouped by applicant; at most LINKED_LIMIT attempts,
    with the total. Nothing is linked through a value that was redacted."""
    shared = Q(pk__in=[])
    if attempt.email_digest:
        shared |= Q(email_digest=attempt.email_digest)
    if attempt.phone_digest:
        shared |= Q(phone_digest=attempt.phone_digest)
    others = Attempt.objects.filter(shared).exclude(applicant_id=attempt.applicant_id)
    total = others.count()
    rows = _with_decisions(
        others.select_related("applicant").order_by("-created_at", "-pk")
    )[:LINKED_LIMIT]
    applicants: dict[int, LinkedApplicant] = {}
    for other in rows:
        entry = applicants.setdefault(
            other.applicant_id,
            LinkedApplicant(other.applicant_id, other.applicant.masked_nik),
        )
        entry.attempts.append(
            LinkedAttempt(
                attempt=other,
                shares_email=bool(attempt.email_digest)
                and other.email_digest == attempt.email_digest,
                shares_phone=bool(attempt.phone_digest)
                and other.phone_digest == attempt.phone_digest,
            )
        )
    return LinkedPanel(applicants=list(applicants.values()), total=total)


def applicant_history(attempt: Attempt) -> QuerySet:
    """Every attempt of this attempt's applicant (this one included), newest first,
    with their decisions."""
    return _with_decisions(
        Attempt.objects.filter(applicant_id=attempt.applicant_id).order_by(
            "-created_at", "-pk"
        )
    )


def reject_field_labels(fields: Iterable[str]) -> list[str]:
    return [str(REJECT_FIELD_LABELS.get(name, name)) for name in fields]


# Search -------------------------------------------------------------------------------


# What a sealed search keeps (in the reviewer's session): the blind-index digests
# of a term that may be a NIK, an email address or a phone number, never the term;
# the term itself only when it can only be a provider's identifier (letters and
# digits mixed, no spaces, no "@": names, emails and phone numbers never qualify).
PROVIDER_ID_PATTERN = re.compile(r"(?=.*\d)(?=.*[^\d\s\-.()+])[\w#:./\-]{3,100}")


def seal_search(term: str) -> dict[str, str | None]:
    """What to keep of an admin search term: the digests to compare and, for a
    provider or reference id, the id. Everything a name or a contact could be is
    reduced to digests; a term that is none of these keeps nothing."""
    term = term.strip()
    digits = re.sub(r"[\s\-.()]", "", term)
    is_number = digits.isascii() and digits.removeprefix("+").isdigit()
    sealed: dict[str, str | None] = {
        "nik": nik_digest(digits) if digits.isdigit() and len(digits) == 16 else None,
        "email": email_digest(term) if "@" in term else None,
        "phone": phone_digest(term) if is_number else None,
        "id": term
        if "@" not in term and not is_number and PROVIDER_ID_PATTERN.fullmatch(term)
        else None,
    }
    return sealed


def sealed_kinds(sealed: dict[str, str | None]) -> list[str]:
    """What a sealed search compares, in a reviewer's words."""
    labels = {
        "nik": _("NIK"),
        "email": _("email address"),
        "phone": _("phone number"),
        "id": _("reference or provider id"),
    }
    return [str(labels[kind]) for kind in labels if sealed.get(kind)]


def attempt_search(sealed: dict[str, str | None]) -> Q:
    """Attempts matching a sealed search (`seal_search`): a NIK (all 16 digits),
    an email address or a phone number (however written) through their blind
    indexes, exactly; a reference id or provider id, any part."""
    query = Q(pk__in=[])
    if sealed.get("nik"):
        query |= Q(applicant__nik_digest=sealed["nik"])
    if sealed.get("email"):
        query |= Q(email_digest=sealed["email"])
    if sealed.get("phone"):
        query |= Q(phone_digest=sealed["phone"])
    if sealed.get("id"):
        query |= Q(reference_id__icontains=sealed["id"]) | Q(
            provider_id__icontains=sealed["id"]
        )
    return query


# Dashboard ----------------------------------------------------------------------------


@dataclass
class Dashboard:
    today: list[tuple[StrOrPromise, int]]
    today_total: int
    pending: int
    unassigned: int
    oldest_pending: datetime | None
    calls_today: CallTotals
    duplicate_purchases: int

    @property
    def oldest_pending_age(self) -> timedelta | None:
        if self.oldest_pending is None:
            return None
        return timezone.now() - self.oldest_pending


def dashboard() -> Dashboard:
    """Today's attempts (since local midnight) by status, in the order of the
    status list; the review queue's size and oldest case; today's provider calls
    and every duplicate purchase so far."""
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    counts = dict(
        Attempt.objects.filter(created_at__gte=midnight)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    queue = ReviewCase.objects.aggregate(
        pending=Count("pk"),
        unassigned=Count("pk", filter=Q(assigned_to__isnull=True)),
        oldest=Min("created_at"),
    )
    return Dashboard(
        today=[(label, counts.get(value, 0)) for value, label in Status.choices],
        today_total=sum(counts.values()),
        pending=queue["pending"],
        unassigned=queue["unassigned"],
        oldest_pending=queue["oldest"],
        calls_today=CallTotals.of(
            ProviderCall.objects.filter(started_at__gte=midnight)
        ),
        duplicate_purchases=ProviderCall.objects.filter(duplicate=True).count(),
    )


# Export -------------------------------------------------------------------------------

# A cell a spreadsheet would read as a formula (or that Excel treats as one after a
# tab or carriage return) is prefixed with an apostrophe, which shows it as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def decision_rows(decisions: QuerySet) -> Iterator[list[str]]:
    """The CSV export of `decisions`, a header then one row each, oldest first;
    every cell made safe to open in a spreadsheet."""
    yield [
        str(label)
        for label in (
            _("attempt"),
            _("reference id"),
            _("masked NIK"),
            _("status"),
            _("decision"),
            _("reason"),
            _("reviewer"),
            _("time"),
            _("internal note"),
        )
    ]
    rows = decisions.select_related("attempt__applicant", "reviewer").order_by(
        "decided_at", "pk"
    )
    for decision in rows:
        attempt = decision.attempt
        yield [
            spreadsheet_safe(value)
            for value in (
                attempt.code,
                attempt.reference_id,
                attempt.applicant.masked_nik,
                attempt.get_status_display(),
                decision.get_decision_display(),
                decision.get_reason_display() if decision.reason else "",
                decision.reviewer.get_username(),
                timezone.localtime(decision.decided_at).isoformat(timespec="seconds"),
                decision.note,
            )
        ]
