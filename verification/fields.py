"""Model fields that keep identity data encrypted in the database.

The ORM reads and writes plain Python values; the column holds only ciphertext
(verification.crypto, text format). An empty value stays empty, so that a value never
given and a redacted one need no key. Encrypted columns cannot be compared in SQL:
only `isnull` and an exact match with "" are allowed; anything else raises FieldError
pointing to the blind index to use instead (BlindIndexField).

A value the configured keys cannot decrypt does not break the page that loads it: it
reads as an `Unreadable` marker (a string that says so), the failure is logged with
the column (never the value), and saving the row writes the original ciphertext back
unchanged, so that nothing is lost while the right key is found.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from django.core.exceptions import FieldError
from django.db import models
from django.db.models import lookups
from django.utils.translation import gettext_lazy as _

from verification import crypto

logger = logging.getLogger(__name__)

UNREADABLE_TEXT = "[cannot be decrypted]"


class Unreadable(str):
    """A stored value that could not be decrypted. Reads as UNREADABLE_TEXT; keeps the
    stored ciphertext (`raw`) and the reason."""

    raw: str
    reason: str

    def __new__(cls, raw: str, reason: str) -> Unreadable:
        marker = super().__new__(cls, UNREADABLE_TEXT)
        marker.raw = raw
        marker.reason = reason
        return marker


class EmptyOnly(lookups.Exact):
    """`field=""` (and `field__exact=""`) still works: it finds empty (never given or
    redacted) values, which are stored as they are."""

    def get_prep_lookup(self) -> Any:
        if self.rhs not in ("", None):
            raise FieldError(
                f"{self.lhs.target.name} is encrypted and cannot be compared in the "
                "database; look it up through its blind index."
            )
        return ""


class EncryptedMixin:
    """Encrypts on the way to the database and decrypts on the way back."""

    name: str
    model: type[models.Model]

    def to_plain(self, value: Any) -> str:
        return str(value)

    def from_plain(self, plain: str) -> Any:
        return plain

    def get_internal_type(self) -> str:
        return "TextField"

    def from_db_value(self, value: str | None, expression: object, connection: object):
        if value is None or value == "":
            return value
        try:
            return self.from_plain(crypto.decrypt_text(value))
        except crypto.Undecryptable as error:
            logger.warning(
                "A value in %s.%s cannot be decrypted: %s.",
                self.model._meta.db_table,
                self.name,
                error,
            )
            return Unreadable(value, str(error))

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, Unreadable):
            return value.raw
        value = super().get_prep_value(value)  # type: ignore[misc]
        if value is None or value == "":
            return value
        return crypto.encrypt_text(self.to_plain(value))

    def get_db_prep_value(self, value: Any, connection: object, prepared: bool = False):
        # The column is text whatever the Python type: no vendor adaptation.
        return value if prepared else self.get_prep_value(value)

    def get_lookup(self, lookup_name: str):
        if lookup_name == "isnull":
            return lookups.IsNull
        if lookup_name == "exact":
            return EmptyOnly
        return None

    def get_transform(self, name: str):
        return None

    def value_to_string(self, obj: models.Model) -> str:
        value = self.value_from_object(obj)  # type: ignore[attr-defined]
        return "" if value is None else self.to_plain(value)


class EncryptedCharField(EncryptedMixin, models.CharField):
    description = _("Encrypted text (up to %(max_length)s)")


class EncryptedEmailField(EncryptedMixin, models.EmailField):
    description = _("Encrypted email address")


class EncryptedDateField(EncryptedMixin, models.DateField):
    description = _("Encrypted date")

    def to_plain(self, value: Any) -> str:
        return value.isoformat()

    def from_plain(self, plain: str) -> Any:
        return date.fromisoformat(plain)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, Unreadable):
            return value
        return super().to_python(value)


class EncryptedJSONField(EncryptedMixin, models.TextField):
    """JSON kept encrypted, for short-lived drafts. A value that cannot be decrypted
    reads as an empty object (after being logged), since nothing can use half of it."""

    description = _("Encrypted JSON")
    # For django-stubs: the ORM reads and writes JSON values, not text.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def to_plain(self, value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def from_plain(self, plain: str) -> Any:
        return json.loads(plain)

    def from_db_value(self, value: str | None, expression: object, connection: object):
        decoded = super().from_db_value(value, expression, connection)
        return {} if isinstance(decoded, Unreadable) else decoded

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        return crypto.encrypt_text(self.to_plain(value))


class BlindIndexField(models.CharField):
    """The keyed digest of another field, kept up to date whenever the row is saved
    (and by bulk_create). Empty when the source is empty; unchanged when the source
    could not be decrypted. Code that changes the source with QuerySet.update() must
    update the digest too."""

    def __init__(
        self,
        *args: Any,
        source: str = "",
        digest: Callable[[str], str | None] | None = None,
        **kwargs: Any,
    ) -> None:
        self.source = source
        self.digest = digest
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["digest"] = self.digest
        if kwargs.get("max_length") == 64:
            del kwargs["max_length"]
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.source)
        if isinstance(value, Unreadable):
            return getattr(model_instance, self.attname)
        digest = self.digest(str(value)) if value and self.digest else None
        if digest is None and not self.null:
            digest = ""
        setattr(model_instance, self.attname, digest)
        return digest


def encrypted_fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedMixin)]
