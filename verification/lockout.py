"""Locked-out reviewer logins, on top of django-axes.

django-axes counts failed logins in the database, per account and per client
address (`verification.clients`), and refuses every login of a locked account or
from a locked address, the right password included, for LOGIN_LOCKOUT_MINUTES. This
module says so on the admin's own login page, in the reader's language, and lifts
a lock for an operator.
"""

from __future__ import annotations

from axes.utils import reset
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext


def lockout_message() -> str:
    minutes = settings.LOGIN_LOCKOUT_MINUTES
    return ngettext(
        "Too many failed logins: this account, or logins from this address, are "
        "locked for %(minutes)d minute. Try again later, or ask an operator to "
        "unlock it.",
        "Too many failed logins: this account, or logins from this address, are "
        "locked for %(minutes)d minutes. Try again later, or ask an operator to "
        "unlock it.",
        minutes,
    ) % {"minutes": minutes}


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the admin's login page, with the username kept and
    the lock explained; 429, so that scripts see a refusal too."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AdminAuthenticationForm(request, initial={"username": username})
    context = {
        **admin.site.each_context(request),
        "title": gettext("Log in"),
        "subtitle": None,
        "app_path": request.get_full_path(),
        "form": form,
        "locked_out": lockout_message(),
        REDIRECT_FIELD_NAME: request.POST.get(REDIRECT_FIELD_NAME, ""),
    }
    response = TemplateResponse(request, "admin/login.html", context, status=429)
    return response.render()


def unlock(username: str) -> int:
    """Lift the lock on `username`'s logins (and on the addresses its failures
    came from, as far as those failures counted): how many records it removed."""
    return reset(username=username)


def unlock_address(address: str) -> int:
    """Lift the lock on logins from a client address (as `clients.normalise`
    writes it): how many records it removed."""
    return reset(ip=address)
