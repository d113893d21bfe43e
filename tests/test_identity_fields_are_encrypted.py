"""Every field of our models that can hold identity data is encrypted, and a new one
cannot slip in: each field that stores text, dates, JSON or files must be either
encrypted (or an encrypted photo) or named here as holding no identity data."""

from __future__ import annotations

import re

from django.apps import apps
from django.db import models

from verification.fields import BlindIndexField, EncryptedMixin
from verification.storage import EncryptedStorageMixin

# Fields that hold no identity data, with the reason. A new field that stores
# values is either encrypted or added here after the same thought.
NOT_IDENTITY = {
    "onboarding.PendingPhoto.token": "random token",
    "onboarding.PendingPhoto.browser": "random browser id",
    "onboarding.PendingPhoto.kind": "which photo",
    "onboarding.PendingPhoto.client": "keyed digest of the client address",
    "onboarding.PendingPhoto.created_at": "time",
    "onboarding.PendingPhoto.warnings": "codes of the quality warnings",
    "onboarding.Handoff.created_at": "time",
    "onboarding.Handoff.opened_by": "random browser id",
    "onboarding.Handoff.created_by": "random browser id",
    "onboarding.EmailCode.browser": "random browser id",
    "onboarding.EmailCode.language": "language",
    "onboarding.EmailCode.client": "keyed digest of the client address",
    "onboarding.EmailCode.state": "state",
    "onboarding.EmailCode.code_hash": "keyed hash of a random code",
    "onboarding.EmailCode.created_at": "time",
    "onboarding.EmailCode.sent_at": "time",
    "onboarding.EmailCode.confirmed_at": "time",
    "verification.Applicant.nik_masked": "10 of 16 digits, the audit record's",
    "verification.Applicant.created_at": "time",
    "verification.Applicant.redacted_at": "time",
    "verification.Attempt.status": "state",
    "verification.Attempt.consent_version": "privacy notice version",
    "verification.Attempt.consented_at": "time",
    "verification.Attempt.language": "language",
    "verification.Attempt.provider_id": "provider's id",
    "verification.Attempt.reference_id": "provider's id",
    "verification.Attempt.reject_fields": "field names",
    "verification.Attempt.error_id": "provider's id",
    "verification.Attempt.failure": "state",
    "verification.Attempt.provider_field_errors": "provider's messages about "
    "the format of our request, redacted with the attempt",
    "verification.Attempt.next_try_at": "time",
    "verification.Attempt.lease_expires_at": "time",
    "verification.Attempt.browser": "random browser id",
    "verification.Attempt.client_digest": "keyed digest of the client address, "
    "never the address",
    "verification.ClientAddress.digest": "keyed digest of the client address",
    "verification.ClientAddress.last_sent_at": "time",
    "verification.ProviderGate.budget_spent_on": "date",
    "verification.Attempt.created_at": "time",
    "verification.Attempt.updated_at": "time",
    "verification.Attempt.finished_at": "time",
    "verification.Attempt.photos_deleted_at": "time",
    "verification.Attempt.photo_warnings": "codes of the quality warnings sent anyway",
    "verification.Attempt.redacted_at": "time",
    "verification.Attempt.assigned_at": "time",
    "verification.ProviderCall.started_at": "time",
    "verification.ProviderCall.outcome": "state",
    "verification.ProviderCall.charged": "state",
    "verification.ProviderCall.error_id": "provider's id",
    "verification.ProviderCall.error_type": "provider's error type",
    "verification.ProviderCall.finished_at": "time",
    "verification.ProviderCall.provider_id": "provider's id",
    "verification.ProviderCall.reference_id": "provider's id",
    "verification.ProviderCall.answer": "the provider's answer as kredibel keeps it: "
    "ids, status, error ids and rejected field names, never our request",
    "verification.ProviderGate.open_until": "time",
    "verification.ProviderGate.probe_until": "time",
    "verification.ProviderGate.updated_at": "time",
    "verification.OutboxEmail.kind": "which email",
    "verification.OutboxEmail.about": "state",
    "verification.OutboxEmail.state": "state",
    "verification.OutboxEmail.next_try_at": "time",
    "verification.OutboxEmail.claimed_until": "time",
    "verification.OutboxEmail.last_error": "the failure's kind, never its text",
    "verification.OutboxEmail.created_at": "time",
    "verification.OutboxEmail.sent_at": "time",
    "verification.ReviewDecision.decision": "state",
    "verification.ReviewDecision.reason": "reason code",
    "verification.ReviewDecision.note": "reviewer's text; append-only, so "
    "redacted (blanked) with the attempt rather than encrypted",
    "verification.ReviewDecision.applicant_message": "as the note",
    "verification.ReviewDecision.decided_at": "time",
    "verification.ReviewDecision.redacted_at": "time",
    "verification.ImageAccess.image": "which photo",
    "verification.ImageAccess.accessed_at": "time",
    "verification.DataSubjectRequest.kind": "request kind",
    "verification.DataSubjectRequest.masked_nik": "as Applicant.nik_masked",
    "verification.DataSubjectRequest.reference": "ticket number, no personal data",
    "verification.DataSubjectRequest.performed_by_name": "staff member",
    "verification.DataSubjectRequest.performed_at": "time",
    "verification.DataSubjectRequest.counts": "counts",
    "verification.RetentionRun.started_at": "time",
    "verification.RetentionRun.finished_at": "time",
    "verification.RetentionRun.periods": "settings",
    "integrations.ApiKey.name": "the integrator's name",
    "integrations.ApiKey.prefix": "the first characters of a random key",
    "integrations.ApiKey.key_hash": "digest of a random key",
    "integrations.ApiKey.webhook_url": "the integrator's address",
    "integrations.ApiKey.created_at": "time",
    "integrations.ApiKey.last_used_at": "time",
    "integrations.ApiKey.revoked_at": "time",
    "integrations.VerificationSession.external_reference": "the integrator's own "
    "id, letters, digits and . _ : / # - only (no spaces, no @)",
    "integrations.VerificationSession.return_url": "the integrator's address",
    "integrations.VerificationSession.language": "language",
    "integrations.VerificationSession.status": "state",
    "integrations.VerificationSession.idempotency_key": "the integrator's request id",
    "integrations.VerificationSession.request_digest": "keyed digest of a request",
    "integrations.VerificationSession.created_at": "time",
    "integrations.VerificationSession.expires_at": "time",
    "integrations.VerificationSession.opened_at": "time",
    "integrations.VerificationSession.status_changed_at": "time",
    "integrations.WebhookDelivery.event": "event type",
    "integrations.WebhookDelivery.about": "state",
    "integrations.WebhookDelivery.body": "the session as GET shows it: statuses, "
    "ids, reason codes, field names, never what the applicant typed",
    "integrations.WebhookDelivery.state": "state",
    "integrations.WebhookDelivery.next_try_at": "time",
    "integrations.WebhookDelivery.claimed_until": "time",
    "integrations.WebhookDelivery.give_up_at": "time",
    "integrations.WebhookDelivery.last_error": "the failure's kind",
    "integrations.WebhookDelivery.last_tried_at": "time",
    "integrations.WebhookDelivery.delivered_at": "time",
    "integrations.WebhookDelivery.created_at": "time",
    "integrations.WebhookDelivery.history": "times, response codes, failure kinds",
    "integrations.RateWindow.bucket": "which limit",
    "integrations.RateWindow.window_start": "time",
    "verification.ReviewDecision.chain_prev": "a hash of the audit chain",
    "verification.ReviewDecision.chain_hash": "a hash of the audit chain",
    "verification.ReviewDecision.text_salt": "random salt, blanked by a redaction",
    "verification.ReviewDecision.text_digest": "salted digest of the free text",
    "verification.ReviewProposal.chain_prev": "a hash of the audit chain",
    "verification.ReviewProposal.chain_hash": "a hash of the audit chain",
    "verification.ReviewProposal.text_salt": "random salt, blanked by a redaction",
    "verification.ReviewProposal.text_digest": "salted digest of the free text",
    "verification.ReviewCheck.chain_prev": "a hash of the audit chain",
    "verification.ReviewCheck.chain_hash": "a hash of the audit chain",
    "verification.ReviewCheck.text_salt": "random salt, blanked by a redaction",
    "verification.ReviewCheck.text_digest": "salted digest of the free text",
    "verification.ImageAccess.chain_prev": "a hash of the audit chain",
    "verification.ImageAccess.chain_hash": "a hash of the audit chain",
    "verification.ImageAccess.text_salt": "random salt, blanked by a redaction",
    "verification.ImageAccess.text_digest": "salted digest of the free text",
    "verification.DataSubjectRequest.chain_prev": "a hash of the audit chain",
    "verification.DataSubjectRequest.chain_hash": "a hash of the audit chain",
    "verification.DataSubjectRequest.text_salt": "random salt, blanked by a redaction",
    "verification.DataSubjectRequest.text_digest": "salted digest of the free text",
    "verification.KeyRotation.chain_prev": "a hash of the audit chain",
    "verification.KeyRotation.chain_hash": "a hash of the audit chain",
    "verification.KeyRotation.text_salt": "random salt, blanked by a redaction",
    "verification.KeyRotation.text_digest": "salted digest of the free text",
    "verification.Redaction.chain_prev": "a hash of the audit chain",
    "verification.Redaction.chain_hash": "a hash of the audit chain",
    "verification.Redaction.text_salt": "random salt, blanked by a redaction",
    "verification.Redaction.text_digest": "salted digest of the free text",
    "verification.ChainHead.hash": "a hash of the audit chain",
    "verification.ReviewProposal.decision": "state",
    "verification.ReviewProposal.reason": "reason code",
    "verification.ReviewProposal.note": "as ReviewDecision.note",
    "verification.ReviewProposal.applicant_message": "as ReviewDecision.note",
    "verification.ReviewProposal.proposed_at": "time",
    "verification.ReviewProposal.redacted_at": "time",
    "verification.ReviewCheck.verdict": "state",
    "verification.ReviewCheck.note": "as ReviewDecision.note",
    "verification.ReviewCheck.checked_at": "time",
    "verification.ReviewCheck.redacted_at": "time",
    "verification.KeyRotation.performed_at": "time",
    "verification.KeyRotation.performed_by_name": "operator",
    "verification.KeyRotation.key_id": "a key's id, never the key",
    "verification.KeyRotation.counts": "counts",
    "verification.Redaction.record": "which kind of record",
    "verification.Redaction.performed_at": "time",
    "verification.LedgerDay.day": "a calendar day",
    "verification.LedgerDay.summed_at": "time",
}
# Names that mean identity data: never acceptable in plain, whatever the list says.
IDENTITY_NAME = re.compile(
    r"nik|name|birth|email|phone|address|face|identity|ktp|photo"
)
# Named like identity data, but holding none: a masked NIK, a staff member's name,
# codes of the photo warnings the applicant saw.
NOT_IDENTITY_DESPITE_NAME = {
    "verification.Applicant.nik_masked",
    "verification.Attempt.photo_warnings",
    "verification.DataSubjectRequest.masked_nik",
    "verification.DataSubjectRequest.performed_by_name",
    "integrations.ApiKey.name",
    "verification.KeyRotation.performed_by_name",
}
VALUE_FIELDS = (
    models.CharField,
    models.TextField,
    models.DateField,
    models.JSONField,
    models.FileField,
)


