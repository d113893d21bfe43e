"""Signed tokens for the links applicants follow (the emailed status link, the
hand-off to a phone): a random code signed with SECRET_KEY (or one of
SECRET_KEY_FALLBACKS), a salt per kind of link, and the time it was made. A token
carries no identity data and cannot be forged or moved to another kind of link."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.core import signing


def sign(code: uuid.UUID, *, salt: str) -> str:
    return signing.dumps(str(code), salt=salt, compress=False)


def read(token: str, *, salt: str, max_age: timedelta) -> uuid.UUID | None:
    """The code in `token` if it was signed with `salt` less than `max_age` ago;
    None for anything else (expired, altered, another kind of link, garbage)."""
    try:
        return uuid.UUID(signing.loads(token, salt=salt, max_age=max_age))
    except (signing.BadSignature, ValueError, TypeError, AttributeError):
        return None
