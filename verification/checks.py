"""Identity verification's checks for a production deployment (`manage.py check
--deploy`)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def nik_lookup_key_check(app_configs, **kwargs) -> list[Warning]:
    if settings.NIK_LOOKUP_KEY != settings.SECRET_KEY:
        return []
    return [
        Warning(
            "NIK_LOOKUP_KEY is not set, so applicants are found by a digest keyed "
            "with SECRET_KEY.",
            hint="Set NIK_LOOKUP_KEY to its own random value before the first "
            "applicant arrives, and never change it: rotating SECRET_KEY would "
            "otherwise lose every applicant's history and reset the per-NIK limits.",
            id="verification.W001",
        )
    ]
