"""The production WSGI application for tests that run gunicorn in production mode:
`onboarding.wsgi` with static files from the finders, since production's manifest
storage needs `collectstatic` first and where static files come from has no
bearing on what those tests look at (see tests.headers.production_probe)."""

from __future__ import annotations

import os

import django
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onboarding.settings")
django.setup()
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

from onboarding.wsgi import application  # noqa: E402

__all__ = ["application"]
