"""The "Compliance reviewers" group may read the cost ledger (the provider calls):
reviewers and finance officers answer "what did we pay this month, and what did
we pay twice?" from it. A finance officer can be given this one permission alone.
"""

from django.db import migrations

REVIEWERS_GROUP = "Compliance reviewers"


def grant(apps, schema_editor):
    alias = schema_editor.connection.alias
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group = Group.objects.using(alias).filter(name=REVIEWERS_GROUP).first()
    if group is None:
        return
    content_type, _ = ContentType.objects.using(alias).get_or_create(
        app_label="verification", model="providercall"
    )
    permission, _ = Permission.objects.using(alias).get_or_create(
        content_type=content_type,
        codename="view_providercall",
        defaults={"name": "Can view provider call"},
    )
    group.permissions.add(permission)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name=REVIEWERS_GROUP).first()
    permission = Permission.objects.filter(
        content_type__app_label="verification", codename="view_providercall"
    ).first()
    if group and permission:
        group.permissions.remove(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("verification", "0012_audit_chain"),
    ]

    operations = [
        migrations.RunPython(grant, revoke),
    ]
