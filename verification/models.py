"""Applicants, their verification attempts, and the record of every provider call.

An Applicant is one person, found again by NIK through a keyed digest (so the lookup
never needs the plain NIK). Every identity value (NIK, name, birth date, email, phone)
is stored encrypted (verification.fields) and found through keyed blind indexes
(verification.lookups); photos are encrypted by the storage (verification.storage).
An Attempt is one submission and where it stands:

    queued -> verifying -> verified | not_verified | needs_review | failed
    needs_review -> approved | rejected            (by a compliance reviewer)

Between automatic retries an attempt goes back to `queued` with `next_try_at` set.

Every provider call is a ProviderCall, written before the request leaves; the
provider's answer is saved on it first, then applied to the attempt. The first
definite answer decides the attempt (`Attempt.provider_id` is set once); any later
one is kept too, flagged as a duplicate purchase. The ProviderGate holds what all
workers share about the provider (the circuit breaker), and an OutboxEmail is one
email to an applicant, sent by the worker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from verification import chain, tokens
from verification.fields import (
    BlindIndexField,
    EncryptedCharField,
    EncryptedDateField,
    EncryptedEmailField,
    Unreadable,
    encrypted_fields,
)
from verification.lookups import email_digest, nik_digest, phone_digest

STATUS_LINK_SALT = "verification.attempt.status-link"

__all__ = ["nik_digest"]  # found here by the code that looks applicants up


def mask_nik(nik: str) -> str:
    """First 6 and last 4 digits visible, the rest hidden: `123456******1111`.

    The visible part names a district and tells two NIKs apart without giving away
    the birth date. Never raises: anything that is not sixteen ASCII digits is masked
    completely, so that a list or a log line cannot leak it.
    """
    if len(nik) != 16 or not nik.isascii() or not nik.isdigit():
        return "*" * len(nik)
    return f"{nik[:6]}{'*' * 6}{nik[-4:]}"


class UnreadableFields:
    """For models with encrypted fields: which values the configured keys cannot
    decrypt, so that a page or a command can report them for this record."""

    def unreadable_fields(self) -> list[str]:
        return [
            field.name
            for field in encrypted_fields(type(self))  # type: ignore[arg-type]
            if isinstance(getattr(self, field.attname), Unreadable)
        ]


class Applicant(UnreadableFields, models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    nik = EncryptedCharField(_("NIK"), max_length=16, blank=True)
    # Null once redacted (erasure or retention): the person is not found again.
    nik_digest = BlindIndexField(
        source="nik", digest=nik_digest, unique=True, null=True
    )
    # Kept in plain for lists and for the minimal audit record that outlives the NIK.
    nik_masked = models.CharField(
        _("masked NIK"), max_length=16, default="", editable=False
    )
    created_at = models.DateTimeField(_("first seen"), default=timezone.now)
    redacted_at = models.DateTimeField(
        _("identity data removed"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("applicant")
        verbose_name_plural = _("applicants")

    def __str__(self) -> str:
        return self.masked_nik

    def save(self, *args: object, **kwargs: object) -> None:
        if self.nik and not isinstance(self.nik, Unreadable):
            self.nik_masked = mask_nik(self.nik)
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def masked_nik(self) -> str:
        return self.nik_masked

    @classmethod
    def for_nik(cls, nik: str) -> Applicant:
        applicant, _ = cls.objects.get_or_create(
            nik_digest=nik_digest(nik), defaults={"nik": nik}
        )
        return applicant


def _image_path(kind: str):
    def path(attempt: Attempt, filename: str) -> str:
        # Named by the attempt's random code: the path says nothing about the person.
        return f"attempts/{attempt.code}/{kind}.jpg"

    path.__name__ = f"{kind}_image_path"
    path.__qualname__ = path.__name__
    return path


face_image_path = _image_path("face")
identity_image_path = _image_path("identity")


class Attempt(UnreadableFields, models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        VERIFYING = "verifying", _("Verifying")
        VERIFIED = "verified", _("Verified")
        NOT_VERIFIED = "not_verified", _("Not verified")
        NEEDS_REVIEW = "needs_review", _("Needs review")
        FAILED = "failed", _("Failed")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    class Failure(models.TextChoices):
        PROVIDER_UNAVAILABLE = "provider_unavailable", _("Provider unavailable")
        OUTCOME_UNKNOWN = "outcome_unknown", _("Provider answer lost")
        INVALID_REQUEST = "invalid_request", _("Provider refused our request")
        AUTHENTICATION = "authentication_failed", _("Provider refused our API key")
        MALFORMED_RESPONSE = "malformed_response", _("Provider answer unreadable")
        # TLS refused, a redirect, an unknown path: the provider's address or our
        # configuration is wrong, and trying again will not change that.
        CONFIGURATION = "configuration", _("Provider not reachable as configured")

    # Statuses in which a worker will still act on the attempt.
    IN_PROGRESS = (Status.QUEUED, Status.VERIFYING)
    # Failures that need an operator: the request, the key or the address is wrong.
    OUR_FAULT = (
        Failure.INVALID_REQUEST,
        Failure.AUTHENTICATION,
        Failure.MALFORMED_RESPONSE,
        Failure.CONFIGURATION,
    )

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    applicant = models.ForeignKey(
        Applicant, models.PROTECT, related_name="attempts", verbose_name=_("applicant")
    )
    retry_of = models.ForeignKey(
        "self",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="retries",
        verbose_name=_("corrects attempt"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status, default=Status.QUEUED
    )

    # What the applicant sent, normalised; encrypted, and blank once redacted.
    full_name = EncryptedCharField(_("full name"), max_length=100, blank=True)
    birth_date = EncryptedDateField(_("birth date"), null=True, blank=True)
    email_address = EncryptedEmailField(_("email address"), max_length=254, blank=True)
    phone_number = EncryptedCharField(_("phone number"), max_length=16, blank=True)
    # Blind indexes: the linked panel, the admin search and later lookups compare
    # these, exactly.
    email_digest = BlindIndexField(
        source="email_address", digest=email_digest, db_index=True, default=""
    )
    phone_digest = BlindIndexField(
        source="phone_number", digest=phone_digest, db_index=True, default=""
    )
    face_image = models.FileField(_("selfie"), upload_to=face_image_path, blank=True)
    identity_image = models.FileField(
        _("KTP photo"), upload_to=identity_image_path, blank=True
    )
    birth_date_confirmed = models.BooleanField(
        _("birth date confirmed against the NIK"), default=False
    )
    # Codes of the photo quality warnings the applicant saw and sent anyway
    # (onboarding.quality: no_face, several_faces, glare); never identity data.
    photo_warnings = models.JSONField(
        _("photo warnings sent anyway"), default=list, blank=True
    )
    consent_version = models.CharField(_("privacy notice version"), max_length=20)
    consented_at = models.DateTimeField(_("consent given at"))
    language = models.CharField(_("language"), max_length=8, default="id")

    # The provider's answer.
    provider_id = models.CharField(_("provider id"), max_length=64, blank=True)
    reference_id = models.CharField(_("reference id"), max_length=100, blank=True)
    reject_fields = models.JSONField(_("rejected fields"), default=list, blank=True)
    error_id = models.CharField(_("provider error id"), max_length=64, blank=True)
    failure = models.CharField(_("failure"), max_length=30, choices=Failure, blank=True)
    provider_field_errors = models.JSONField(
        _("provider's field messages"), default=dict, blank=True
    )

    # Processing.
    tries = models.PositiveSmallIntegerField(_("provider calls"), default=0)
    unknown_outcomes = models.PositiveSmallIntegerField(
        _("calls with a lost answer"), default=0
    )
    applicant_retries = models.PositiveSmallIntegerField(
        _("retries asked by the applicant"), default=0
    )
    next_try_at = models.DateTimeField(_("next try at"), null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    submission = models.UUIDField(unique=True, null=True, blank=True, editable=False)
    # The random id of the browser session that sent it (not a person's identifier).
    browser = models.CharField(max_length=64, blank=True, editable=False)
    # The keyed digest of the client address it was sent from (never the address),
    # for the limit on sends per address (verification.submission).
    client_digest = models.CharField(max_length=64, blank=True, editable=False)

    created_at = models.DateTimeField(_("submitted"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Retention and erasure (verification.retention, verification.subjects).
    photos_deleted_at = models.DateTimeField(_("photos deleted"), null=True, blank=True)
    redacted_at = models.DateTimeField(
        _("identity data removed"), null=True, blank=True
    )

    # Compliance review: the reviewer who took the case, so that two reviewers do
    # not work the same one (see verification.reviews).
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_attempts",
        verbose_name=_("assigned to"),
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    # Four-eyes review (REVIEW_FOUR_EYES): a reviewer's decision waiting for a
    # second reviewer's confirmation; the attempt stays `needs_review` meanwhile.
    pending_proposal = models.OneToOneField(
        "ReviewProposal",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decision waiting for a second reviewer"),
    )

    class Meta:
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        ordering = ["-created_at"]
        # What the admin's lists, filters, search and dashboard read at a million
        # attempts (bench/admin_scale.py checks each with EXPLAIN): every list is
        # ordered newest first with the pk as tie-breaker, so each index ends in
        # (created_at, id) and a page is read off the index, never sorted.
        indexes = [
            # The status last: today's attempts by status come off the index.
            models.Index(
                fields=["created_at", "id", "status"],
                name="verification_attempt_newest",
            ),
            models.Index(
                fields=["status", "created_at", "id"],
                name="verification_attempt_status",
            ),
            # The review SLA: cases in the queue by the time they entered it.
            models.Index(
                fields=["finished_at"],
                condition=models.Q(status="needs_review"),
                name="verification_attempt_in_review",
            ),
            # Exact and prefix search on the provider's ids (LIKE 'abc%').
            models.Index(
                fields=["provider_id"],
                opclasses=["varchar_pattern_ops"],
                name="verification_attempt_provider",
            ),
            models.Index(
                fields=["reference_id"],
                opclasses=["varchar_pattern_ops"],
                name="verification_attempt_reference",
            ),
            # The limits at the door: a browser's and an address's recent sends.
            models.Index(
                fields=["browser", "created_at"],
                name="verification_attempt_browser",
            ),
            models.Index(
                fields=["client_digest", "created_at"],
                condition=~models.Q(client_digest=""),
                name="verification_attempt_client",
            ),
        ]
        permissions = [
            ("decide_attempt", "Can approve or reject attempts that need review"),
            ("view_identity_images", "Can view selfies and KTP photos"),
        ]

    def __str__(self) -> str:
        return str(self.code)

    @property
    def in_progress(self) -> bool:
        return self.status in self.IN_PROGRESS

    def signed_token(self) -> str:
        """A token for the signed status link: it reopens this attempt's status
        page in any browser until STATUS_LINK_MAX_AGE_DAYS have passed."""
        return tokens.sign(self.code, salt=STATUS_LINK_SALT)

    @classmethod
    def from_signed_token(cls, token: str) -> Attempt | None:
        max_age = timedelta(days=settings.STATUS_LINK_MAX_AGE_DAYS)
        code = tokens.read(token, salt=STATUS_LINK_SALT, max_age=max_age)
        return cls.objects.filter(code=code).first() if code else None

    # Moving through the states (the caller saves, inside its transaction) --------

    def fail(self, failure: Failure, *, now: datetime) -> None:
        self.status = self.Status.FAILED
        self.failure = failure
        self._release(now)
        self.finished_at = now

    def requeue(self, *, at: datetime, now: datetime) -> None:
        """Back to `queued` for another try at `at` (the caller queues the task)."""
        self.status = self.Status.QUEUED
        self._release(now)
        self.next_try_at = at

    def _release(self, now: datetime) -> None:
        self.lease_token = None
        self.lease_expires_at = None
        self.next_try_at = None
        self.updated_at = now

    @property
    def has_answer(self) -> bool:
        """Whether a definite answer from the provider decided this attempt."""
        return bool(self.provider_id)

    @property
    def latest_decision(self) -> ReviewDecision | None:
        """The compliance reviewer's decision on this attempt, or None. An attempt
        is decided at most once; `applicant_message` is what the applicant may read
        (never show `note`, which is internal)."""
        return self.decisions.order_by("-decided_at", "-pk").first()


class ProviderCall(models.Model):
    """One request to the provider, saved before it is sent and completed after:
    the ledger of what was bought. `provider_id` and `reference_id` match it with
    the provider's invoice; `answer` keeps what the provider answered (its
    documented ids, status and rejected field names, never our request)."""

    class Charged(models.TextChoices):
        YES = "yes", _("Yes")
        NO = "no", _("No")
        UNKNOWN = "unknown", _("Unknown (answer lost)")

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Waiting for the answer")
        VERIFIED = "verified", _("Verified")
        NOT_VERIFIED = "not_verified", _("Not verified")
        VERIFIED_WITH_REASON = "verified_with_reason", _("Verified with reason")
        INVALID_REQUEST = "invalid_request", _("Request refused (validation)")
        AUTHENTICATION_FAILED = "authentication_failed", _("API key refused")
        RATE_LIMITED = "rate_limited", _("Rate limited")
        PROVIDER_ERROR = "provider_error", _("Provider error")
        CONNECT_TIMEOUT = "connect_timeout", _("Connect timeout")
        READ_TIMEOUT = "read_timeout", _("Read timeout")
        DEADLINE_EXCEEDED = "deadline_exceeded", _("No answer by the call deadline")
        CONNECTION_FAILED = "connection_failed", _("Connection failed")
        MALFORMED_RESPONSE = "malformed_response", _("Unreadable answer")
        LOST = "lost", _("Worker stopped during the call")

    # Outcomes that carry the provider's verdict.
    DEFINITE = (
        Outcome.VERIFIED,
        Outcome.NOT_VERIFIED,
        Outcome.VERIFIED_WITH_REASON,
    )

    attempt = models.ForeignKey(
        Attempt, models.CASCADE, related_name="calls", verbose_name=_("attempt")
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("answered"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(
        _("HTTP status"), null=True, blank=True
    )
    outcome = models.CharField(
        _("outcome"), max_length=30, choices=Outcome, default=Outcome.PENDING
    )
    charged = models.CharField(
        _("charged"), max_length=10, choices=Charged, default=Charged.UNKNOWN
    )
    provider_id = models.CharField(_("provider id"), max_length=64, blank=True)
    reference_id = models.CharField(_("reference id"), max_length=100, blank=True)
    duplicate = models.BooleanField(
        _("duplicate purchase"),
        default=False,
        help_text=_("A definite answer for an attempt that already had one."),
    )
    answer = models.JSONField(_("provider's answer"), default=dict, blank=True)
    # A `not_verified` answer for a failed liveness check: the provider charges
    # only the liveness check for it (LEDGER_LIVENESS_PRICE_IDR).
    liveness_only = models.BooleanField(_("liveness check only"), default=False)
    error_id = models.CharField(_("provider error id"), max_length=64, blank=True)
    error_type = models.CharField(_("provider error type"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("provider call")
        verbose_name_plural = _("provider calls")
        ordering = ["started_at", "pk"]
        indexes = [
            # The cost ledger: newest first, by day and month, by outcome and by
            # charge, and its totals read from the index alone.
            models.Index(
                fields=[
                    "started_at",
                    "id",
                    "charged",
                    "outcome",
                    "duplicate",
                    "liveness_only",
                ],
                name="verification_call_newest",
            ),
            models.Index(
                fields=["charged", "started_at", "id"],
                name="verification_call_charged",
            ),
            models.Index(
                fields=["outcome", "started_at", "id"],
                name="verification_call_outcome",
            ),
            models.Index(
                fields=["provider_id"],
                opclasses=["varchar_pattern_ops"],
                name="verification_call_provider",
            ),
            models.Index(
                fields=["reference_id"],
                opclasses=["varchar_pattern_ops"],
                name="verification_call_reference",
            ),
            models.Index(
                fields=["attempt"],
                condition=models.Q(duplicate=True),
                name="verification_call_duplicates",
            ),
            # The ledger's "paid twice" of a month.
            models.Index(
                fields=["started_at", "id"],
                condition=models.Q(duplicate=True),
                name="verification_call_paid_twice",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.started_at:%Y-%m-%d %H:%M:%S})"

    @property
    def is_definite(self) -> bool:
        return self.outcome in self.DEFINITE


@dataclass(frozen=True)
class CallTotals:
    """What a set of provider calls cost: how many were made, charged for sure,
    possibly charged (answer lost), and how many bought an answer twice."""

    calls: int
    charged: int
    unknown: int
    duplicates: int

    @classmethod
    def of(cls, calls: models.QuerySet[ProviderCall]) -> CallTotals:
        totals = calls.aggregate(
            n_calls=models.Count("pk"),
            n_charged=models.Count("pk", filter=models.Q(charged="yes")),
            n_unknown=models.Count("pk", filter=models.Q(charged="unknown")),
            n_duplicates=models.Count("pk", filter=models.Q(duplicate=True)),
        )
        return cls(
            calls=totals["n_calls"],
            charged=totals["n_charged"],
            unknown=totals["n_unknown"],
            duplicates=totals["n_duplicates"],
        )


class LedgerDay(models.Model):
    """The cost ledger's sums for one local calendar day, kept once the day is
    settled (verification.ledger.SETTLED_DAYS old): its calls no longer change."""

    day = models.DateField(_("day"), unique=True)
    calls = models.PositiveIntegerField(default=0)
    charged = models.PositiveIntegerField(default=0)
    liveness_only = models.PositiveIntegerField(default=0)
    unknown = models.PositiveIntegerField(default=0)
    not_charged = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    duplicates_liveness_only = models.PositiveIntegerField(default=0)
    summed_at = models.DateTimeField(default=timezone.now)

    COUNTED = (
        "calls",
        "charged",
        "liveness_only",
        "unknown",
        "not_charged",
        "duplicates",
        "duplicates_liveness_only",
    )

    class Meta:
        verbose_name = _("cost ledger day")
        verbose_name_plural = _("cost ledger days")

    def __str__(self) -> str:
        return self.day.isoformat()

    @classmethod
    def of(cls, day: Any, totals: Any) -> LedgerDay:
        return cls(day=day, **{name: getattr(totals, name) for name in cls.COUNTED})

    def totals(self) -> Any:
        from verification.ledger import Totals

        return Totals(**{name: getattr(self, name) for name in self.COUNTED})


class ProviderGate(models.Model):
    """What every worker shares about the provider: one row (pk=1).

    The circuit breaker: `failures` counts provider failures in a row; at
    VERIFY_BREAKER_FAILURES the circuit opens until `open_until` and nobody calls;
    then a single call probes (`probe_until` marks it in flight), and its outcome
    closes the circuit or opens it again for twice as long. Claims of attempts lock
    this row, which also keeps calls in flight within VERIFY_MAX_IN_FLIGHT.
    """

    failures = models.PositiveIntegerField(default=0)
    open_until = models.DateTimeField(null=True, blank=True)
    cooldown_seconds = models.FloatField(default=0)
    probe_until = models.DateTimeField(null=True, blank=True)
    opened_count = models.PositiveIntegerField(_("times opened"), default=0)
    # The last local day whose budget of provider calls (DAILY_VERIFICATION_BUDGET)
    # was spent and the operators told (verification.budget).
    budget_spent_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("provider gate")
        verbose_name_plural = _("provider gate")

    def __str__(self) -> str:
        return f"provider gate ({self.state(timezone.now())})"

    @classmethod
    def load(cls) -> ProviderGate:
        return cls.objects.get_or_create(pk=1)[0]

    def state(self, now: datetime) -> str:
        """closed, open, or half_open (open, with its cooldown over)."""
        if self.open_until is None:
            return "closed"
        return "open" if now < self.open_until else "half_open"


class ClientAddress(models.Model):
    """One row per client address that sent an application (or asked for an email
    code) recently, by its keyed digest (never the address): held while that
    address's sends are counted, so that two sends at once cannot both slip under
    VERIFICATIONS_PER_IP_PER_HOUR (or EMAIL_CODES_PER_IP_PER_HOUR, onboarding.models).
    Rows unused for a day are deleted by the retention pass."""

    digest = models.CharField(max_length=64, unique=True)
    last_sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("client address")
        verbose_name_plural = _("client addresses")

    def __str__(self) -> str:
        return self.digest[:12]

    @classmethod
    def hold(cls, digest: str, *, now: datetime) -> None:
        """Lock the address's row until the transaction ends (made if missing)."""
        cls.objects.get_or_create(digest=digest, defaults={"last_sent_at": now})
        # The update locks the row (PostgreSQL) until the transaction ends; SQLite
        # runs one writing transaction at a time anyway.
        cls.objects.filter(digest=digest).update(last_sent_at=now)


