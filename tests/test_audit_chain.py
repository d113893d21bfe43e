"""The tamper-evident audit trail: decisions, their four-eyes steps, image views,
erasures and key rotations each carry the hash of the record before them, and
`manage.py verify_audit_chain` finds a changed, a removed and an inserted record,
naming the first; a retention or erasure redaction leaves the chain whole."""

from __future__ import annotations

from io import BytesIO, StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import translation

from tests.reviewing import make_attempt, make_user
from verification import audit, redaction, reviews, rotation, subjects
from verification.models import (
    AppendOnly,
    ChainHead,
    DataSubjectRequest,
    ImageAccess,
    KeyRotation,
    Redaction,
    ReviewDecision,
)

pytestmark = pytest.mark.django_db


def tamper(sql: str, params: list | None = None) -> None:
    """Write straight to the database the way someone with its password could:
    on PostgreSQL past the append-only triggers (as the owner may turn them off)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params or [])
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


def verify() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit_chain", stdout=out, stderr=err)
    except CommandError as error:
        return "broken", f"{out.getvalue()}{err.getvalue()}{error}"
    return "intact", out.getvalue()


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def trail():
    """A trail of every kind: a decision, two photo views, another decision, an
    export and a key rotation, in that order."""
    rita = make_user("rita", reviewer=True)
    first = make_attempt()
    reviews.decide(attempt=first, reviewer=rita, decision="approved", note="Fine.")
    ImageAccess.objects.create(user=rita, attempt=first, image="face")
    ImageAccess.objects.create(user=rita, attempt=first, image="identity")
    second = make_attempt()
    reviews.decide(
        attempt=second,
        reviewer=rita,
        decision="rejected",
        reason="face_mismatch",
        note="Someone else.",
    )
    subjects.export_archive(
        BytesIO(), applicant=first.applicant, reference="TICKET-1", performed_by=rita
    )
    rotation.record(rotation.rotate(write=True), performed_by="operator")
    return rita


def test_every_kind_of_record_takes_the_next_place_and_the_intact_trail_says_so(trail):
    places = sorted(
        seq or 0
        for seq in [
            *ReviewDecision.objects.values_list("chain_seq", flat=True),
            *ImageAccess.objects.values_list("chain_seq", flat=True),
            *DataSubjectRequest.objects.values_list("chain_seq", flat=True),
            *KeyRotation.objects.values_list("chain_seq", flat=True),
        ]
    )
    assert places == [1, 2, 3, 4, 5, 6]
    views = list(ImageAccess.objects.order_by("chain_seq"))
    assert views[1].chain_prev == views[0].chain_hash
    head = ChainHead.objects.get()
    assert head.seq == 6

    state, output = verify()

    assert state == "intact"
    assert "Records checked: 6" in output
    assert f"Head: 6:{head.hash}" in output


def test_a_changed_record_is_named(trail):
    decision = ReviewDecision.objects.get(decision="approved")
    tamper(
        "UPDATE verification_reviewdecision SET decision = 'rejected' WHERE id = %s",
        [decision.pk],
    )

    state, output = verify()

    assert state == "broken"
    assert (
        f"First: #{decision.chain_seq} review decision {decision.pk}: changed" in output
    )


def test_a_changed_note_is_found_even_with_its_hash_made_again(trail):
    decision = ReviewDecision.objects.get(decision="rejected")
    # The note is in the chain through its digest: a changed note no longer fits.
    tamper(
        "UPDATE verification_reviewdecision SET note = 'Looked fine.' WHERE id = %s",
        [decision.pk],
    )
    assert "its free text is not what was written" in verify()[1]


def test_a_rewritten_hash_names_the_record_whose_hash_was_rewritten(trail):
    view = ImageAccess.objects.get(image="face")
    tamper(
        "UPDATE verification_imageaccess SET image = 'identity', chain_hash = %s "
        "WHERE id = %s",
        ["0" * 64, view.pk],
    )
    # Make the changed record's own hash fit it again, as a careful forger would.
    view = ImageAccess.objects.get(pk=view.pk)
    forged = audit._recomputed(view)
    tamper(
        "UPDATE verification_imageaccess SET chain_hash = %s WHERE id = %s",
        [forged, view.pk],
    )

    state, output = verify()

    assert state == "broken"
    assert (
        f"First: #{view.chain_seq} image access {view.pk}: changed: its hash" in output
    )


def test_a_removed_record_is_named_by_its_place(trail):
    export = DataSubjectRequest.objects.get()
    tamper("DELETE FROM verification_datasubjectrequest WHERE id = %s", [export.pk])

    state, output = verify()

    assert state == "broken"
    assert f"First: #{export.chain_seq} records #{export.chain_seq}: removed" in output


def test_the_last_record_removed_is_found_by_the_chains_head(trail):
    last = KeyRotation.objects.get()
    assert last.chain_seq == 6
    tamper("DELETE FROM verification_keyrotation WHERE id = %s", [last.pk])

    state, output = verify()

    assert state == "broken"
    assert "#6 records #6-#6: removed" in output


def test_an_inserted_record_is_found(trail):
    rita = trail
    attempt = make_attempt()
    tamper(
        "INSERT INTO verification_imageaccess (user_id, attempt_id, image, "
        "accessed_at, chain_prev, chain_hash, text_salt, text_digest) "
        "VALUES (%s, %s, 'face', %s, '', '', '', '')",
        [rita.pk, attempt.pk, attempt.created_at],
    )
    inserted = ImageAccess.objects.get(attempt=attempt)

    state, output = verify()

    assert state == "broken"
    assert f"image access {inserted.pk}: inserted outside the audit chain" in output


def test_a_record_inserted_into_a_taken_place_is_found(trail):
    rita = trail
    attempt = make_attempt()
    taken = ImageAccess.objects.get(image="identity")
    tamper(
        "INSERT INTO verification_reviewdecision (attempt_id, reviewer_id, decision, "
        "reason, note, applicant_message, decided_at, chain_seq, chain_prev, "
        "chain_hash, text_salt, text_digest) VALUES (%s, %s, 'approved', '', 'x', '', "
        "%s, %s, %s, %s, '', '')",
        [
            attempt.pk,
            rita.pk,
            attempt.created_at,
            taken.chain_seq,
            taken.chain_prev,
            taken.chain_hash,
        ],
    )

    state, output = verify()

    assert state == "broken"
    assert "two records hold this place" in output


def test_a_redaction_keeps_the_chain_whole_and_is_recorded_in_it(trail):
    decision = ReviewDecision.objects.get(decision="rejected")
    redaction.redact_attempt(decision.attempt)

    decision.refresh_from_db()
    assert (decision.note, decision.text_salt) == ("", "")
    assert decision.chain_seq is not None
    assert Redaction.objects.get(record_seq=decision.chain_seq).record == (
        "verification.reviewdecision"
    )
    assert verify()[0] == "intact"


def test_text_blanked_outside_the_redaction_path_is_found(trail):
    decision = ReviewDecision.objects.get(decision="rejected")
    tamper(
        "UPDATE verification_reviewdecision SET note = '', text_salt = '', "
        "redacted_at = %s WHERE id = %s",
        [decision.decided_at, decision.pk],
    )

    state, output = verify()

    assert state == "broken"
    assert "blanked outside the redaction path" in output


def test_an_erasure_is_in_the_chain_and_leaves_it_whole(trail):
    attempt = ReviewDecision.objects.get(decision="rejected").attempt

    record = subjects.erase(applicant=attempt.applicant, reference="ERASE-7")

    assert record.chain_seq == ChainHead.objects.get().seq
    assert verify()[0] == "intact"


def test_a_chain_rewritten_from_the_start_does_not_pass_a_noted_head(trail):
    head = ChainHead.objects.get()
    noted = f"{head.seq}:{head.hash}"
    call_command("verify_audit_chain", "--anchor", noted, stdout=StringIO())
    # Someone rewrites a record and every hash after it, and the head.
    decision = ReviewDecision.objects.get(decision="approved")
    tamper(
        "UPDATE verification_reviewdecision SET decision = 'rejected' WHERE id = %s",
        [decision.pk],
    )
    previous = ""
    records: list[AppendOnly] = [
        *ReviewDecision.objects.all(),
        *ImageAccess.objects.all(),
        *DataSubjectRequest.objects.all(),
        *KeyRotation.objects.all(),
    ]
    for record in sorted(records, key=lambda r: r.chain_seq or 0):
        record.chain_prev = previous
        previous = audit._recomputed(record)
        tamper(
            f"UPDATE {record._meta.db_table} SET chain_prev = %s, chain_hash = %s "
            "WHERE id = %s",
            [record.chain_prev, previous, record.pk],
        )
    ChainHead.objects.update(hash=previous)
    assert verify()[0] == "intact"  # the chain alone cannot tell

    with pytest.raises(CommandError) as refused:
        call_command("verify_audit_chain", "--anchor", noted, stdout=StringIO())
    assert "not the one noted for this place" in str(refused.value)


def test_a_key_rotation_is_recorded_with_its_operator_and_a_report_is_not():
    call_command("rotate_encryption_keys", "--report", stdout=StringIO())
    assert not KeyRotation.objects.exists()

    call_command(
        "rotate_encryption_keys", "--operator", "ops-oncall", stdout=StringIO()
    )

    (rotated,) = KeyRotation.objects.all()
    assert rotated.performed_by_name == "ops-oncall"
    assert rotated.key_id
    assert rotated.chain_seq == ChainHead.objects.get().seq
