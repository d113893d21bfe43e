"""Staff sessions end after ADMIN_SESSION_IDLE_MINUTES without a request and
ADMIN_SESSION_MAX_HOURS after login, whatever the session cookie's age says.

Applicants never log in: their sessions keep SESSION_COOKIE_AGE. A staff member's
session records when it started and when it was last used; the next request after
either limit logs out (the one-time code with it) and goes to the login page with
a word on why, back to the same page after logging in again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import ngettext

STARTED = "staff_session_started"
SEEN = "staff_session_seen"

# Seconds since the epoch; tests put a clock of their own here.
clock: Callable[[], float] = time.time


def _start(request: HttpRequest) -> None:
    now = clock()
    request.session[STARTED] = now
    request.session[SEEN] = now
    request.session.set_expiry(settings.ADMIN_SESSION_IDLE_MINUTES * 60)


@receiver(user_logged_in)
def _staff_logged_in(sender, request: HttpRequest | None, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session") and user.is_staff:
        _start(request)


def why_ended(request: HttpRequest) -> str | None:
    """Why this staff session must end now (a message), or None."""
    started = request.session.get(STARTED)
    seen = request.session.get(SEEN)
    if started is None or seen is None:
        return None
    now = clock()
    max_hours = settings.ADMIN_SESSION_MAX_HOURS
    if now - started > max_hours * 3600:
        hours = float(max_hours)
        return ngettext(
            "You were logged out: a session lasts at most %(hours)s hour. Log in "
            "again to go on.",
            "You were logged out: a session lasts at most %(hours)s hours. Log in "
            "again to go on.",
            int(hours) if hours.is_integer() else 2,
        ) % {"hours": f"{hours:g}"}
    idle = settings.ADMIN_SESSION_IDLE_MINUTES
    if now - seen > idle * 60:
        return ngettext(
            "You were logged out after %(minutes)d minute without activity. Log in "
            "again to go on.",
            "You were logged out after %(minutes)d minutes without activity. Log "
            "in again to go on.",
            idle,
        ) % {"minutes": idle}
    return None


def end_stale_staff_sessions(get_response: Callable[[HttpRequest], HttpResponse]):
    def middleware(request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.is_staff:
            if STARTED not in request.session:
                # A session from before these limits: counted from now.
                _start(request)
            elif reason := why_ended(request):
                logout(request)
                messages.warning(request, reason)
                return redirect_to_login(
                    request.get_full_path(), reverse("admin:login")
                )
            else:
                request.session[SEEN] = clock()
                request.session.set_expiry(settings.ADMIN_SESSION_IDLE_MINUTES * 60)
        return get_response(request)

    return middleware
