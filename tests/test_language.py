"""Bahasa Indonesia first, English by a visible switch, and every message translated."""

from __future__ import annotations

import gettext
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.core import mail
from django.test import Client

from tests.applying import details, submit
from tests.pages import text_of
from tests.worker import run_worker

BASE_DIR = Path(__file__).resolve().parent.parent
CATALOG = BASE_DIR / "locale/id/LC_MESSAGES/django.po"


@pytest.mark.django_db
def test_the_site_speaks_bahasa_indonesia_by_default(client):
    response = client.get("/")

    assert '<html lang="id">' in response.content.decode()
    assert "Verifikasi identitas Anda untuk sertifikat elektronik" in text_of(response)


@pytest.mark.django_db
def test_a_visible_switch_changes_the_language_to_english_and_back(client):
    page = client.get("/register/").content.decode()
    assert 'name="language" value="en"' in page

    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/register/"})
    english = client.get(switched["Location"])
    client.post("/i18n/setlang/", {"language": "id", "next": "/"})
    indonesian = client.get("/")

    assert switched["Location"] == "/register/"
    assert "Your details" in text_of(english)
    assert 'name="language" value="id"' in english.content.decode()
    assert "Verifikasi identitas Anda" in text_of(indonesian)


@pytest.mark.django_db
def test_form_errors_appear_in_bahasa_indonesia(client):
    response = client.post(
        "/register/", details(emailAddress="asep@", phoneNumber="021 555 1234")
    )

    page = text_of(response)
    assert "Alamat email ini tidak valid" in page
    assert "Ini tampaknya nomor telepon rumah" in page
    assert "Periksa hal berikut" in page


@pytest.mark.django_db(transaction=True)
def test_the_email_is_written_in_the_language_the_applicant_used(sandbox):
    submit(Client(), identityId="1234567890111114")
    submit(Client(headers={"accept-language": "en"}), identityId="1234567890123456")

    run_worker()

    subjects = sorted(message.subject for message in mail.outbox)
    assert subjects == [
        "Identitas Anda tidak dapat diverifikasi",
        "Your identity is verified",
    ]


def test_every_message_has_a_bahasa_indonesia_translation():
    catalog = polib.pofile(str(CATALOG))

    assert catalog.percent_translated() == 100
    assert not catalog.fuzzy_entries()
    assert not catalog.obsolete_entries()


def test_the_compiled_catalog_matches_its_source():
    catalog = polib.pofile(str(CATALOG))
    with CATALOG.with_suffix(".mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)

    for entry in catalog:
        if entry.msgid_plural:
            assert (
                compiled.ngettext(entry.msgid, entry.msgid_plural, 1)
                == (entry.msgstr_plural[0])
            )
        else:
            assert compiled.gettext(entry.msgid) == entry.msgstr


def test_no_message_in_the_code_is_missing_from_the_catalog(tmp_path):
    # makemessages over a copy of the source, so the committed catalog is untouched.
    copy = tmp_path / "source"
    shutil.copytree(
        BASE_DIR,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv", "node_modules", "data", ".git", "staticfiles", "tests", "bench",
            "__pycache__", ".pytest_cache", ".ruff_cache",
        ),
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "id", "--no-location",
         "--no-obsolete"],
        cwd=copy,
        check=True,
        capture_output=True,
    )  # fmt: skip

    fresh = polib.pofile(str(copy / "locale/id/LC_MESSAGES/django.po"))
    untranslated = [entry.msgid for entry in fresh if not entry.translated()]
    assert not untranslated, "messages without a translation: run makemessages"
