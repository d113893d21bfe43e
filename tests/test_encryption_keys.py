"""Encryption keys: kept in DATA_DIR on the embedded defaults, checked at start-up,
and a wrong or missing key is a clear start-up error, never a page that half-works;
a single value that cannot be decrypted is reported for its record."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import FieldError
from django.db import connection

from tests.reviewing import admin_url, make_attempt, make_user
from tests.worker import run_worker
from verification import crypto
from verification.fields import UNREADABLE_TEXT
from verification.models import Applicant, Attempt, ProviderCall

BASE_DIR = Path(__file__).resolve().parent.parent
KEY_A = crypto.generate_key()
KEY_B = crypto.generate_key()


def manage(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


def python(code: str, *, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "onboarding.settings",
        "PYTHONPATH": str(BASE_DIR),
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


STORE_ONE = (
    "from verification.models import Applicant\nApplicant.for_nik('3171010101010001')\n"
)


@pytest.mark.parametrize("value", ["not-a-key", "c2hvcnQ=", f"{KEY_A},{KEY_A}"])
def test_a_malformed_key_stops_the_start_with_a_clear_message(value, tmp_path):
    result = manage("check", tmp_path=tmp_path, FIELD_ENCRYPTION_KEYS=value)

    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr
    assert value.split(",")[0] not in result.stderr  # never the key itself


def test_the_embedded_defaults_keep_a_key_in_data_dir_that_survives_restarts(tmp_path):
    assert manage("migrate", "-v", "0", tmp_path=tmp_path).returncode == 0
    stored = manage("shell", "-v", "0", "-c", STORE_ONE, tmp_path=tmp_path)
    read = manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from verification.models import Applicant; print(Applicant.objects.get().nik)",
        tmp_path=tmp_path,
    )

    key_file = tmp_path / "field_encryption_key"
    assert stored.returncode == 0, stored.stderr
    assert read.stdout.strip() == "3171010101010001"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() != (tmp_path / "secret_key").read_text()


def test_a_key_that_cannot_read_the_stored_data_stops_every_start(tmp_path):
    assert manage("migrate", "-v", "0", tmp_path=tmp_path).returncode == 0
    assert (
        manage(
            "shell",
            "-v",
            "0",
            "-c",
            STORE_ONE,
            tmp_path=tmp_path,
            FIELD_ENCRYPTION_KEYS=KEY_A,
        ).returncode
        == 0
    )

    check = manage("check", tmp_path=tmp_path, FIELD_ENCRYPTION_KEYS=KEY_B)
    worker = manage(
        "db_worker", "--batch", tmp_path=tmp_path, FIELD_ENCRYPTION_KEYS=KEY_B
    )
    wsgi = python(
        "import onboarding.wsgi", tmp_path=tmp_path, FIELD_ENCRYPTION_KEYS=KEY_B
    )
    rotating = manage(
        "check", tmp_path=tmp_path, FIELD_ENCRYPTION_KEYS=f"{KEY_B},{KEY_A}"
    )

    for refused in (check, worker, wsgi):
        assert refused.returncode != 0
        assert "cannot read the stored identity data" in refused.stderr
        assert "verification_applicant.nik" in refused.stderr
        assert "which is not in FIELD_ENCRYPTION_KEYS" in refused.stderr
    assert "verification.E001" in check.stderr
    assert rotating.returncode == 0, rotating.stderr


@pytest.fixture
def damaged(db) -> Attempt:
    """An attempt whose stored name and email were damaged at rest."""
    attempt = make_attempt(status=Attempt.Status.NEEDS_REVIEW, images=True)
    table = Attempt._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT full_name FROM {table} WHERE id = %s", [attempt.pk])
        (stored,) = cursor.fetchone()
        broken = stored[:-6] + ("AAAAAA" if not stored.endswith("AAAAAA") else "BBBBBB")
        cursor.execute(
            f"UPDATE {table} SET full_name = %s, email_address = %s WHERE id = %s",
            [broken, "e1:" + crypto.encrypt_text("x")[3:10], attempt.pk],
        )
    return attempt


def test_a_value_that_cannot_be_decrypted_is_reported_on_its_page(damaged, client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(make_user("rita", reviewer=True))

    page = client.get(admin_url("attempt_change", damaged.pk))
    listing = client.get(admin_url("attempt_changelist"))

    assert page.status_code == 200
    text = page.content.decode()
    assert (
        "cannot be decrypted with the configured keys: full_name, email_address" in text
    )
    assert UNREADABLE_TEXT in text
    assert damaged.reference_id in text  # the rest of the record is there
    assert listing.status_code == 200
    assert UNREADABLE_TEXT in listing.content.decode()


def test_saving_a_record_with_an_unreadable_value_keeps_the_stored_ciphertext(damaged):
    def stored() -> str:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT full_name FROM {Attempt._meta.db_table} WHERE id = %s",
                [damaged.pk],
            )
            return cursor.fetchone()[0]

    before = stored()
    attempt = Attempt.objects.get(pk=damaged.pk)
    attempt.language = "en"
    attempt.save()

    assert stored() == before
    assert attempt.unreadable_fields() == ["full_name", "email_address"]


@pytest.mark.django_db(transaction=True)
def test_the_worker_never_pays_for_a_request_it_cannot_decrypt(sandbox, caplog):
    attempt = make_attempt(status=Attempt.Status.QUEUED, images=True)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Applicant._meta.db_table} SET nik = %s WHERE id = %s",
            [
                "e1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                attempt.applicant_id,
            ],
        )
    from verification.tasks import verify

    verify.enqueue(attempt.pk)
    run_worker()

    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.FAILED
    assert attempt.failure == Attempt.Failure.CONFIGURATION
    assert ProviderCall.objects.count() == 0
    assert "cannot be decrypted" in caplog.text


@pytest.mark.django_db
def test_encrypted_values_cannot_be_compared_in_the_database():
    make_attempt(email="siti@example.com")

    with pytest.raises(FieldError, match="blind index"):
        Attempt.objects.filter(email_address="siti@example.com").count()
    with pytest.raises(FieldError):
        Attempt.objects.filter(full_name__icontains="siti").count()
    assert Attempt.objects.filter(email_address="").count() == 0
