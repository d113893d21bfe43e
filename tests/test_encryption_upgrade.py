"""An installation that stored identity data before encryption came in: migrating
encrypts every value and photo in place, fills in the blind indexes and the masked
NIK, and the application reads everything back."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.reviewing import tiny_jpeg
from verification import crypto, lookups
from verification.models import Applicant, Attempt

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("verification", "0004_failure_configuration"),
    ("onboarding", "0001_initial"),
]


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [
        key
        for key in executor.loader.graph.leaf_nodes()
        if key[0] in ("verification", "onboarding", "integrations")
    ]


def test_migrating_encrypts_what_was_stored_in_plain(settings):
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    migrate(BEFORE)
    try:
        (root / "attempts/legacy").mkdir(parents=True)
        (root / "attempts/legacy/face.jpg").write_bytes(tiny_jpeg())
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO verification_applicant (code, nik, nik_digest, created_at) "
                "VALUES (%s, %s, %s, CURRENT_TIMESTAMP)",
                [
                    "0b7e2f8c-53e7-4b1e-9d3b-1f1e2d3c4b5a",
                    "3171010101054321",
                    lookups.nik_digest("3171010101054321"),
                ],
            )
            cursor.execute("SELECT id FROM verification_applicant")
            (applicant_id,) = cursor.fetchone()
            cursor.execute(
                "INSERT INTO verification_attempt (code, applicant_id, status, "
                "full_name, birth_date, email_address, phone_number, face_image, "
                "identity_image, birth_date_confirmed, consent_version, consented_at, "
                "language, provider_id, reference_id, reject_fields, error_id, failure, "
                "provider_field_errors, tries, unknown_outcomes, applicant_retries, "
                "browser, created_at, updated_at) VALUES (%s, %s, 'verified', "
                "'SITI LAMA', '1988-02-03', 'Siti.Lama@Example.com', '6281211112222', "
                "'attempts/legacy/face.jpg', '', false, 'v1', CURRENT_TIMESTAMP, 'id', "
                "'', '', '[]', '', '', '{}', 1, 0, 0, '', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP)",
                ["1c8f3e9d-64f8-4c2f-8e4c-2a2f3e4d5c6b", applicant_id],
            )
    finally:
        migrate(latest())

    attempt = Attempt.objects.select_related("applicant").get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT full_name, email_address FROM verification_attempt")
        stored = cursor.fetchone()
        cursor.execute("SELECT nik FROM verification_applicant")
        (stored_nik,) = cursor.fetchone()
    assert all(value.startswith(crypto.TEXT_PREFIX) for value in (*stored, stored_nik))
    assert attempt.full_name == "SITI LAMA"
    assert str(attempt.birth_date) == "1988-02-03"
    assert attempt.email_digest == lookups.email_digest("siti.lama@example.com")
    assert attempt.phone_digest == lookups.phone_digest("0812 1111 2222")
    assert attempt.applicant.masked_nik == "317101******4321"
    assert Applicant.objects.get(nik_digest=lookups.nik_digest("3171010101054321"))
    stored_photo = (root / "attempts/legacy/face.jpg").read_bytes()
    assert stored_photo.startswith(crypto.FILE_MAGIC)
    with attempt.face_image.open("rb") as face:
        assert face.read() == tiny_jpeg()
