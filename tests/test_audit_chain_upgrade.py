"""An installation with audit records written before the chain: migrating chains
them in the order they were written, records their earlier redactions, and the
check finds the trail intact; on PostgreSQL the records stay append-only."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from verification import audit
from verification.models import ImageAccess, Redaction, ReviewDecision

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("verification", "0011_four_eyes_review")


def executor() -> MigrationExecutor:
    found = MigrationExecutor(connection)
    found.loader.build_graph()
    return found


def latest() -> list[tuple[str, str]]:
    return [
        key
        for key in executor().loader.graph.leaf_nodes()
        if key[0] in ("verification", "onboarding")
    ]


def test_migrating_chains_the_records_written_before():
    rita = User.objects.create_user("rita")
    executor().migrate([BEFORE])
    try:
        old = executor().loader.project_state([BEFORE]).apps
        applicant = old.get_model("verification", "Applicant").objects.create(
            nik="3171010101054321", nik_digest="legacy-digest"
        )
        attempt_model = old.get_model("verification", "Attempt")
        now = timezone.now()
        attempts = [
            attempt_model.objects.create(
                applicant=applicant,
                status=status,
                full_name="SITI LAMA",
                birth_date=date(1988, 2, 3),
                consent_version="v1",
                consented_at=now,
            )
            for status in ("approved", "rejected")
        ]
        decision = old.get_model("verification", "ReviewDecision")
        access = old.get_model("verification", "ImageAccess")
        # Written in this order of time: a view, a decision, a view, a decision
        # whose note was later redacted.
        access.objects.create(
            user_id=rita.pk,
            attempt=attempts[0],
            image="face",
            accessed_at=now - timedelta(hours=4),
        )
        decision.objects.create(
            attempt=attempts[0],
            reviewer_id=rita.pk,
            decision="approved",
            note="Her husband's phone.",
            decided_at=now - timedelta(hours=3),
        )
        access.objects.create(
            user_id=rita.pk,
            attempt=attempts[1],
            image="face",
            accessed_at=now - timedelta(hours=2),
        )
        decision.objects.create(
            attempt=attempts[1],
            reviewer_id=rita.pk,
            decision="rejected",
            reason="face_mismatch",
            note="",
            decided_at=now - timedelta(hours=1),
            redacted_at=now,
        )
    finally:
        executor().migrate(latest())

    chained = sorted(
        [*ImageAccess.objects.all(), *ReviewDecision.objects.all()],
        key=lambda record: record.chain_seq or 0,
    )
    assert [type(r).__name__ for r in chained] == [
        "ImageAccess",
        "ReviewDecision",
        "ImageAccess",
        "ReviewDecision",
    ]
    assert [r.chain_seq for r in chained] == [1, 2, 3, 4]
    (earlier,) = Redaction.objects.all()
    assert (earlier.record_seq, earlier.chain_seq) == (4, 5)
    report = audit.verify()
    assert report.intact, [str(f) for f in report.findings]
    assert report.records == 5
    if connection.vendor == "postgresql":
        with (
            pytest.raises(DatabaseError),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("UPDATE verification_reviewdecision SET chain_hash = ''")
