"""Identity verification's system checks.

The start-up check: the configured keys can read the identity data already stored.

Every management command that starts a process (runserver, serve, db_worker, migrate)
runs it, and so does the WSGI entry point, so a wrong or missing key stops the start
with one clear message instead of serving pages that half-work. It reads the newest
encrypted value of each encrypted column; a database that is not there or not
migrated yet has nothing to check.

For a production deployment (`manage.py check --deploy`): NIK_LOOKUP_KEY is set apart
from SECRET_KEY.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, models
from django.db.models.functions import Cast

from verification import crypto
from verification.fields import encrypted_fields

KEY_HINT = (
    "Put the key that encrypted the data back into FIELD_ENCRYPTION_KEYS (after the "
    "new one while rotating), or run `manage.py rotate_encryption_keys --report` to "
    "list every record the configured keys cannot read."
)


def stored_samples() -> list[tuple[str, str]]:
    """(column, stored ciphertext) of the newest non-empty value of every
    encrypted column."""
    samples = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for field in encrypted_fields(model):
            raw = (
                model._default_manager.exclude(**{field.name: ""})
                .exclude(**{f"{field.name}__isnull": True})
                .order_by("-pk")
                .annotate(raw=Cast(field.name, models.TextField()))
                .values_list("raw", flat=True)
                .first()
            )
            if raw:
                samples.append((f"{model._meta.db_table}.{field.column}", raw))
    return samples


def key_problems() -> list[str]:
    try:
        samples = stored_samples()
    except DatabaseError:
        return []  # no database yet, or not migrated: nothing stored to check
    problems = []
    for column, raw in samples:
        if crypto.text_key_id(raw) is None:
            # Stored before encryption came in: the migration encrypts it; not a
            # key problem, and `migrate` must be able to start.
            continue
        try:
            crypto.decrypt_text(raw)
        except crypto.Undecryptable as error:
            problems.append(
                f"the newest value in {column} cannot be decrypted: {error}"
            )
    return problems


@register()
def encryption_keys_check(
    app_configs: object = None, **kwargs: object
) -> list[CheckMessage]:
    return [
        Error(
            f"FIELD_ENCRYPTION_KEYS cannot read the stored identity data: {problem}.",
            hint=KEY_HINT,
            id="verification.E001",
        )
        for problem in key_problems()
    ]


def refuse_unreadable_data() -> None:
    """For entry points that run no system checks (WSGI): raise
    ImproperlyConfigured when the keys cannot read the stored data."""
    problems = key_problems()
    if problems:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS cannot read the stored identity data: "
            + "; ".join(problems)
            + ". "
            + KEY_HINT
        )


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
