"""Identity values and photos stored before encryption came in are encrypted in
place. A migration of its own: on PostgreSQL, the schema change's deferred index
creation cannot follow row updates in the same transaction."""

from django.db import migrations


def mask(nik):
    if len(nik) != 16 or not nik.isascii() or not nik.isdigit():
        return "*" * len(nik)
    return f"{nik[:6]}{'*' * 6}{nik[-4:]}"


def encrypt_existing(apps, schema_editor):
    """Identity values stored before encryption came in are encrypted in place,
    their blind indexes and masked NIKs filled in, and their photos encrypted."""
    from django.core.files.storage import default_storage

    from verification import crypto, lookups

    def seal(value):
        if value in (None, "") or str(value).startswith(crypto.TEXT_PREFIX):
            return value
        return crypto.encrypt_text(str(value))

    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, nik FROM verification_applicant")
        for pk, nik in cursor.fetchall():
            if nik and not nik.startswith(crypto.TEXT_PREFIX):
                cursor.execute(
                    "UPDATE verification_applicant SET nik = %s, nik_masked = %s "
                    "WHERE id = %s",
                    [seal(nik), mask(nik), pk],
                )
        cursor.execute(
            "SELECT id, full_name, birth_date, email_address, phone_number, "
            "face_image, identity_image FROM verification_attempt"
        )
        for pk, name, birth, email, phone, face, ktp in cursor.fetchall():
            if email and not email.startswith(crypto.TEXT_PREFIX):
                cursor.execute(
                    "UPDATE verification_attempt SET full_name = %s, birth_date = %s, "
                    "email_address = %s, phone_number = %s, email_digest = %s, "
                    "phone_digest = %s WHERE id = %s",
                    [
                        seal(name),
                        seal(str(birth)[:10] if birth else birth),
                        seal(email),
                        seal(phone),
                        lookups.email_digest(email),
                        lookups.phone_digest(phone or "") or "",
                        pk,
                    ],
                )
            for photo in (face, ktp):
                encrypt_file(default_storage, photo)


def encrypt_file(storage, name):
    if not name or not hasattr(storage, "rewrite"):
        return
    try:
        stored = storage.read_stored(name)
    except FileNotFoundError:
        return
    from verification import crypto

    if not stored.startswith(crypto.FILE_MAGIC):
        storage.rewrite(name, stored)


class Migration(migrations.Migration):
    dependencies = [
        ("verification", "0005_encrypted_identity_data"),
    ]

    operations = [
        migrations.RunPython(encrypt_existing, migrations.RunPython.noop, elidable=False),
    ]