class OutboxEmail(models.Model):
    """One email to an applicant, written in the same transaction as what it
    tells and sent by the worker (verification.outbox). It holds no address and no
    text: both are read from the attempt and rendered when it is sent."""

    class Kind(models.TextChoices):
        OUTCOME = "outcome", _("Outcome")
        DECISION = "decision", _("Reviewer's decision")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Gave up")
        SUPERSEDED = "superseded", _("Not sent: a newer outcome followed")
        ERASED = "erased", _("Not sent: the address was erased")

    attempt = models.ForeignKey(
        Attempt, models.CASCADE, related_name="emails", verbose_name=_("attempt")
    )
    decision = models.OneToOneField(
        "ReviewDecision",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="email",
        verbose_name=_("decision"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind)
    # The attempt's status the email tells of.
    about = models.CharField(_("about"), max_length=20, choices=Attempt.Status)
    state = models.CharField(
        _("state"), max_length=12, choices=State, default=State.PENDING
    )
    tries = models.PositiveSmallIntegerField(_("tries"), default=0)
    next_try_at = models.DateTimeField(_("next try at"), null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The failure's kind (an exception class, an SMTP code), never its text, which
    # may carry the address.
    last_error = models.CharField(_("last error"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("email to an applicant")
        verbose_name_plural = _("emails to applicants")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["state", "next_try_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_state_display()}"


# Compliance review -----------------------------------------------------------------


class ReviewCaseManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(status=Attempt.Status.NEEDS_REVIEW)


class ReviewCase(Attempt):
    """The review queue: attempts that need a reviewer's decision and have none yet
    (a decision moves an attempt out of `needs_review`)."""

    objects: ClassVar[ReviewCaseManager] = ReviewCaseManager()

    class Meta:
        proxy = True
        verbose_name = _("review case")
        verbose_name_plural = _("review queue")
        ordering = ["created_at"]


class RecordIsAppendOnly(Exception):
    """An append-only record (a review decision, an image access) cannot be changed
    or deleted once written."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise RecordIsAppendOnly(f"{self.model.__name__} rows cannot be updated.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise RecordIsAppendOnly(f"{self.model.__name__} rows cannot be deleted.")


class ChainHead(models.Model):
    """The end of the audit chain (verification.chain): the place and hash of the
    last record written. One row, locked by every append, so records take their
    places one after another."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="", blank=True)

    class Meta:
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain head")

    def __str__(self) -> str:
        return f"#{self.seq} {self.hash[:12]}"


class AppendOnly(models.Model):
    """A record that is inserted once and never changed or deleted: save() of an
    existing row, delete(), and bulk update()/delete() raise RecordIsAppendOnly.
    On PostgreSQL a trigger refuses the same at the database (migrations 0007 and
    0012). Every one takes the next place in the audit chain as it is written
    (verification.chain; checked by `manage.py verify_audit_chain`).

    The one change allowed is `redact()`: the personal text in REDACTABLE (and the
    salt of its digest) blanked and `redacted_at` stamped, once, nothing else
    touched (what the trigger recognises); the redaction is recorded in the chain.
    """

    # Columns of personal text an erasure or the retention job blanks.
    REDACTABLE: tuple[str, ...] = ()

    chain_seq = models.PositiveBigIntegerField(
        _("audit chain place"), unique=True, null=True, editable=False
    )
    chain_prev = models.CharField(max_length=64, default="", editable=False)
    chain_hash = models.CharField(
        _("audit chain hash"), max_length=64, default="", editable=False
    )
    # The free text enters the chain through its salted digest (blanked with it).
    text_salt = models.CharField(max_length=32, default="", editable=False)
    text_digest = models.CharField(max_length=64, default="", editable=False)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise RecordIsAppendOnly(f"{type(self).__name__} rows cannot be changed.")
        with transaction.atomic(using=kwargs.get("using")):
            self._seal()
            super().save(*args, **kwargs)

    def _seal(self) -> None:
        """Take the next place in the chain (the head's row stays locked until the
        surrounding transaction ends, so places follow the order of commits)."""
        ChainHead.objects.get_or_create(pk=1)
        head = ChainHead.objects.select_for_update().get(pk=1)
        if self.REDACTABLE:
            self.text_salt = chain.new_salt()
            self.text_digest = chain.text_digest(
                self.text_salt, (getattr(self, name) for name in self.REDACTABLE)
            )
        self.chain_seq = head.seq + 1
        self.chain_prev = head.hash
        body = chain.content(
            self._meta.label_lower,
            self.chain_seq,
            chain.columns_of(self),
            self.REDACTABLE,
        )
        self.chain_hash = chain.link(self.chain_prev, body)
        head.seq, head.hash = self.chain_seq, self.chain_hash
        head.save(update_fields=["seq", "hash"])

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise RecordIsAppendOnly(f"{type(self).__name__} rows cannot be deleted.")

    @classmethod
    def redact(cls, records: models.QuerySet) -> int:
        """Blank the personal text of `records` not yet redacted and stamp them,
        recording each redaction in the audit chain; returns how many. The only
        UPDATE an append-only record accepts."""
        if not cls.REDACTABLE:
            return 0
        with transaction.atomic():
            pending = records.filter(redacted_at__isnull=True).select_for_update()
            found = list(pending.values_list("pk", "chain_seq"))
            if not found:
                return 0
            now = timezone.now()
            blanks: dict[str, object] = dict.fromkeys(
                (*cls.REDACTABLE, "text_salt"), ""
            )
            # QuerySet.update itself: AppendOnlyQuerySet refuses every other update.
            count = models.QuerySet.update(
                cls._base_manager.filter(pk__in=[pk for pk, _ in found]),
                **blanks,
                redacted_at=now,
            )
            for _pk, seq in found:
                if seq is not None:
                    Redaction.objects.create(
                        record=cls._meta.label_lower, record_seq=seq, performed_at=now
                    )
        return count


class ReviewDecision(AppendOnly):
    """A compliance reviewer's decision on an attempt that needed review: who, what,
    why (reason and internal note), what the applicant was told, and when.

    Written only by `verification.reviews.decide`, together with the attempt's move
    to `approved` or `rejected`; an attempt is decided at most once.
    """

    class Decision(models.TextChoices):
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    class Reason(models.TextChoices):
        # Why an approval was safe despite the shared contact (optional).
        SHARED_HOUSEHOLD = "shared_household", _("Contact shared within a family")
        CONTACT_REASSIGNED = (
            "contact_reassigned",
            _("Contact previously used by someone else"),
        )
        APPROVED_OTHER = "approved_other", _("Other approval reason (see the note)")
        # Why a rejection (required).
        CONTACT_OF_ANOTHER_PERSON = (
            "contact_of_another_person",
            _("Email or phone belongs to another person"),
        )
        FACE_MISMATCH = "face_mismatch", _("Selfie does not match the KTP photo")
        KTP_DOUBTFUL = "ktp_doubtful", _("KTP photo unreadable or altered")
        SUSPECTED_FRAUD = "suspected_fraud", _("Suspected identity fraud")
        REJECTED_OTHER = "rejected_other", _("Other rejection reason (see the note)")

    APPROVAL_REASONS = (
        Reason.SHARED_HOUSEHOLD,
        Reason.CONTACT_REASSIGNED,
        Reason.APPROVED_OTHER,
    )
    REJECTION_REASONS = (
        Reason.CONTACT_OF_ANOTHER_PERSON,
        Reason.FACE_MISMATCH,
        Reason.KTP_DOUBTFUL,
        Reason.SUSPECTED_FRAUD,
        Reason.REJECTED_OTHER,
    )

    attempt = models.ForeignKey(
        Attempt, models.PROTECT, related_name="decisions", verbose_name=_("attempt")
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="review_decisions",
        verbose_name=_("reviewer"),
    )
    decision = models.CharField(_("decision"), max_length=20, choices=Decision)
    reason = models.CharField(_("reason"), max_length=40, choices=Reason, blank=True)
    note = models.TextField(_("internal note"))
    applicant_message = models.TextField(_("message to the applicant"), blank=True)
    decided_at = models.DateTimeField(_("decided at"), default=timezone.now)
    redacted_at = models.DateTimeField(
        _("personal text removed"), null=True, blank=True
    )
    # Under four-eyes review: the proposal this decision confirmed (the reviewer
    # above made it) and the second reviewer who confirmed it.
    proposal = models.OneToOneField(
        "ReviewProposal",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="outcome",
        verbose_name=_("proposal"),
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="confirmed_decisions",
        verbose_name=_("confirmed by"),
    )

    # The reviewer's free text may name the person; decision and reason stay.
    REDACTABLE = ("note", "applicant_message")

    class Meta:
        verbose_name = _("review decision")
        verbose_name_plural = _("review decisions")
        ordering = ["-decided_at", "-pk"]
        indexes = [
            models.Index(
                fields=["decided_at", "id"], name="verification_decision_newest"
            ),
            models.Index(
                fields=["decision", "decided_at", "id"],
                name="verification_decision_kind",
            ),
            models.Index(
                fields=["reason", "decided_at", "id"],
                name="verification_decision_reason",
            ),
        ]
        constraints = [
            # Backs up the conditional update in reviews.decide at the database.
            models.UniqueConstraint(
                fields=["attempt"], name="verification_one_decision_per_attempt"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} ({self.decided_at:%Y-%m-%d %H:%M})"


class ReviewProposal(AppendOnly):
    """Under four-eyes review (REVIEW_FOUR_EYES), the first step of a decision: what
    a reviewer decided, waiting for a second reviewer (a ReviewCheck) to confirm it
    or send it back. Nothing reaches the applicant until it is confirmed."""

    attempt = models.ForeignKey(
        Attempt, models.PROTECT, related_name="proposals", verbose_name=_("attempt")
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="review_proposals",
        verbose_name=_("reviewer"),
    )
    decision = models.CharField(
        _("decision"), max_length=20, choices=ReviewDecision.Decision
    )
    reason = models.CharField(
        _("reason"), max_length=40, choices=ReviewDecision.Reason, blank=True
    )
    note = models.TextField(_("internal note"))
    applicant_message = models.TextField(_("message to the applicant"), blank=True)
    proposed_at = models.DateTimeField(_("decided at"), default=timezone.now)
    redacted_at = models.DateTimeField(
        _("personal text removed"), null=True, blank=True
    )

    REDACTABLE = ("note", "applicant_message")

    class Meta:
        verbose_name = _("decision waiting for a second reviewer")
        verbose_name_plural = _("decisions waiting for a second reviewer")
        ordering = ["-proposed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} ({self.proposed_at:%Y-%m-%d %H:%M})"


class ReviewCheck(AppendOnly):
    """The second step of a four-eyes decision: another reviewer confirms the
    proposal (which then becomes the ReviewDecision) or sends it back with a note.
    One per proposal; nobody checks their own (a constraint at the database)."""

    class Verdict(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed")
        SENT_BACK = "sent_back", _("Sent back")

    proposal = models.OneToOneField(
        ReviewProposal,
        models.PROTECT,
        related_name="review_check",
        verbose_name=_("proposal"),
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="review_checks",
        verbose_name=_("second reviewer"),
    )
    # The proposal's reviewer, kept here so the database itself can refuse a check
    # of one's own decision.
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="+",
        verbose_name=_("proposed by"),
    )
    verdict = models.CharField(_("verdict"), max_length=12, choices=Verdict)
    note = models.TextField(_("note"), blank=True)
    checked_at = models.DateTimeField(_("checked at"), default=timezone.now)
    redacted_at = models.DateTimeField(
        _("personal text removed"), null=True, blank=True
    )

    REDACTABLE = ("note",)

    class Meta:
        verbose_name = _("second reviewer's check")
        verbose_name_plural = _("second reviewers' checks")
        ordering = ["-checked_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(reviewer=models.F("proposed_by")),
                name="verification_check_by_another_reviewer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_verdict_display()} ({self.checked_at:%Y-%m-%d %H:%M})"


class ImageAccess(AppendOnly):
    """One view of an identity photo in the back office: who, which attempt, which
    photo, when. Written by the admin's image view before it sends the file."""

    class Image(models.TextChoices):
        FACE = "face", _("Selfie")
        IDENTITY = "identity", _("KTP photo")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="image_accesses",
        verbose_name=_("user"),
    )
    attempt = models.ForeignKey(
        Attempt,
        models.PROTECT,
        related_name="image_accesses",
        verbose_name=_("attempt"),
    )
    image = models.CharField(_("photo"), max_length=10, choices=Image)
    accessed_at = models.DateTimeField(_("viewed at"), default=timezone.now)

    class Meta:
        verbose_name = _("image access")
        verbose_name_plural = _("image accesses")
        ordering = ["-accessed_at", "-pk"]
        indexes = [
            models.Index(
                fields=["accessed_at", "id"], name="verification_access_newest"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_image_display()} ({self.accessed_at:%Y-%m-%d %H:%M:%S})"


# Data-subject requests and retention ------------------------------------------------


class DataSubjectRequest(AppendOnly):
    """An access (export) or erasure request answered for a person: what was done,
    for whom (masked NIK), on what request, by whom and when, with counts. Written by
    verification.subjects; kept for good, also after the erasure it records."""

    class Kind(models.TextChoices):
        EXPORT = "export", _("Export of everything held")
        ERASURE = "erasure", _("Erasure")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("request"), max_length=10, choices=Kind)
    applicant = models.ForeignKey(
        Applicant,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="subject_requests",
        verbose_name=_("applicant"),
    )
    masked_nik = models.CharField(_("masked NIK"), max_length=16)
    reference = models.CharField(
        _("request reference"),
        max_length=200,
        help_text=_("The ticket or letter number of the request; no personal data."),
    )
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="subject_requests",
        verbose_name=_("performed by"),
    )
    # The user's name, or the operator named on the command line.
    performed_by_name = models.CharField(_("performed by"), max_length=150)
    performed_at = models.DateTimeField(_("performed at"), default=timezone.now)
    counts = models.JSONField(_("what it covered"), default=dict)

    class Meta:
        verbose_name = _("data-subject request")
        verbose_name_plural = _("data-subject requests")
        ordering = ["-performed_at", "-pk"]
        permissions = [
            ("export_subject_data", "Can export everything held about a person"),
            ("erase_subject_data", "Can erase a person's data on request"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.masked_nik} ({self.reference})"


class KeyRotation(AppendOnly):
    """One run of `manage.py rotate_encryption_keys` that re-encrypted the data:
    under which key, by whom, and what it found (counts only, never values)."""

    performed_at = models.DateTimeField(_("performed at"), default=timezone.now)
    performed_by_name = models.CharField(_("performed by"), max_length=150)
    key_id = models.CharField(_("newest key"), max_length=16)
    counts = models.JSONField(_("what it covered"), default=dict)
    unreadable = models.PositiveIntegerField(_("unreadable values"), default=0)

    class Meta:
        verbose_name = _("key rotation")
        verbose_name_plural = _("key rotations")
        ordering = ["-performed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.key_id} ({self.performed_at:%Y-%m-%d %H:%M})"


class Redaction(AppendOnly):
    """The personal text of an audit record blanked by retention or an erasure
    (AppendOnly.redact): which record (by its place in the chain) and when. The
    chain check asks for one of these for every blanked record."""

    record = models.CharField(_("record"), max_length=60)
    record_seq = models.PositiveBigIntegerField(_("audit chain place of the record"))
    performed_at = models.DateTimeField(_("redacted at"), default=timezone.now)

    class Meta:
        verbose_name = _("redaction")
        verbose_name_plural = _("redactions")
        ordering = ["-performed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.record} #{self.record_seq}"


class RetentionRun(models.Model):
    """One pass of the retention job: when, under which periods, and how many
    things it removed (counts only, never values)."""

    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    periods = models.JSONField(_("periods applied"), default=dict)
    photos_deleted = models.PositiveIntegerField(_("photos deleted"), default=0)
    attempts_redacted = models.PositiveIntegerField(_("attempts redacted"), default=0)
    applicants_redacted = models.PositiveIntegerField(
        _("applicants redacted"), default=0
    )
    decisions_redacted = models.PositiveIntegerField(
        _("decision notes redacted"), default=0
    )

    class Meta:
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M}"
