"""API keys, verification sessions, webhook deliveries and the rate-limit windows.

An ApiKey is one integrator (a bank's sign-up, a lending app): its name (shown to
applicants as "back to <name>"), the SHA-256 of its key (the key itself is shown
once and never stored), its webhook URL and the `whsec_` secret its webhooks are
signed with (encrypted at rest: it is the one secret we must be able to read).

A VerificationSession is one verification an integrator asked for. It leads to at
most one attempt at a time (`attempt`, the current one; a "fix and send again"
replaces it with the attempt that corrects it, whose `retry_of` is the old one) and
keeps the status the integrator sees, changed only by `sessions.move` in the
transaction of the change. What the integrator prefilled is identity data: it is
encrypted, and removed once an attempt holds what was sent, or when the session
expires unused.

A WebhookDelivery is one `session.updated` event for one key: the exact body that
is signed (statuses, ids and reason codes; no identity data), written with the
status change and sent by the worker until the receiver answers 2xx or a day has
passed (webhooks.py).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from verification.fields import EncryptedCharField, EncryptedJSONField


class ApiKey(models.Model):
    name = models.CharField(
        _("name"),
        max_length=100,
        help_text=_(
            "The integrator's name, as applicants know it: the status page offers "
            "“back to <name>”."
        ),
    )
    prefix = models.CharField(_("key starts with"), max_length=16, editable=False)
    # SHA-256 of the whole key: the key has 256 random bits, so a plain digest
    # cannot be reversed by trying candidates.
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    webhook_url = models.URLField(
        _("webhook URL"),
        max_length=2000,
        blank=True,
        help_text=_(
            "Where session.updated events are posted (https; http only for "
            "localhost on the embedded defaults). Empty: no webhooks."
        ),
    )
    webhook_secret = EncryptedCharField(
        _("webhook signing secret"), max_length=100, editable=False
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class VerificationSession(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        IN_PROGRESS = "in_progress", _("Form opened")
        VERIFYING = "verifying", _("Verifying")
        VERIFIED = "verified", _("Verified")
        NOT_VERIFIED = "not_verified", _("Not verified")
        NEEDS_REVIEW = "needs_review", _("Needs review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    # Before any attempt: the session URL still opens the form until expires_at.
    UNUSED = (Status.CREATED, Status.IN_PROGRESS)

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    api_key = models.ForeignKey(
        ApiKey, models.PROTECT, related_name="sessions", verbose_name=_("API key")
    )
    external_reference = models.CharField(_("external reference"), max_length=100)
    return_url = models.CharField(_("return URL"), max_length=2000, blank=True)
    language = models.CharField(_("language"), max_length=8, default="id")
    # fullName, emailAddress, phoneNumber as the integrator sent them.
    prefill = EncryptedJSONField(_("prefill"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status, default=Status.CREATED
    )
    attempt = models.OneToOneField(
        "verification.Attempt",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="api_session",
        verbose_name=_("current attempt"),
    )
    # The Idempotency-Key it was created with (for 24 hours) and a keyed digest
    # of the request, so that the same key with another body is refused. Null, not
    # "", when there is none: nulls never collide in the unique constraint.
    idempotency_key = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True
    )
    request_digest = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    opened_at = models.DateTimeField(_("form opened"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("verification session")
        verbose_name_plural = _("verification sessions")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "idempotency_key"],
                name="integrations_one_session_per_idempotency_key",
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return str(self.code)


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Gave up")

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    api_key = models.ForeignKey(
        ApiKey, models.PROTECT, related_name="deliveries", verbose_name=_("API key")
    )
    session = models.ForeignKey(
        VerificationSession,
        models.CASCADE,
        related_name="deliveries",
        verbose_name=_("session"),
    )
    event = models.CharField(_("event"), max_length=40, default="session.updated")
    # The session's status the event tells of.
    about = models.CharField(
        _("status"), max_length=20, choices=VerificationSession.Status
    )
    # Exactly what is signed and posted, the same on every try.
    body = models.TextField(_("body"))
    state = models.CharField(
        _("state"), max_length=12, choices=State, default=State.PENDING
    )
    tries = models.PositiveSmallIntegerField(_("tries"), default=0)
    next_try_at = models.DateTimeField(_("next try at"), null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Tries stop once this has passed (a day after the event, or after "send
    # again").
    give_up_at = models.DateTimeField(_("retried until"))
    last_status_code = models.PositiveSmallIntegerField(
        _("response code"), null=True, blank=True
    )
    # The failure's kind (timeout, connection refused, redirect not followed, an
    # address not allowed), never the receiver's answer.
    last_error = models.CharField(_("last error"), max_length=200, blank=True)
    last_tried_at = models.DateTimeField(_("last tried"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Every try: when, the response code or the error, how long it took.
    history = models.JSONField(_("tries made"), default=list, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["state", "next_try_at"])]

    def __str__(self) -> str:
        return f"{self.event} {self.about} ({self.get_state_display()})"

    @property
    def webhook_id(self) -> str:
        """The `webhook-id` header: the same on every try, so that receivers can
        tell a retry from a new event."""
        return f"msg_{self.code.hex}"


class RateWindow(models.Model):
    """How many requests of one kind a key made in one window (a minute, an
    hour): a row per key, bucket and window, counted up with one UPDATE, so the
    limit holds over every web host."""

    api_key = models.ForeignKey(ApiKey, models.CASCADE, related_name="+")
    bucket = models.CharField(max_length=20)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "bucket", "window_start"],
                name="integrations_one_row_per_rate_window",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bucket} {self.window_start:%H:%M}: {self.count}"
