"""Attempts stored the way the form stores them, without going through its pages
(for tests about what happens after)."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone

from tests.applying import ktp_bytes, selfie_bytes
from verification.models import Attempt
from verification.submission import submit_attempt


def stored_attempt(**overrides: Any) -> Attempt:
    values: dict[str, Any] = {
        "nik": "1234567890123456",
        "full_name": "ASEP SUPRIYADI",
        "birth_date": timezone.localdate().replace(year=1990),
        "email_address": "asep@example.com",
        "phone_number": "6281234567890",
        "face_image": selfie_bytes(),
        "identity_image": ktp_bytes(),
        "consent_version": "test",
        "language": "en",
        "submission": uuid.uuid4(),
    }
    values.update(overrides)
    attempt, _ = submit_attempt(**values)
    return attempt
