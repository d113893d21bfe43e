"""API keys: made, found by their hash, revoked.

A key is `ktp_` and 43 URL-safe characters (256 random bits). Only its SHA-256 is
stored (with its first characters, for people to tell keys apart), so the key
itself is shown once, when it is made, and never again. Each key has a webhook
signing secret of its own, `whsec_` and 32 random bytes in base64 (the Standard
Webhooks format), kept encrypted.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from verification.integrations.models import ApiKey

KEY_PREFIX = "ktp_"
SHOWN_PREFIX = 12
# last_used_at is written at most this often per key (not on every request).
LAST_USED_EVERY_SECONDS = 60


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class NewKey:
    """A key just made: `key` and `webhook_secret` are to be shown once."""

    api_key: ApiKey
    key: str
    webhook_secret: str


def make_key(
    *, name: str, webhook_url: str = "", api_key: ApiKey | None = None
) -> NewKey:
    """Make (and save) a new key named `name`; `api_key` is an unsaved ApiKey to
    fill in (the admin's form)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = api_key or ApiKey(name=name, webhook_url=webhook_url)
    record.prefix = key[:SHOWN_PREFIX]
    record.key_hash = hash_key(key)
    record.webhook_secret = new_webhook_secret()
    record.save()
    return NewKey(record, key, record.webhook_secret)


def new_signing_secret(api_key: ApiKey) -> str:
    """Replace the key's webhook signing secret; returns the new one (to be shown
    once). Deliveries signed from now on use it."""
    api_key.webhook_secret = new_webhook_secret()
    api_key.save(update_fields=["webhook_secret"])
    return api_key.webhook_secret


def authenticate(header: str) -> ApiKey | None:
    """The key an `Authorization: Bearer <key>` header carries, unless it is
    unknown or revoked."""
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    found = ApiKey.objects.filter(key_hash=hash_key(key), revoked_at=None).first()
    if found is not None:
        now = timezone.now()
        stale = now - timedelta(seconds=LAST_USED_EVERY_SECONDS)
        ApiKey.objects.filter(pk=found.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
        ).update(last_used_at=now)
    return found


def revoke(api_key: ApiKey) -> bool:
    """Revoke the key: every request with it is refused from now on. False when
    it already was."""
    return bool(
        ApiKey.objects.filter(pk=api_key.pk, revoked_at=None).update(
            revoked_at=timezone.now()
        )
    )
