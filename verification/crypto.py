"""Authenticated encryption of identity data at rest (AES-256-GCM, `cryptography`).

Keys come from settings.FIELD_ENCRYPTION_KEYS, a list of 32-byte keys written in
URL-safe base64 (`manage.py generate_encryption_key` makes one). The first key
encrypts; every key in the list decrypts, so a new key goes first and the old ones
stay behind it until `manage.py rotate_encryption_keys` has re-encrypted everything.
The keys are separate from SECRET_KEY: rotating one never touches the other.

Every ciphertext names the key that made it (a 4-byte key id, derived from the key),
so a value under a key that is no longer configured is reported as exactly that,
and rotation knows what to rewrite without decrypting what is already current.

Two formats, one construction (key id | 12-byte random nonce | ciphertext and tag):

- text, for database columns: ``e1:`` + URL-safe base64 of the above;
- bytes, for stored files: the 4-byte magic ``KTPE`` + version byte + the above.
  A stored photo therefore starts with no image format's signature and cannot be
  decoded as an image.

Nothing here logs or raises with a plain value or a key in its message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass
from functools import cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

TEXT_PREFIX = "e1:"
FILE_MAGIC = b"KTPE\x01"
KEY_ID_BYTES = 4
NONCE_BYTES = 12
TAG_BYTES = 16
# What encryption adds to a file: magic, key id, nonce and tag (GCM has no padding).
FILE_OVERHEAD = len(FILE_MAGIC) + KEY_ID_BYTES + NONCE_BYTES + TAG_BYTES


class Undecryptable(ValueError):
    """A stored value that the configured keys cannot decrypt: encrypted under a key
    that is not configured, altered, truncated, or never encrypted at all. The
    message names the reason and the key id, never the value."""


def generate_key() -> str:
    """A new random key, in the form FIELD_ENCRYPTION_KEYS expects."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def parse_keys(
    values: list[str], *, variable: str = "FIELD_ENCRYPTION_KEYS"
) -> list[bytes]:
    """The keys of `variable` as bytes, checked. Raises ImproperlyConfigured naming
    the position of a key that is not 32 bytes of URL-safe base64 (never the key),
    and for an empty list or a key listed twice."""
    keys = []
    for position, value in enumerate(values, start=1):
        try:
            key = base64.urlsafe_b64decode(value.strip().encode())
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != 32:
            raise ImproperlyConfigured(
                f"{variable}: key number {position} is not a 32-byte key in URL-safe "
                "base64 (make one with `manage.py generate_encryption_key`)."
            )
        keys.append(key)
    if not keys:
        raise ImproperlyConfigured(f"{variable} is empty: at least one key is needed.")
    if len({key_id(key) for key in keys}) != len(keys):
        raise ImproperlyConfigured(f"{variable} lists the same key twice.")
    return keys


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"ktp-onboarding field key id\x00" + key).digest()[
        :KEY_ID_BYTES
    ]


@dataclass(frozen=True)
class Keyring:
    """The configured keys: the first encrypts, all decrypt."""

    ciphers: dict[bytes, AESGCM]
    current: bytes

    @classmethod
    def from_keys(cls, keys: list[bytes]) -> Keyring:
        ciphers = {key_id(key): AESGCM(key) for key in keys}
        return cls(ciphers=ciphers, current=key_id(keys[0]))

    def encrypt(self, plain: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return (
            self.current
            + nonce
            + self.ciphers[self.current].encrypt(nonce, plain, None)
        )

    def decrypt(self, sealed: bytes) -> bytes:
        header = KEY_ID_BYTES + NONCE_BYTES
        if len(sealed) < header + TAG_BYTES:
            raise Undecryptable("the stored value is truncated")
        kid, nonce = sealed[:KEY_ID_BYTES], sealed[KEY_ID_BYTES:header]
        cipher = self.ciphers.get(kid)
        if cipher is None:
            raise Undecryptable(
                f"it was encrypted with key {kid.hex()}, which is not in "
                "FIELD_ENCRYPTION_KEYS"
            )
        try:
            return cipher.decrypt(nonce, sealed[header:], None)
        except InvalidTag:
            raise Undecryptable(
                f"it does not authenticate under key {kid.hex()} (altered or damaged)"
            ) from None


@cache
def keyring() -> Keyring:
    return Keyring.from_keys(parse_keys(list(settings.FIELD_ENCRYPTION_KEYS)))


def _keys_changed(*, setting: str, **kwargs: object) -> None:
    if setting == "FIELD_ENCRYPTION_KEYS":
        keyring.cache_clear()


setting_changed.connect(_keys_changed)


def current_key_id() -> str:
    return keyring().current.hex()


# Text ---------------------------------------------------------------------------------


def encrypt_text(plain: str) -> str:
    sealed = keyring().encrypt(plain.encode())
    return TEXT_PREFIX + base64.urlsafe_b64encode(sealed).decode()


def decrypt_text(stored: str) -> str:
    return keyring().decrypt(_unwrap_text(stored)).decode()


def text_key_id(stored: str) -> str | None:
    """The id of the key a stored text was encrypted with; None when it is not an
    encrypted value at all."""
    try:
        return _unwrap_text(stored)[:KEY_ID_BYTES].hex()
    except Undecryptable:
        return None


def _unwrap_text(stored: str) -> bytes:
    if not stored.startswith(TEXT_PREFIX):
        raise Undecryptable("it is not an encrypted value")
    try:
        return base64.urlsafe_b64decode(stored[len(TEXT_PREFIX) :].encode())
    except (binascii.Error, ValueError):
        raise Undecryptable("it is not an encrypted value") from None


# Bytes (files) ------------------------------------------------------------------------


def encrypt_bytes(plain: bytes) -> bytes:
    return FILE_MAGIC + keyring().encrypt(plain)


def decrypt_bytes(stored: bytes) -> bytes:
    if not stored.startswith(FILE_MAGIC):
        raise Undecryptable("the file is not encrypted")
    return keyring().decrypt(stored[len(FILE_MAGIC) :])


def bytes_key_id(stored: bytes) -> str | None:
    """The id of the key a stored file was encrypted with (its first bytes are
    enough); None when the file is not encrypted."""
    if not stored.startswith(FILE_MAGIC):
        return None
    start = len(FILE_MAGIC)
    return stored[start : start + KEY_ID_BYTES].hex()
