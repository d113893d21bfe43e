"""Compliance review of `needs_review` attempts: taking a case, deciding it, the
evidence a reviewer weighs (other applicants sharing the email or phone, the
applicant's history), the admin dashboard's numbers and the CSV export of decisions.

A decision moves the attempt from `needs_review` to `approved` or `rejected` with one
conditional UPDATE (`apply_decision`, the only place that status changes), so that
two reviewers (or two tabs) cannot both decide it: the second finds no row left to
move and is refused.

Four-eyes review (REVIEW_FOUR_EYES: off, rejections, all): a decision it covers is
first a ReviewProposal; the attempt stays `needs_review`, held by its reviewer,
until another reviewer confirms it (then it takes effect, and only then is the
applicant told) or sends it back with a note (a ReviewCheck either way). Nobody
checks their own decision. Both steps are append-only records, and every race is
settled the same way: by a conditional UPDATE of the attempt's row.

Review SLA (REVIEW_SLA_HOURS): a case is overdue once it has waited longer than that
since it entered the queue. Nothing here logs identity data.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, DateTimeField, Min, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from verification import kredibel, outbox
from verification.integrations import sessions
from verification.lookups import email_digest, nik_digest, phone_digest
from verification.models import (
    Applicant,
    Attempt,
    CallTotals,
    ProviderCall,
    ReviewCase,
    ReviewCheck,
    ReviewDecision,
    ReviewProposal,
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
    "send_back_note_required": _(
        "Write a note for the reviewer: what to look at again."
    ),
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


def four_eyes(decision: str) -> bool:
    """Whether a decision of this kind waits for a second reviewer
    (REVIEW_FOUR_EYES: off, rejections, all)."""
    mode = settings.REVIEW_FOUR_EYES
    return mode == "all" or (mode == "rejections" and decision == Decision.REJECTED)


def decide(
    *,
    attempt: Attempt,
    reviewer: User,
    decision: str,
    reason: str = "",
    note: str,
    applicant_message: str = "",
) -> ReviewDecision | ReviewProposal:
    """Record `reviewer`'s decision on an attempt that needs review. Without
    four-eyes review it takes effect at once (`apply_decision`) and is returned; under
    it (`four_eyes`), it is returned as a ReviewProposal that waits for a second
    reviewer (`confirm` or `send_back`), and the attempt stays `needs_review`.

    Raises PermissionDenied when the reviewer may not decide
    (verification.decide_attempt); ValidationError as `clean_decision` does;
    DecisionRefused when the attempt is not waiting for a decision any more, waits
    for a second reviewer already, or another reviewer has taken it. Nothing is
    written when it raises.
    """
    if not reviewer.has_perm(DECIDE_PERMISSION):
        raise PermissionDenied
    clean = clean_decision(
        decision=decision,
        reason=reason,
        note=note,
        applicant_message=applicant_message,
    )
    if four_eyes(clean.decision):
        return _propose(attempt=attempt, reviewer=reviewer, clean=clean)
    with transaction.atomic():
        record = apply_decision(
            attempt_id=attempt.pk,
            reviewer=reviewer,
            clean=clean,
            holder=Q(assigned_to__isnull=True) | Q(assigned_to=reviewer),
        )
    attempt.refresh_from_db()
    return record


def apply_decision(
    *,
    attempt_id: int,
    reviewer: User,
    clean: CleanDecision,
    holder: Q,
    proposal: ReviewProposal | None = None,
    confirmed_by: User | None = None,
) -> ReviewDecision:
    """The one place an attempt leaves review: it moves from `needs_review` to
    `approved` or `rejected`, its ReviewDecision is written and the applicant's
    email goes into the outbox, in the caller's transaction. `holder` says who may
    still hold the case (and, for a confirmation, which proposal it waits for).
    Raises DecisionRefused when no attempt matched: decided already, or held by
    another reviewer."""
    now = timezone.now()
    # One conditional UPDATE, not a read then a write: of two simultaneous
    # decisions the database lets exactly one move the row.
    moved = (
        Attempt.objects.filter(pk=attempt_id, status=Status.NEEDS_REVIEW)
        .filter(holder)
        .update(
            status=clean.decision,
            assigned_to=reviewer,
            assigned_at=Coalesce(
                "assigned_at", Value(now, output_field=DateTimeField())
            ),
            pending_proposal=None,
            updated_at=now,
        )
    )
    if not moved:
        raise DecisionRefused
    record = ReviewDecision.objects.create(
        attempt_id=attempt_id,
        reviewer=reviewer,
        decision=clean.decision,
        reason=clean.reason,
        note=clean.note,
        applicant_message=clean.applicant_message,
        decided_at=now,
        proposal=proposal,
        confirmed_by=confirmed_by,
    )
    outbox.queue_decision_email(record)
    attempt = Attempt.objects.get(pk=attempt_id)
    sessions.attempt_changed(attempt, now=now)
    logger.info(
        "Attempt %s: %s by reviewer %s.", attempt.code, clean.decision, reviewer.pk
    )
    return record


def _propose(
    *, attempt: Attempt, reviewer: User, clean: CleanDecision
) -> ReviewProposal:
    with transaction.atomic():
        # The attempt's row is locked before the proposal is written: the same
        # order as every decision (attempt, then the audit record), so two of them
        # never wait on each other.
        waiting = (
            Attempt.objects.select_for_update()
            .filter(
                pk=attempt.pk,
                status=Status.NEEDS_REVIEW,
                pending_proposal__isnull=True,
            )
            .filter(Q(assigned_to__isnull=True) | Q(assigned_to=reviewer))
            .first()
        )
        if waiting is None:
            raise DecisionRefused
        now = timezone.now()
        proposal = ReviewProposal.objects.create(
            attempt_id=attempt.pk,
            reviewer=reviewer,
            decision=clean.decision,
            reason=clean.reason,
            note=clean.note,
            applicant_message=clean.applicant_message,
            proposed_at=now,
        )
        Attempt.objects.filter(pk=attempt.pk).update(
            pending_proposal=proposal,
            assigned_to=reviewer,
            assigned_at=waiting.assigned_at or now,
            updated_at=now,
        )
    attempt.refresh_from_db()
    logger.info(
        "Attempt %s: %s by reviewer %s, waiting for a second reviewer.",
        attempt.code,
        clean.decision,
        reviewer.pk,
    )
    return proposal


class OwnDecision(DecisionRefused):
    """A reviewer tried to confirm or send back their own decision."""


def confirm(
    *, proposal: ReviewProposal, reviewer: User, note: str = ""
) -> ReviewDecision:
    """A second reviewer confirms a proposal: it takes effect (`apply_decision`,
    recorded as the proposer's decision, confirmed by `reviewer`) and the applicant
    is emailed. Raises PermissionDenied as `decide` does; OwnDecision for the
    proposal's own reviewer; DecisionRefused when the proposal no longer waits
    (confirmed or sent back by someone else first)."""
    _may_check(proposal, reviewer)
    clean = CleanDecision(
        decision=proposal.decision,
        reason=proposal.reason,
        note=proposal.note,
        applicant_message=proposal.applicant_message,
    )
    with transaction.atomic():
        record = apply_decision(
            attempt_id=proposal.attempt_id,
            reviewer=proposal.reviewer,
            clean=clean,
            holder=Q(pending_proposal=proposal),
            proposal=proposal,
            confirmed_by=reviewer,
        )
        ReviewCheck.objects.create(
            proposal=proposal,
            reviewer=reviewer,
            proposed_by_id=proposal.reviewer_id,
            verdict=ReviewCheck.Verdict.CONFIRMED,
            note=(note or "").strip(),
            checked_at=record.decided_at,
        )
    return record


def send_back(*, proposal: ReviewProposal, reviewer: User, note: str) -> ReviewCheck:
    """A second reviewer sends a proposal back to its reviewer with a note (what to
    look at again): the case waits for a new decision, held by the same reviewer,
    and the applicant hears nothing. Raises as `confirm` does, and ValidationError
    without a note."""
    _may_check(proposal, reviewer)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _error("send_back_note_required")})
    with transaction.atomic():
        now = timezone.now()
        moved = Attempt.objects.filter(
            pk=proposal.attempt_id,
            status=Status.NEEDS_REVIEW,
            pending_proposal=proposal,
        ).update(pending_proposal=None, updated_at=now)
        if not moved:
            raise DecisionRefused
        check = ReviewCheck.objects.create(
            proposal=proposal,
            reviewer=reviewer,
            proposed_by_id=proposal.reviewer_id,
            verdict=ReviewCheck.Verdict.SENT_BACK,
            note=note,
            checked_at=now,
        )
    code = (
        Attempt.objects.filter(pk=proposal.attempt_id)
        .values_list("code", flat=True)
        .get()
    )
    logger.info("Attempt %s: decision sent back by reviewer %s.", code, reviewer.pk)
    return check


def _may_check(proposal: ReviewProposal, reviewer: User) -> None:
    if not reviewer.has_perm(DECIDE_PERMISSION):
        raise PermissionDenied
    if proposal.reviewer_id == reviewer.pk:
        raise OwnDecision


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


# The most attempts a search by provider id follows through their calls.
SEARCH_CALLS_LIMIT = 1000
# A provider's id shorter than this is matched whole; from it on, as a prefix.
ID_PREFIX_MIN = 8


def id_match(term: str, *fields: str) -> Q:
    """`term` against the provider's ids in `fields`: whole, or as a prefix when it
    is long enough to narrow the list (read off the ids' indexes, never a scan).
    A reference id may be typed without the provider's `ref_certel#` in front."""
    query = Q(pk__in=[])
    for name in fields:
        terms = [term]
        if name == "reference_id" and not term.startswith(kredibel.REFERENCE_PREFIX):
            terms.append(kredibel.REFERENCE_PREFIX + term)
        for value in terms:
            lookup = "startswith" if len(term) >= ID_PREFIX_MIN else "exact"
            query |= Q(**{f"{name}__{lookup}": value})
    return query


def attempt_search(sealed: dict[str, str | None]) -> Q:
    """Attempts matching a sealed search (`seal_search`), each part an exact match
    on an index: a NIK (all 16 digits) through the applicant found first by its
    blind index; an email address or a phone number (however written) through
    theirs; a reference id or provider id, whole or as a prefix, on the attempt and
    on its calls (a duplicate purchase's ids are on its call only)."""
    query = Q(pk__in=[])
    if sealed.get("nik"):
        applicant = (
            Applicant.objects.filter(nik_digest=sealed["nik"])
            .values_list("pk", flat=True)
            .first()
        )
        if applicant is not None:
            query |= Q(applicant_id=applicant)
    if sealed.get("email"):
        query |= Q(email_digest=sealed["email"])
    if sealed.get("phone"):
        query |= Q(phone_digest=sealed["phone"])
    if term := sealed.get("id"):
        query |= id_match(term, "reference_id", "provider_id")
        called = list(
            ProviderCall.objects.filter(id_match(term, "reference_id", "provider_id"))
            .values_list("attempt_id", flat=True)
            .order_by()
            .distinct()[:SEARCH_CALLS_LIMIT]
        )
        if called:
            query |= Q(pk__in=called)
    return query


# Dashboard ----------------------------------------------------------------------------


# The review SLA -----------------------------------------------------------------------


def sla() -> timedelta:
    return timedelta(hours=settings.REVIEW_SLA_HOURS)


def entered_review(attempt: Attempt) -> datetime:
    """When the attempt joined the queue: the provider's answer that sent it there."""
    return attempt.finished_at or attempt.created_at


def answer_due(attempt: Attempt) -> datetime:
    """By when the applicant should have a decision (REVIEW_SLA_HOURS)."""
    return entered_review(attempt) + sla()


def is_overdue(attempt: Attempt, *, now: datetime | None = None) -> bool:
    return attempt.status == Status.NEEDS_REVIEW and answer_due(attempt) < (
        now or timezone.now()
    )


def overdue(now: datetime | None = None) -> Q:
    """Cases waiting longer than the SLA (read off the queue's own index)."""
    cutoff = (now or timezone.now()) - sla()
    return Q(status=Status.NEEDS_REVIEW, finished_at__lt=cutoff)


# Dashboard ----------------------------------------------------------------------------


@dataclass
class Dashboard:
    today: list[tuple[StrOrPromise, int]]
    today_total: int
    pending: int
    unassigned: int
    oldest_pending: datetime | None
    overdue: int
    awaiting_check: int
    sla_hours: float
    calls_today: CallTotals
    duplicate_purchases: int

    @property
    def oldest_pending_age(self) -> timedelta | None:
        if self.oldest_pending is None:
            return None
        return timezone.now() - self.oldest_pending


def dashboard() -> Dashboard:
    """Today's attempts (since local midnight) by status, in the order of the
    status list; the review queue's size, its oldest case, the cases past the SLA
    and those waiting for a second reviewer; today's provider calls and every
    duplicate purchase so far. Each a query on an index, whatever the tables hold."""
    now = timezone.now()
    midnight = timezone.localtime(now).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    counts = dict(
        Attempt.objects.filter(created_at__gte=midnight)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    cutoff = now - sla()
    queue = ReviewCase.objects.aggregate(
        pending=Count("pk"),
        unassigned=Count("pk", filter=Q(assigned_to__isnull=True)),
        oldest=Min("created_at"),
        overdue=Count("pk", filter=Q(finished_at__lt=cutoff)),
        awaiting_check=Count("pk", filter=Q(pending_proposal__isnull=False)),
    )
    return Dashboard(
        today=[(label, counts.get(value, 0)) for value, label in Status.choices],
        today_total=sum(counts.values()),
        pending=queue["pending"],
        unassigned=queue["unassigned"],
        oldest_pending=queue["oldest"],
        overdue=queue["overdue"],
        awaiting_check=queue["awaiting_check"],
        sla_hours=settings.REVIEW_SLA_HOURS,
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
