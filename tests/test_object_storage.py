"""Photos on S3-compatible object storage (a real S3 API server on loopback): the
bucket holds only ciphertext under names that say nothing about the person, the
worker and the permission-checked views still read the photos, no URL is ever made,
and rotation and erasure work there too."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from tests.applying import submit
from tests.at_rest import decodable_images, plain_values_found
from tests.reviewing import admin_url, make_attempt, make_user
from tests.worker import run_worker
from verification import crypto, subjects
from verification.models import Attempt

NIK = "1234567890111116"
IDENTITY = [NIK, "ASEP SUPRIYADI", "asep@example.com", "6281234567890", "1990-07-06"]


def stored_objects(client, bucket) -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        entry["Key"]: client.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
        for entry in listed
    }


@pytest.mark.django_db(transaction=True)
def test_a_submission_stores_only_ciphertext_in_the_bucket_and_still_verifies(
    s3_bucket, sandbox, applicant
):
    client, bucket = s3_bucket

    sent = submit(applicant, identityId=NIK)
    run_worker()

    attempt = Attempt.objects.get()
    objects = stored_objects(client, bucket)
    assert sent.status_code == 302
    # The provider was sent both photos, decrypted from the bucket, and answered.
    assert attempt.status == Attempt.Status.NEEDS_REVIEW
    assert sorted(objects) == [
        f"private/attempts/{attempt.code}/face.jpg",
        f"private/attempts/{attempt.code}/identity.jpg",
    ]
    assert decodable_images(objects) == []
    assert all(data.startswith(crypto.FILE_MAGIC) for data in objects.values())
    text = "\n".join(data.decode("latin-1") for data in objects.values())
    assert plain_values_found(text, IDENTITY) == []
    head = client.head_object(
        Bucket=bucket, Key=f"private/attempts/{attempt.code}/face.jpg"
    )
    assert head["ContentType"] == "application/octet-stream"
    acl = client.get_object_acl(
        Bucket=bucket, Key=f"private/attempts/{attempt.code}/face.jpg"
    )
    assert [g for g in acl["Grants"] if "URI" in g["Grantee"]] == []  # no public grant


@pytest.mark.django_db
def test_a_reviewer_with_the_permission_sees_the_photo_decrypted(s3_bucket, client):
    attempt = make_attempt(images=True)
    client.force_login(make_user("rita", reviewer=True))

    response = client.get(admin_url("attempt_image", attempt.pk, "face"))

    assert response.status_code == 200
    assert response.content.startswith(b"\xff\xd8\xff")
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_no_url_of_a_photo_is_ever_made(s3_bucket):
    attempt = make_attempt(images=True)

    with pytest.raises(ValueError, match="no URL"):
        attempt.face_image.url  # noqa: B018
    with pytest.raises(ValueError, match="no URL"):
        default_storage.url(attempt.face_image.name)


@pytest.mark.django_db
def test_rotation_re_encrypts_the_objects(s3_bucket, settings):
    client, bucket = s3_bucket
    old, new = crypto.generate_key(), crypto.generate_key()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    make_attempt(images=True)
    make_attempt(images=True)
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = StringIO()

    call_command("rotate_encryption_keys", stdout=out)

    assert "verification.Attempt.face_image (files): 2 re-encrypted" in out.getvalue()
    new_id = crypto.current_key_id()
    assert {
        crypto.bytes_key_id(data) for data in stored_objects(client, bucket).values()
    } == {new_id}


@pytest.mark.django_db
def test_an_erasure_removes_the_objects(s3_bucket):
    client, bucket = s3_bucket
    attempt = make_attempt(images=True, status=Attempt.Status.VERIFIED)
    make_attempt(images=True, status=Attempt.Status.VERIFIED)

    subjects.erase(
        applicant=attempt.applicant, reference="DSR-1", performed_by_name="op"
    )

    left = stored_objects(client, bucket)
    assert len(left) == 2  # the other applicant's
    assert not [key for key in left if str(attempt.code) in key]
