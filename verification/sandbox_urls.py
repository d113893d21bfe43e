"""The built-in Kredibel sandbox, mounted at /sandbox/ by onboarding/urls.py while
KREDIBEL_SANDBOX is on. Every path below it goes to the sandbox, which answers the
provider's endpoint and a JSON 404 for anything else."""

from __future__ import annotations

from django.urls import re_path

from verification import sandbox

app_name = "sandbox"

urlpatterns = [
    re_path(r"^(?P<subpath>.*)$", sandbox.sandbox_view, name="sandbox"),
]
