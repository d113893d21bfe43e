"""The hash chain through the audit records (how each record's hash is made).

Every append-only record (verification.models.AppendOnly: review decisions and
their four-eyes steps, image views, data-subject requests, key rotations and the
redactions themselves) takes the next place in one chain when it is written:

    chain_seq   its place, 1, 2, 3, ... over all the tables together
    chain_prev  the hash of the record before it ("" for the first)
    chain_hash  SHA-256 of chain_prev, a newline, and the record's content

The content is canonical JSON (sorted keys, no spaces) of
`{"record": "<app_label.model>", "seq": N, "fields": {...}, "text": "<digest>"}`:
every column by its database name except the row's id, the three chain columns,
`redacted_at` and the personal free text; datetimes in UTC ISO 8601 with
microseconds. The free text (a reviewer's note, a message to the applicant) is in
the content only through `text_digest`, SHA-256 of a random `text_salt` followed by
the texts joined with U+001F. A redaction (retention, erasure) blanks the texts and
the salt: the chain still holds, and what is left of the digest can no longer be
tested against any guess of the erased text. Each redaction is itself a record in
the chain, so a blanking that did not go through it is found.

Nothing here reads the database: it is used by the models (sealing a new record),
by the migration that chained the records written before, and by the check
(verification.audit).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

CHAIN_COLUMNS = ("chain_seq", "chain_prev", "chain_hash")
# Columns that a redaction may change, or that change nothing the record says.
NOT_HASHED = ("id", "chain_prev", "chain_hash", "text_salt", "redacted_at")
TEXT_SEPARATOR = "\x1f"


def canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    return value


def new_salt() -> str:
    return secrets.token_hex(16)


def text_digest(salt: str, texts: Iterable[str]) -> str:
    """The digest of a record's free text under its salt ("" without a salt)."""
    if not salt:
        return ""
    joined = TEXT_SEPARATOR.join(texts)
    return hashlib.sha256((salt + joined).encode()).hexdigest()


def content(
    label: str, seq: int, columns: dict[str, Any], redactable: Iterable[str]
) -> str:
    """The canonical content of a record: `columns` maps every database column to
    its value (foreign keys by id)."""
    skipped = set(NOT_HASHED) | set(redactable)
    fields = {
        name: canonical_value(value)
        for name, value in columns.items()
        if name not in skipped and name != "chain_seq" and name != "text_digest"
    }
    body = {
        "record": label,
        "seq": seq,
        "fields": fields,
        "text": columns.get("text_digest", ""),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link(previous: str, body: str) -> str:
    """A record's hash: the one before it, then its content."""
    return hashlib.sha256(f"{previous}\n{body}".encode()).hexdigest()


def columns_of(instance: Any) -> dict[str, Any]:
    """The values of a model instance by database column (works on the historical
    models of a migration too)."""
    return {
        field.column: getattr(instance, field.attname)
        for field in instance._meta.concrete_fields
    }
