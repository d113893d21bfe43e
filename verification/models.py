"""Applicants, their verification attempts, and the record of every provider call.

An Applicant is one person, found again by NIK through a keyed digest (so the lookup
never needs the plain NIK). An Attempt is one submission and where it stands:

    queued -> verifying -> verified | not_verified | needs_review | failed
    needs_review -> approved | rejected            (by a compliance reviewer)

Between automatic retries an attempt goes back to `queued` with `next_try_at` set.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from verification import tokens

STATUS_LINK_SALT = "verification.attempt.status-link"


def nik_digest(nik: str) -> str:
    """The keyed digest an applicant is found by. Keyed so that a leaked table does
    not turn into a NIK list by hashing every possible NIK."""
    key = settings.NIK_LOOKUP_KEY.encode()
    return hmac.new(key, nik.encode(), hashlib.sha256).hexdigest()


def mask_nik(nik: str) -> str:
    """First 6 and last 4 digits visible, the rest hidden: `123456******1111`.

    The visible part names a district and tells two NIKs apart without giving away
    the birth date. Never raises: anything that is not sixteen ASCII digits is masked
    completely, so that a list or a log line cannot leak it.
    """
    if len(nik) != 16 or not nik.isascii() or not nik.isdigit():
        return "*" * len(nik)
    return f"{nik[:6]}{'*' * 6}{nik[-4:]}"


class Applicant(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    nik = models.CharField(_("NIK"), max_length=16)
    nik_digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("first seen"), default=timezone.now)

    class Meta:
        verbose_name = _("applicant")
        verbose_name_plural = _("applicants")

    def __str__(self) -> str:
        return self.masked_nik

    @property
    def masked_nik(self) -> str:
        return mask_nik(self.nik)

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


class Attempt(models.Model):
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

    # What the applicant sent, normalised.
    full_name = models.CharField(_("full name"), max_length=100)
    birth_date = models.DateField(_("birth date"))
    email_address = models.EmailField(_("email address"), max_length=254)
    phone_number = models.CharField(_("phone number"), max_length=16)
    face_image = models.FileField(_("selfie"), upload_to=face_image_path)
    identity_image = models.FileField(_("KTP photo"), upload_to=identity_image_path)
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

    created_at = models.DateTimeField(_("submitted"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

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

    class Meta:
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["email_address"]),
            models.Index(fields=["phone_number"]),
            # The linked panel and the admin search compare emails case-insensitively.
            models.Index(Upper("email_address"), name="verification_email_upper"),
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

    @property
    def latest_decision(self) -> ReviewDecision | None:
        """The compliance reviewer's decision on this attempt, or None. An attempt
        is decided at most once; `applicant_message` is what the applicant may read
        (never show `note`, which is internal)."""
        return self.decisions.order_by("-decided_at", "-pk").first()


class ProviderCall(models.Model):
    """One request to the provider, saved before it is sent and completed after."""

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
        CONNECTION_FAILED = "connection_failed", _("Connection failed")
        MALFORMED_RESPONSE = "malformed_response", _("Unreadable answer")
        LOST = "lost", _("Worker stopped during the call")

    attempt = models.ForeignKey(
        Attempt, models.CASCADE, related_name="calls", verbose_name=_("attempt")
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
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
    error_id = models.CharField(_("provider error id"), max_length=64, blank=True)
    error_type = models.CharField(_("provider error type"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("provider call")
        verbose_name_plural = _("provider calls")
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.started_at:%Y-%m-%d %H:%M:%S})"


# Compliance review -----------------------------------------------------------------


class ReviewCaseManager(models.Manager):
    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(status=Attempt.Status.NEEDS_REVIEW)


class ReviewCase(Attempt):
    """The review queue: attempts that need a reviewer's decision and have none yet
    (a decision moves an attempt out of `needs_review`)."""

    objects = ReviewCaseManager()

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


class AppendOnly(models.Model):
    """A record that is inserted once and never changed or deleted: save() of an
    existing row, delete(), and bulk update()/delete() raise RecordIsAppendOnly."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise RecordIsAppendOnly(f"{type(self).__name__} rows cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise RecordIsAppendOnly(f"{type(self).__name__} rows cannot be deleted.")


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

    class Meta:
        verbose_name = _("review decision")
        verbose_name_plural = _("review decisions")
        ordering = ["-decided_at", "-pk"]
        constraints = [
            # Backs up the conditional update in reviews.decide at the database.
            models.UniqueConstraint(
                fields=["attempt"], name="verification_one_decision_per_attempt"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} ({self.decided_at:%Y-%m-%d %H:%M})"


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

    def __str__(self) -> str:
        return f"{self.get_image_display()} ({self.accessed_at:%Y-%m-%d %H:%M:%S})"
