"""Append-only records, enforced by PostgreSQL itself: review decisions, image views
and data-subject requests refuse UPDATE and DELETE whoever sends them.

The one UPDATE let through is a redaction (verification.models.AppendOnly.redact):
`redacted_at` goes from empty to set, the columns named in the trigger's arguments
become empty, and nothing else changes. On SQLite the ORM's guard stands alone (its
test databases are emptied with DELETE, which a trigger would refuse).
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION verification_append_only() RETURNS trigger AS $$
DECLARE
    old_row jsonb := to_jsonb(OLD);
    new_row jsonb := to_jsonb(NEW);
    col text;
BEGIN
    IF TG_OP = 'UPDATE' AND TG_NARGS > 0
       AND old_row ->> 'redacted_at' IS NULL
       AND new_row ->> 'redacted_at' IS NOT NULL THEN
        FOREACH col IN ARRAY TG_ARGV LOOP
            IF coalesce(new_row ->> col, '') <> '' THEN
                RAISE EXCEPTION '% is append-only: a redaction only blanks %',
                    TG_TABLE_NAME, array_to_string(TG_ARGV, ', ')
                    USING ERRCODE = 'restrict_violation';
            END IF;
            old_row := old_row - col;
            new_row := new_row - col;
        END LOOP;
        IF (old_row - 'redacted_at') = (new_row - 'redacted_at') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""

# Table, and the personal-text columns a redaction may blank.
TABLES = {
    "verification_reviewdecision": ("note", "applicant_message"),
    "verification_imageaccess": (),
    "verification_datasubjectrequest": (),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        # Without parameters, so that the function's % placeholders stay as they are.
        cursor.execute(FUNCTION)
    for table, redactable in TABLES.items():
        arguments = ", ".join(f"'{column}'" for column in redactable)
        schema_editor.execute(f"DROP TRIGGER IF EXISTS append_only ON {table}")
        schema_editor.execute(
            f"CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION verification_append_only({arguments})"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS verification_append_only()")


class Migration(migrations.Migration):
    dependencies = [
        ("verification", "0006_encrypt_existing_identity_data"),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
