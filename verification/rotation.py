"""Key rotation: re-encrypt every encrypted column and stored file under the newest
key (the first of FIELD_ENCRYPTION_KEYS), and report what the keys cannot read.

Values and files already under the newest key are left alone, so a rotation that
stopped half way is finished by running it again. Values written before encryption
came in (plain) are encrypted. A value no configured key can decrypt is reported for
its record and left exactly as stored; while there are any, the old keys must stay.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.apps import apps
from django.db import models
from django.db.models.functions import Cast

from verification import crypto
from verification.fields import encrypted_fields
from verification.storage import EncryptedStorageMixin

if TYPE_CHECKING:
    from verification.models import KeyRotation

CURRENT = "current"
ROTATED = "re-encrypted"
ENCRYPTED = "encrypted (was plain)"
UNREADABLE = "unreadable"
MISSING = "missing"


@dataclass
class Report:
    """Counts by column or file field, and every record that could not be read."""

    counts: dict[str, Counter] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def count(self, where: str, outcome: str) -> None:
        self.counts.setdefault(where, Counter())[outcome] += 1

    @property
    def unreadable(self) -> int:
        return sum(c[UNREADABLE] for c in self.counts.values())

    def lines(self) -> list[str]:
        out = []
        for where, counter in sorted(self.counts.items()):
            parts = ", ".join(
                f"{n} {outcome}" for outcome, n in sorted(counter.items())
            )
            out.append(f"{where}: {parts}")
        return out


def _record(model: type[models.Model], pk: object, code: object) -> str:
    return f"{model._meta.label} {pk}" + (f" ({code})" if code else "")


def rotate(*, write: bool = True) -> Report:
    """Re-encrypt everything under the newest key (only look, with write=False)."""
    report = Report()
    current = crypto.current_key_id()
    for model in apps.get_models():
        if model._meta.proxy:
            continue  # its rows are its concrete model's
        for column in encrypted_fields(model):
            _rotate_column(model, column, current, report, write=write)
        for file_field in model._meta.concrete_fields:
            if isinstance(file_field, models.FileField):
                _rotate_files(model, file_field, current, report, write=write)
    return report


def _codes(model: type[models.Model]) -> str | None:
    return "code" if any(f.name == "code" for f in model._meta.fields) else None


def _rotate_column(
    model: type[models.Model],
    column: models.Field,
    current: str,
    report: Report,
    *,
    write: bool,
) -> None:
    where = f"{model._meta.label}.{column.name}"
    code = _codes(model)
    rows = (
        model._base_manager.exclude(**{column.name: ""})
        .exclude(**{f"{column.name}__isnull": True})
        .annotate(raw=Cast(column.name, models.TextField()))
        .values_list("pk", "raw", code or "pk")
        .order_by("pk")
    )
    for pk, raw, ident in rows.iterator(chunk_size=1000):
        kid = crypto.text_key_id(raw)
        if kid == current:
            report.count(where, CURRENT)
            continue
        if kid is None:
            plain, outcome = raw, ENCRYPTED
        else:
            try:
                plain, outcome = crypto.decrypt_text(raw), ROTATED
            except crypto.Undecryptable as error:
                report.count(where, UNREADABLE)
                record = _record(model, pk, ident if code else None)
                report.problems.append(f"{record}: {column.name} {error}")
                continue
        if write:
            value = column.from_plain(plain)  # type: ignore[attr-defined]
            model._base_manager.filter(pk=pk).update(**{column.name: value})
        report.count(where, outcome)


def _rotate_files(
    model: type[models.Model],
    file_field: models.FileField,
    current: str,
    report: Report,
    *,
    write: bool,
) -> None:
    storage = file_field.storage
    if not isinstance(storage, EncryptedStorageMixin):
        return
    where = f"{model._meta.label}.{file_field.name} (files)"
    code = _codes(model)
    rows = (
        model._base_manager.exclude(**{file_field.name: ""})
        .values_list("pk", file_field.name, code or "pk")
        .order_by("pk")
    )
    for pk, name, ident in rows.iterator(chunk_size=1000):
        record = _record(model, pk, ident if code else None)
        try:
            stored = storage.read_stored(name)
        except FileNotFoundError:
            report.count(where, MISSING)
            report.problems.append(f"{record}: {file_field.name} file is missing")
            continue
        kid = crypto.bytes_key_id(stored)
        if kid == current:
            report.count(where, CURRENT)
            continue
        if kid is None:
            plain, outcome = stored, ENCRYPTED
        else:
            try:
                plain, outcome = crypto.decrypt_bytes(stored), ROTATED
            except crypto.Undecryptable as error:
                report.count(where, UNREADABLE)
                report.problems.append(f"{record}: {file_field.name} file {error}")
                continue
        if write:
            storage.rewrite(name, plain)
        report.count(where, outcome)


def record(report: Report, *, performed_by: str) -> KeyRotation:
    """Write the rotation into the audit trail (counts only, never values)."""
    from verification.models import KeyRotation

    return KeyRotation.objects.create(
        performed_by_name=performed_by[:150],
        key_id=crypto.current_key_id(),
        counts={where: dict(counter) for where, counter in report.counts.items()},
        unreadable=report.unreadable,
    )
