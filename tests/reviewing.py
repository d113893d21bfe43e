"""Factories for the reviewer workspace tests: users in their roles, attempts made
directly with the ORM (for permission and query-count tests), and helpers to read
the admin's pages."""

from __future__ import annotations

import importlib
import io
import itertools
from datetime import date, timedelta
from functools import cache
from types import SimpleNamespace

from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission, User
from django.core.files.base import ContentFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from verification.models import Applicant, Attempt
from verification.reviews import REVIEWERS_GROUP

GROUP_MIGRATION = "verification.migrations.0003_compliance_reviewers_group"
LEDGER_MIGRATION = "verification.migrations.0013_reviewers_see_the_cost_ledger"

_niks = itertools.count(3171010101000001)
_contacts = itertools.count(1)


def reviewers_group() -> Group:
    """The group the data migration creates. Tests that flush the database
    (transactional ones) lose it; this puts it back the migration's way."""
    group = Group.objects.filter(name=REVIEWERS_GROUP).first()
    if group is None:
        migration = importlib.import_module(GROUP_MIGRATION)
        editor = SimpleNamespace(connection=connection)
        migration.create_reviewers_group(global_apps, editor)
        importlib.import_module(LEDGER_MIGRATION).grant(global_apps, editor)
        group = Group.objects.get(name=REVIEWERS_GROUP)
    return group


def make_user(
    username: str,
    *,
    reviewer: bool = False,
    superuser: bool = False,
    staff: bool = True,
    permissions: tuple[str, ...] = (),
    password: str | None = None,
) -> User:
    """A staff user; `reviewer` puts them in the reviewers' group, `permissions`
    ("app_label.codename") grants those directly. Without `password` the user can
    only be logged in with `force_login` (hashing a password is slow)."""
    user = User.objects.create_user(username, f"{username}@staff.example", password)
    user.is_staff = staff or superuser
    user.is_superuser = superuser
    user.save()
    if reviewer:
        user.groups.add(reviewers_group())
    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@cache
def tiny_jpeg(colour: tuple[int, int, int] = (180, 140, 110)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def new_nik() -> str:
    return str(next(_niks))


def make_attempt(
    *,
    nik: str | None = None,
    applicant: Applicant | None = None,
    status: str = Attempt.Status.NEEDS_REVIEW,
    email: str | None = None,
    phone: str | None = None,
    reject_fields: list[str] | None = None,
    images: bool = False,
    age: timedelta = timedelta(hours=1),
    **fields: object,
) -> Attempt:
    """An attempt as the worker leaves it, written straight to the database.
    `images` stores two small JPEGs; without it the image fields hold names only."""
    applicant = applicant or Applicant.for_nik(nik or new_nik())
    serial = next(_contacts)
    created = timezone.now() - age
    if reject_fields is None:
        reject_fields = (
            ["emailAddress"] if status == Attempt.Status.NEEDS_REVIEW else []
        )
    values = {
        "full_name": f"TEST APPLICANT {serial}",
        "birth_date": date(1990, 7, 6),
        "consent_version": "2025-01",
        "consented_at": created,
        "created_at": created,
        "finished_at": created + timedelta(seconds=5),
        "provider_id": f"provider-{serial}",
        "reference_id": f"ref_certel#reference-{serial}",
        "tries": 1,
        **fields,
    }
    attempt = Attempt(
        applicant=applicant,
        status=status,
        email_address=email or f"applicant{serial}@example.com",
        phone_number=phone or f"628120000{serial:04d}",
        reject_fields=reject_fields,
        **values,
    )
    if images:
        attempt.face_image.save("face.jpg", ContentFile(tiny_jpeg()), save=False)
        attempt.identity_image.save(
            "identity.jpg", ContentFile(tiny_jpeg((90, 120, 200))), save=False
        )
    else:
        attempt.face_image.name = f"attempts/none-{serial}/face.jpg"
        attempt.identity_image.name = f"attempts/none-{serial}/identity.jpg"
    attempt.save()
    return attempt


def admin_url(name: str, *args: object) -> str:
    return reverse(f"admin:verification_{name}", args=args)


def holder(attempt: Attempt) -> str | None:
    """The username of the reviewer holding `attempt`, as the database has it now."""
    return (
        Attempt.objects.filter(pk=attempt.pk)
        .values_list("assigned_to__username", flat=True)
        .get()
    )
