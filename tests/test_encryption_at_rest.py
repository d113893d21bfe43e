"""After real submissions, a look at the database and the storage as an auditor (or
a thief with a backup) would take finds no identity value in plain and no photo an
image decoder can open; the application still reads everything back."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from tests.applying import details, submit
from tests.at_rest import (
    database_file_bytes,
    database_text,
    decodable_images,
    local_files,
    plain_values_found,
)
from tests.pages import form_fields
from tests.reviewing import admin_url, make_user
from tests.worker import run_worker
from verification import reviews
from verification.models import Applicant, Attempt

pytestmark = pytest.mark.django_db(transaction=True)

NIK = "1234567890111116"  # the sandbox sends it to review
TYPED = {
    "identityId": "1234 5678 9011 1116",
    "fullName": "Wulandari  kusumawati",
    "birthDate": "1991-03-14",
    "emailAddress": "Wulan.Kusuma@Example.com",
    "phoneNumber": "0813-1111-2222",
}
IDENTITY = [
    NIK,
    "1234 5678 9011 1116",
    "WULANDARI KUSUMAWATI",
    "Wulandari  kusumawati",
    "wulan.kusuma@example.com",
    "6281311112222",
    "+6281311112222",
    "0813-1111-2222",
    "1991-03-14",
    "14-03-1991",
]


@pytest.fixture
def everything_stored(sandbox, applicant, client):
    """An attempt sent, verified, reviewed with its photos viewed; a draft photo
    kept after a mistake; a hand-off to a phone with what was typed."""
    sent = submit(applicant, **TYPED)
    assert sent.status_code == 302
    run_worker()
    attempt = Attempt.objects.get()
    reviewer = make_user("rita", reviewer=True)
    client.force_login(reviewer)
    client.post(admin_url("attempt_changelist"), {"q": "wulan.kusuma@example.com"})
    for kind in ("face", "identity"):
        assert (
            client.get(admin_url("attempt_image", attempt.pk, kind)).status_code == 200
        )
    reviews.decide(attempt=attempt, reviewer=reviewer, decision="approved", note="Ok")
    draft = applicant.post("/register/", details(**{**TYPED, "emailAddress": "wulan@"}))
    kept = form_fields(draft.content.decode(), "data-register")
    assert kept["facePhoto"]
    handoff = applicant.post("/register/handoff/", {**TYPED, **kept})
    assert handoff.status_code == 200
    return attempt


def test_no_identity_value_is_in_any_table_or_session(everything_stored):
    assert plain_values_found(database_text(), IDENTITY) == []


def test_the_sqlite_file_itself_holds_no_identity_value(everything_stored):
    if connection.vendor != "sqlite":
        # PostgreSQL's files are not ours to read; every table is read above.
        assert plain_values_found(database_text(), IDENTITY) == []
        return
    data = database_file_bytes().decode("latin-1")

    assert plain_values_found(data, IDENTITY) == []


def test_no_stored_file_is_an_image_or_holds_identity_data(everything_stored, settings):
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    files = local_files(root)

    # Two photos of the attempt and the kept draft.
    assert len(files) >= 3
    assert decodable_images(files) == []
    text = "\n".join(data.decode("latin-1") for data in files.values())
    assert plain_values_found(text, IDENTITY) == []


def test_the_application_reads_back_the_plain_values(everything_stored):
    attempt = Attempt.objects.select_related("applicant").get()

    assert attempt.applicant.nik == NIK
    assert attempt.applicant.masked_nik == "123456******1116"
    assert attempt.full_name == "WULANDARI KUSUMAWATI"
    assert str(attempt.birth_date) == "1991-03-14"
    assert attempt.email_address == "Wulan.Kusuma@example.com"
    assert attempt.phone_number == "6281311112222"
    with attempt.face_image.open("rb") as face:
        assert face.read(3) == b"\xff\xd8\xff"  # a JPEG again, once decrypted
    assert (
        Applicant.objects.get(nik_digest=reviews.nik_digest(NIK)) == attempt.applicant
    )
