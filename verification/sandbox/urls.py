"""The built-in Kredibel sandbox, mounted at /sandbox/ by the project's URLconf while
the sandbox app is installed. Every path below it goes to the sandbox, which answers
the provider's endpoint and a JSON 404 for anything else."""

from __future__ import annotations

from django.urls import re_path

from verification.sandbox import views

app_name = "sandbox"

urlpatterns = [
    re_path(r"^(?P<subpath>.*)$", views.sandbox_view, name="sandbox"),
]
