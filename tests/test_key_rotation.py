"""Key rotation: a new key goes first, `rotate_encryption_keys` re-encrypts every
field and file under it and says how many, and then the old key can go."""

from __future__ import annotations

from io import StringIO
from typing import cast

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from onboarding.models import Handoff, PendingPhoto
from tests.reviewing import make_attempt, tiny_jpeg
from verification import crypto
from verification.lookups import nik_digest
from verification.models import Applicant, Attempt
from verification.storage import EncryptedFileSystemStorage, EncryptedStorageMixin

pytestmark = pytest.mark.django_db

OLD = crypto.generate_key()
NEW = crypto.generate_key()


def key_id(key: str) -> str:
    return crypto.key_id(crypto.parse_keys([key])[0]).hex()


def stored_key_ids() -> set[str | None]:
    """The key ids of every encrypted value and file, as stored."""
    ids: set[str | None] = set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT full_name, email_address FROM verification_attempt")
        for row in cursor.fetchall():
            ids |= {crypto.text_key_id(value) for value in row}
        cursor.execute("SELECT nik FROM verification_applicant")
        ids |= {crypto.text_key_id(nik) for (nik,) in cursor.fetchall()}
    for attempt in Attempt.objects.all():
        storage = cast(EncryptedStorageMixin, attempt.face_image.storage)
        ids.add(crypto.bytes_key_id(storage.read_stored(attempt.face_image.name or "")))
    return ids


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def stored_under_the_old_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    attempts = [make_attempt(images=True, full_name=f"SITI {n}") for n in range(3)]
    Handoff.objects.create(values={"identityId": "3171 0101 0101 0001"})
    PendingPhoto.keep(browser="b", kind="face", data=tiny_jpeg())
    return attempts


def test_it_re_encrypts_everything_under_the_new_key_and_counts_it(
    stored_under_the_old_key, settings
):
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]

    output = rotate()

    assert "verification.Attempt.full_name: 3 re-encrypted" in output
    assert "verification.Attempt.email_address: 3 re-encrypted" in output
    assert "verification.Applicant.nik: 3 re-encrypted" in output
    assert "verification.Attempt.face_image (files): 3 re-encrypted" in output
    assert "onboarding.Handoff.values: 1 re-encrypted" in output
    assert "onboarding.PendingPhoto.image (files): 1 re-encrypted" in output
    assert "older keys can be removed" in output
    assert stored_key_ids() == {key_id(NEW)}


def test_after_rotation_the_old_key_can_be_removed(stored_under_the_old_key, settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    rotate()
    settings.FIELD_ENCRYPTION_KEYS = [NEW]

    attempts = list(Attempt.objects.select_related("applicant").order_by("pk"))

    assert [a.full_name for a in attempts] == ["SITI 0", "SITI 1", "SITI 2"]
    assert all(a.unreadable_fields() == [] for a in attempts)
    with attempts[0].face_image.open("rb") as face:
        assert face.read() == tiny_jpeg()
    assert Handoff.objects.get().values == {"identityId": "3171 0101 0101 0001"}
    assert "3 current" in rotate("--report")


def test_a_second_run_has_nothing_left_to_do(stored_under_the_old_key, settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    rotate()

    output = rotate()

    assert "re-encrypted" not in output
    assert "verification.Attempt.full_name: 3 current" in output


def test_values_stored_before_encryption_are_encrypted(
    stored_under_the_old_key, settings
):
    attempt = stored_under_the_old_key[0]
    storage = cast(EncryptedFileSystemStorage, attempt.identity_image.storage)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE verification_attempt SET full_name = %s WHERE id = %s",
            ["SITI LEGACY", attempt.pk],
        )
    with open(storage.path(attempt.identity_image.name), "wb") as legacy:
        legacy.write(tiny_jpeg())
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]

    output = rotate()

    assert (
        "verification.Attempt.full_name: 1 encrypted (was plain), 2 re-encrypted"
        in output
    )
    assert (
        "verification.Attempt.identity_image (files): 1 encrypted (was plain)" in output
    )
    attempt.refresh_from_db()
    assert attempt.full_name == "SITI LEGACY"
    assert crypto.bytes_key_id(
        storage.read_stored(attempt.identity_image.name)
    ) == key_id(NEW)


def test_removing_the_old_key_too_early_is_reported_for_each_record(
    stored_under_the_old_key, settings
):
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    errors = StringIO()

    with pytest.raises(CommandError, match="keep the old keys"):
        call_command(
            "rotate_encryption_keys", "--report", stdout=StringIO(), stderr=errors
        )

    first = stored_under_the_old_key[0]
    assert (
        f"verification.Attempt {first.pk} ({first.code}): full_name it was encrypted "
        f"with key {key_id(OLD)}, which is not in FIELD_ENCRYPTION_KEYS"
    ) in errors.getvalue()
    assert f"verification.Attempt {first.pk} ({first.code}): face_image file" in (
        errors.getvalue()
    )
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    assert Attempt.objects.get(pk=first.pk).full_name == "SITI 0"  # nothing changed


def test_rotating_the_secret_key_leaves_identity_data_readable_and_findable(
    stored_under_the_old_key, settings
):
    settings.NIK_LOOKUP_KEY = "a-lookup-key-of-its-own"
    applicant = Applicant.for_nik("3171010101099999")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-" + "x" * 40

    assert Applicant.objects.get(nik_digest=nik_digest("3171010101099999")) == applicant
    assert Applicant.objects.get(pk=applicant.pk).nik == "3171010101099999"
    assert Attempt.objects.filter(full_name="").count() == 0
