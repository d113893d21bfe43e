"""Reading the security headers and cookies a response carries, the same way in this
process and in a production-mode process (`production_probe`, run there by
`manage.py shell`: settings are read once per process)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from django.http.response import HttpResponseBase

# What production_probe asks for, over HTTPS unless it starts with "http:".
PROBE_HOST = "onboarding.example.id"
PROBE_PASSWORD = "a-long-password-only-for-this-probe"


def seen(response: HttpResponseBase) -> dict[str, Any]:
    """What a browser would see of `response`: its status, its headers (names in
    lower case) and the flags of each cookie it sets."""
    return {
        "status": response.status_code,
        "headers": {name.lower(): value for name, value in response.headers.items()},
        "cookies": {
            name: {
                "httponly": bool(morsel["httponly"]),
                "secure": bool(morsel["secure"]),
                "samesite": morsel["samesite"],
            }
            for name, morsel in response.cookies.items()
        },
    }


def csp_directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: [sources]}."""
    directives = {}
    for part in policy.split(";"):
        if part.strip():
            name, *sources = part.split()
            directives[name] = sources
    return directives


def permissions(policy: str) -> dict[str, str]:
    """A Permissions-Policy header as {feature: allowlist}."""
    return dict(
        item.strip().split("=", 1) for item in policy.split(",") if item.strip()
    )


class _Inline(HTMLParser):
    """Everything in a page that a policy without 'unsafe-inline' blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            kind = (named.get("type") or "").lower()
            # JSON data blocks are not run; every script that runs has a src.
            if "src" not in named and kind not in ("application/json", "importmap"):
                self.found.append(f"<script> without src: {named}")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{name} handler on <{tag}>")
            if name == "style":
                self.found.append(f"style attribute on <{tag}>")
            if name in ("href", "src", "action") and re.match(
                r"\s*javascript:", value or "", re.I
            ):
                self.found.append(f"javascript: URL on <{tag}>")


def inline_code(html: str) -> list[str]:
    """What in `html` the browser would refuse to run or apply under
    script-src/style-src 'self' (empty when nothing)."""
    parser = _Inline()
    parser.feed(html)
    return parser.found


def production_probe() -> dict[str, Any]:
    """Run in a production-mode process with a migrated database: what the
    applicant pages, the admin and /healthz send, by path.

    Static files use the plain storage here: production's manifest storage needs
    `collectstatic` first, and where static files are found has no bearing on
    the headers.
    """
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client
    from django.test.utils import override_settings

    storages = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }
    with override_settings(STORAGES=storages):
        User.objects.create_superuser("root", "root@example.id", PROBE_PASSWORD)
        browser = Client(HTTP_HOST=PROBE_HOST)
        pages = {
            path: seen(browser.get(path, secure=True))
            for path in (
                "/",
                "/privacy/",
                "/register/",
                "/register/photo/not-a-token/",
                "/healthz",
                "/admin/login/",
            )
        }
        reviewer = Client(HTTP_HOST=PROBE_HOST)
        pages["/admin/login/ (sent)"] = seen(
            reviewer.post(
                "/admin/login/?next=/admin/",
                {"username": "root", "password": PROBE_PASSWORD},
                secure=True,
            )
        )
        # Production mode asks staff for a one-time code after the password.
        from django_otp.oath import totp
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device = TOTPDevice.objects.create(
            user=User.objects.get(username="root"), name="phone", confirmed=True
        )
        pages["/admin/ (before the code)"] = seen(reviewer.get("/admin/", secure=True))
        pages["/admin/two-step/"] = seen(reviewer.get("/admin/two-step/", secure=True))
        pages["/admin/two-step/ (sent)"] = seen(
            reviewer.post(
                "/admin/two-step/?next=/admin/",
                {"code": f"{totp(device.bin_key):06d}"},
                secure=True,
            )
        )
        pages["/admin/"] = seen(reviewer.get("/admin/", secure=True))
        for path in ("/", "/healthz"):
            pages["http:" + path] = seen(Client(HTTP_HOST=PROBE_HOST).get(path))
    return pages