def our_value_fields() -> list[tuple[str, models.Field]]:
    fields: list[tuple[str, models.Field]] = []
    for config in (
        apps.get_app_config("onboarding"),
        apps.get_app_config("verification"),
        apps.get_app_config("integrations"),
    ):
        for model in config.get_models():
            if model._meta.proxy:
                continue
            for field in model._meta.concrete_fields:
                if isinstance(field, VALUE_FIELDS) and not isinstance(
                    field, models.UUIDField
                ):
                    fields.append((f"{model._meta.label}.{field.name}", field))
    return fields


def protected(field: models.Field) -> bool:
    if isinstance(field, EncryptedMixin | BlindIndexField):
        return True
    return isinstance(field, models.FileField) and isinstance(
        field.storage, EncryptedStorageMixin
    )


def test_every_field_that_stores_values_is_encrypted_or_holds_no_identity_data():
    unclassified = [
        name
        for name, field in our_value_fields()
        if not protected(field) and name not in NOT_IDENTITY
    ]

    assert unclassified == [], (
        "These fields store values in plain: encrypt them (verification.fields) "
        "or, if they hold no identity data, list them in NOT_IDENTITY."
    )


def test_no_field_named_for_identity_data_is_stored_in_plain():
    plain = [
        name
        for name, field in our_value_fields()
        if not protected(field)
        and IDENTITY_NAME.search(field.name)
        # Moments (photos_deleted_at) and the masked NIK of the audit record.
        and not (isinstance(field, models.DateTimeField) and name.endswith("_at"))
        and name not in NOT_IDENTITY_DESPITE_NAME
    ]

    assert plain == []


def test_the_identity_fields_are_the_encrypted_ones():
    encrypted = {name for name, field in our_value_fields() if protected(field)}

    assert {
        "verification.Applicant.nik",
        "verification.Attempt.full_name",
        "verification.Attempt.birth_date",
        "verification.Attempt.email_address",
        "verification.Attempt.phone_number",
        "verification.Attempt.face_image",
        "verification.Attempt.identity_image",
        "onboarding.PendingPhoto.image",
        "onboarding.Handoff.values",
        "onboarding.EmailCode.email_address",
        "integrations.VerificationSession.prefill",
    } <= encrypted


def test_the_list_of_plain_fields_names_only_fields_that_exist():
    existing = {name for name, _ in our_value_fields()}

    assert set(NOT_IDENTITY) - existing == set()
