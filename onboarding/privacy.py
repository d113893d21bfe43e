"""The privacy notice's version, and the retention periods it states.

Change PRIVACY_NOTICE_VERSION whenever templates/onboarding/privacy.html changes in
substance: every attempt records the version its applicant agreed to. The periods come
from the settings, so the notice always says what the retention job does.
"""

from __future__ import annotations

from django.conf import settings

PRIVACY_NOTICE_VERSION = "2026-12-01"


def retention_periods() -> dict[str, int]:
    """The periods the notice states (see verification.retention)."""
    return {
        "photo_days": settings.RETENTION_PHOTO_DAYS,
        "identity_days": settings.RETENTION_IDENTITY_DAYS,
        "psre_years": settings.PSRE_RECORD_KEEPING_YEARS,
    }
