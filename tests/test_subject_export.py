"""A data subject's access request: one archive with everything held about a NIK
(data, attempts, provider answers, decisions, who viewed the photos, the photos),
from a command or an admin action behind its own permission, and recorded."""

from __future__ import annotations

import io
import json
import zipfile
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from tests.reviewing import admin_url, make_attempt, make_user, tiny_jpeg
from verification import reviews
from verification.models import DataSubjectRequest, ImageAccess

pytestmark = pytest.mark.django_db

NIK = "3171010101077777"


@pytest.fixture
def person():
    """Two attempts of one person: one decided by a reviewer who viewed the photos."""
    reviewer = make_user("rita", reviewer=True)
    first = make_attempt(nik=NIK, images=True, full_name="SITI RAHAYU")
    ImageAccess.objects.create(user=reviewer, attempt=first, image="face")
    reviews.decide(
        attempt=first,
        reviewer=reviewer,
        decision="approved",
        note="Shared family email.",
        applicant_message="Approved.",
    )
    second = make_attempt(applicant=first.applicant, status="verified", images=True)
    make_attempt(images=True)  # someone else
    return first, second


def read_archive(data: bytes) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files.pop("data.json")), files


def test_the_command_writes_one_archive_with_everything_and_records_it(
    person, tmp_path
):
    first, second = person
    output = tmp_path / "dsr.zip"
    out = StringIO()

    call_command(
        "export_subject_data",
        nik=NIK,
        reference="DSR-2026-0042",
        operator="Dewi (privacy officer)",
        output=str(output),
        stdout=out,
    )

    data, files = read_archive(output.read_bytes())
    assert data["applicant"]["nik"] == NIK
    assert [a["code"] for a in data["attempts"]] == [str(first.code), str(second.code)]
    exported = data["attempts"][0]
    assert exported["full_name"] == "SITI RAHAYU"
    assert exported["email_address"] == first.email_address
    assert exported["provider_answer"]["reference_id"] == first.reference_id
    assert exported["decisions"][0]["decision"] == "approved"
    assert exported["decisions"][0]["internal_note"] == "Shared family email."
    assert exported["photo_views"][0]["viewed_by"] == "rita"
    assert files[f"photos/{first.code}/face.jpg"] == tiny_jpeg()
    assert len([name for name in files if name.startswith("photos/")]) == 4
    assert "README.txt" in files
    record = DataSubjectRequest.objects.get()
    assert (record.kind, record.reference) == ("export", "DSR-2026-0042")
    assert record.performed_by_name == "Dewi (privacy officer)"
    assert record.counts == {"attempts": 2, "photos": 4}
    assert record.masked_nik == "317101******7777"
    assert str(record.code) in out.getvalue()
    assert output.stat().st_mode & 0o077 == 0


def test_the_command_says_when_nothing_is_held(db, tmp_path):
    with (
        translation.override("en"),
        pytest.raises(CommandError, match="Nothing is held"),
    ):
        call_command(
            "export_subject_data",
            nik="3171010101000000",
            reference="DSR-1",
            operator="Dewi",
            output=str(tmp_path / "x.zip"),
        )
    assert DataSubjectRequest.objects.count() == 0


def export_action(client, applicant, **extra):
    return client.post(
        admin_url("applicant_changelist"),
        {"action": "export_subject_data", "_selected_action": [applicant.pk], **extra},
    )


def test_the_admin_action_asks_for_the_request_then_downloads_the_archive(
    person, client
):
    first, _ = person
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    officer = make_user(
        "dewi",
        permissions=("verification.view_applicant", "verification.export_subject_data"),
    )
    client.force_login(officer)

    asked = export_action(client, first.applicant, index="0")
    downloaded = export_action(client, first.applicant, reference="DSR-7")

    assert asked.status_code == 200
    assert "Request reference" in asked.content.decode()
    assert DataSubjectRequest.objects.filter(reference="DSR-7").count() == 1
    assert downloaded["Content-Type"] == "application/zip"
    assert "no-store" in downloaded["Cache-Control"]
    data, _files = read_archive(b"".join(downloaded.streaming_content))
    assert data["applicant"]["nik"] == NIK
    assert DataSubjectRequest.objects.get().performed_by == officer


def test_the_admin_action_needs_its_own_permission(person, client):
    first, _ = person
    client.force_login(make_user("tono", reviewer=True))

    page = client.get(admin_url("applicant_changelist")).content.decode()
    refused = export_action(client, first.applicant, reference="DSR-7")

    assert "export_subject_data" not in page
    assert refused.get("Content-Type") != "application/zip"
    assert DataSubjectRequest.objects.count() == 0
