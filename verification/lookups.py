"""Keyed blind indexes: how identity data is found again without storing it in plain.

Each is an HMAC-SHA256 keyed with settings.NIK_LOOKUP_KEY over a normalised value, so
two spellings of the same value meet, and a leaked table does not become a list of
NIKs, emails or phones by hashing every candidate. The NIK's digest is exactly the one
applicants have always been found by; the email's and the phone's are domain-separated
from it.

- NIK: the sixteen digits.
- Email: case-folded, the domain in IDNA (`Dewi@Bücher.example` and
  `dewi@xn--bcher-kva.example` meet).
- Phone: E.164 (`+6281234567890`), from any Indonesian way of writing it.
- Client address: as verification.clients normalises it (IPv6 per /64).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re

import phonenumbers
from django.conf import settings


def _digest(value: str, *, domain: str = "") -> str:
    key = settings.NIK_LOOKUP_KEY.encode()
    return hmac.new(key, (domain + value).encode(), hashlib.sha256).hexdigest()


def nik_digest(nik: str) -> str:
    """The keyed digest an applicant is found by."""
    return _digest(nik)


def address_digest(address: str) -> str:
    """The keyed digest a client address (verification.clients.client_address) is
    counted by where it is stored: the address itself never is."""
    return _digest(address, domain="address\x00")


def normalise_email(email: str) -> str:
    """The form of an address that lookups compare: case-folded, IDNA domain."""
    local, _, domain = email.strip().rpartition("@")
    if not local:
        return email.strip().casefold()
    with contextlib.suppress(UnicodeError):  # not a name IDNA can encode: as typed
        domain = domain.encode("idna").decode("ascii")
    return f"{local.casefold()}@{domain.casefold()}"


def email_digest(email: str) -> str:
    return _digest(normalise_email(email), domain="email\x00")


def phone_e164(phone: str) -> str | None:
    """An Indonesian phone number as written anywhere (0812..., +62 812...,
    62812..., 0062...) in E.164; None when it is not a phone number."""
    digits = re.sub(r"[\s\-.()]", "", phone.strip())
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = "62" + digits[1:]
    if not (digits.isascii() and digits.isdigit()) or not 8 <= len(digits) <= 15:
        return None
    try:
        parsed = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return "+" + digits
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_digest(phone: str) -> str | None:
    e164 = phone_e164(phone)
    return _digest(e164, domain="phone\x00") if e164 else None
