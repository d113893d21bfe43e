"""The "Compliance reviewers" group: what deciding `needs_review` attempts takes and
nothing more. Reviewers view attempts, applicants, the queue and past decisions,
decide, and view identity photos; they change and delete nothing.

The permissions are created here (they would otherwise only appear after the last
migration, in post_migrate), with the names Django gives them.
"""

from django.db import migrations

REVIEWERS_GROUP = "Compliance reviewers"

PERMISSIONS = {
    "attempt": [
        ("view_attempt", "Can view attempt"),
        ("decide_attempt", "Can approve or reject attempts that need review"),
        ("view_identity_images", "Can view selfies and KTP photos"),
    ],
    "applicant": [("view_applicant", "Can view applicant")],
    "reviewcase": [("view_reviewcase", "Can view review case")],
    "reviewdecision": [("view_reviewdecision", "Can view review decision")],
}


def create_reviewers_group(apps, schema_editor):
    alias = schema_editor.connection.alias
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.using(alias).get_or_create(name=REVIEWERS_GROUP)
    for model, permissions in PERMISSIONS.items():
        content_type, _ = ContentType.objects.using(alias).get_or_create(
            app_label="verification", model=model
        )
        for codename, name in permissions:
            permission, _ = Permission.objects.using(alias).get_or_create(
                content_type=content_type, codename=codename, defaults={"name": name}
            )
            group.permissions.add(permission)


def remove_reviewers_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(
        name=REVIEWERS_GROUP
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("verification", "0002_review"),
    ]

    operations = [
        migrations.RunPython(create_reviewers_group, remove_reviewers_group),
    ]
