"""Checking the audit chain (verification.chain): is every record as it was written,
and is every record still there?

`verify()` reads every append-only record of every table in the order of the chain
(a stream, never the whole trail in memory) and recomputes each one's hash. What it
finds, in the order of the chain:

- a record whose content no longer gives its hash: it was **changed**;
- a record whose hash was recomputed after a change: the next record no longer
  follows it, and it is named as changed;
- a place with no record (a gap in the places, the next record following something
  else): a record was **removed**; so are the last ones when the chain's head names
  a later place than the last record found;
- a record with no place, a place held twice, or a record after the head: a record
  was **inserted** outside the chain;
- free text that no longer matches its digest (changed), or that was blanked with
  no redaction recorded for it (blanked outside the redaction path).

A hash chain shows that the trail is whole from its first record to the head it
ends in. Someone able to rewrite the database could also rewrite every hash after
the record they changed; what they cannot do is give the head the hash an auditor
wrote down earlier. `--anchor PLACE:HASH` checks that the chain still passes
through a hash noted before (`manage.py verify_audit_chain` prints the head to
note each time).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.apps import apps

from verification import chain
from verification.models import AppendOnly, ChainHead, Redaction


@dataclass
class Finding:
    seq: int | None
    record: str
    what: str

    def __str__(self) -> str:
        place = f"#{self.seq}" if self.seq is not None else "no place"
        return f"{place} {self.record}: {self.what}"


@dataclass
class Report:
    records: int = 0
    head_seq: int = 0
    head_hash: str = ""
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None


def chained_models() -> list[type[AppendOnly]]:
    return [
        model
        for model in apps.get_models()
        if issubclass(model, AppendOnly) and not model._meta.proxy
    ]


def describe(record: AppendOnly) -> str:
    return f"{record._meta.verbose_name} {record.pk}"


def _stream(model: type[AppendOnly]) -> Iterator[tuple[int, str, AppendOnly]]:
    rows = (
        model._base_manager.filter(chain_seq__isnull=False)
        .order_by("chain_seq")
        .iterator(chunk_size=2000)
    )
    for row in rows:
        yield row.chain_seq, model._meta.label_lower, row  # type: ignore[misc]


def _recomputed(record: AppendOnly) -> str:
    body = chain.content(
        record._meta.label_lower,
        record.chain_seq or 0,
        chain.columns_of(record),
        record.REDACTABLE,
    )
    return chain.link(record.chain_prev, body)


def _redacted_places() -> set[tuple[str, int]]:
    return set(Redaction._base_manager.values_list("record", "record_seq"))


def verify(*, anchors: list[tuple[int, str]] | None = None) -> Report:
    """Check the whole chain; the report lists what was changed, removed or
    inserted, first finding first."""
    report = Report()
    findings = report.findings
    models_ = chained_models()
    for model in models_:
        for pk in model._base_manager.filter(chain_seq__isnull=True).values_list(
            "pk", flat=True
        ):
            findings.append(
                Finding(
                    None,
                    f"{model._meta.verbose_name} {pk}",
                    "inserted outside the audit chain (it has no place in it)",
                )
            )
    redactions = _redacted_places()
    anchors_left = dict(anchors or [])
    expected = 1
    previous: AppendOnly | None = None
    previous_intact = True
    merged = heapq.merge(*(_stream(model) for model in models_), key=lambda t: t[0])
    for seq, _label, record in merged:
        report.records += 1
        name = describe(record)
        if previous is not None and seq == previous.chain_seq:
            findings.append(
                Finding(
                    seq,
                    name,
                    f"two records hold this place (this one and {describe(previous)}): "
                    "one of them was inserted",
                )
            )
            continue
        if seq > expected:
            gap = f"#{expected}" if seq == expected + 1 else f"#{expected}-#{seq - 1}"
            findings.append(
                Finding(
                    expected,
                    f"records {gap}",
                    f"removed: the chain goes on at #{seq} ({name})",
                )
            )
        stored_ok = _recomputed(record) == record.chain_hash
        if not stored_ok:
            findings.append(
                Finding(seq, name, "changed: its content is not what was written")
            )
        elif previous is not None and record.chain_prev != previous.chain_hash:
            if seq == expected and previous_intact:
                # The one before gives its own hash, but not the one this record
                # was chained to: it was changed and its hash made again.
                findings.append(
                    Finding(
                        previous.chain_seq,
                        describe(previous),
                        "changed: its hash was rewritten (the next record does "
                        "not follow it)",
                    )
                )
        elif previous is None and seq == 1 and record.chain_prev:
            findings.append(
                Finding(seq, name, "inserted: the first record follows nothing")
            )
        findings.extend(_text_findings(record, seq, name, redactions))
        if seq in anchors_left and anchors_left.pop(seq) != record.chain_hash:
            findings.append(
                Finding(
                    seq,
                    name,
                    "its hash is not the one noted for this place: the chain was "
                    "rewritten from here or before",
                )
            )
        previous, previous_intact = record, stored_ok
        expected = seq + 1
    for seq in anchors_left:
        findings.append(
            Finding(seq, "the noted place", "removed: no record holds it any more")
        )
    head = ChainHead.objects.filter(pk=1).first()
    report.head_seq = previous.chain_seq or 0 if previous else 0
    report.head_hash = previous.chain_hash if previous else ""
    if head is None:
        if previous is not None:
            findings.append(Finding(None, "the chain's head", "removed"))
    elif head.seq > report.head_seq:
        findings.append(
            Finding(
                report.head_seq + 1,
                f"records #{report.head_seq + 1}-#{head.seq}",
                "removed: the chain's head names a later record than the last one",
            )
        )
    elif head.seq < report.head_seq or (
        head.seq == report.head_seq and head.hash != report.head_hash
    ):
        findings.append(
            Finding(
                head.seq + 1 if head.seq < report.head_seq else head.seq,
                "the last records",
                "inserted or rewritten after the chain's head",
            )
        )
    findings.sort(key=lambda f: (f.seq is None, f.seq or 0))
    return report


def _text_findings(
    record: AppendOnly, seq: int, name: str, redactions: set[tuple[str, int]]
) -> list[Finding]:
    if not record.REDACTABLE:
        return []
    texts = [getattr(record, column) for column in record.REDACTABLE]
    if record.text_salt:
        if chain.text_digest(record.text_salt, texts) != record.text_digest:
            return [
                Finding(seq, name, "changed: its free text is not what was written")
            ]
        return []
    redacted = getattr(record, "redacted_at", None) is not None
    if (record._meta.label_lower, seq) not in redactions or not redacted:
        return [
            Finding(
                seq,
                name,
                "its free text was blanked outside the redaction path (no "
                "redaction is recorded for it)",
            )
        ]
    if any(texts):
        return [Finding(seq, name, "changed: text written after its redaction")]
    return []


def parse_anchor(value: str) -> tuple[int, str]:
    place, _, digest = value.partition(":")
    return int(place.lstrip("#")), digest.strip().lower()
