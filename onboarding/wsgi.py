"""WSGI entry point: `gunicorn onboarding.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onboarding.settings")

application = get_wsgi_application()

# gunicorn runs no system checks: a key that cannot read the stored identity data
# stops the start here, not on the first page.
from verification.checks import refuse_unreadable_data  # noqa: E402

refuse_unreadable_data()
