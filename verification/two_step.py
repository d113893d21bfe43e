"""A second step for staff logins: a time-based one-time code (TOTP, RFC 6238)
from an authenticator app, on top of django-otp.

Who is asked: every staff member who set up an app; and, where STAFF_TOTP_REQUIRED
is on (production mode), every staff member who may view identity images, decide,
or export or erase a person's data. Such a staff member without an app is taken,
right after the password, to the setup page (a QR code and the secret, confirmed
with a first code); with one, to the page that asks for the code. Until then no
admin page opens. Wrong codes are throttled by django-otp (each failure doubles
the wait); a lost phone is handled by an operator (`manage.py reset_two_step`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import segno
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from verification import reviews, subjects

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

# What lets a staff member see or act on identity data.
SENSITIVE_PERMISSIONS = (
    reviews.VIEW_IMAGES_PERMISSION,
    reviews.DECIDE_PERMISSION,
    subjects.EXPORT_PERMISSION,
    subjects.ERASE_PERMISSION,
)
DEVICE_NAME = "Authenticator app"
CODE = re.compile(r"\d{6}")


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def must_use_two_step(user: User | AnonymousUser) -> bool:
    """Whether `user` must give a code before any admin page opens."""
    if not (user.is_authenticated and user.is_staff and user.is_active):
        return False
    if settings.STAFF_TOTP_REQUIRED and any(
        user.has_perm(name) for name in SENSITIVE_PERMISSIONS
    ):
        return True
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def require_two_step(get_response: Callable[[HttpRequest], HttpResponse]):
    """Send a staff member who still owes a code from any admin page to the page
    that asks for it (or sets the app up)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if request.path.startswith(reverse("admin:index")) and request.path not in (
            reverse("two_step_verify"),
            reverse("two_step_setup"),
            reverse("admin:logout"),
        ):
            user = request.user
            # is_verified first: it costs nothing, the device lookup a query.
            if not user.is_verified() and must_use_two_step(user):  # type: ignore[union-attr]
                page = "two_step_verify" if confirmed_device(user) else "two_step_setup"  # type: ignore[arg-type]
                query = urlencode({"next": request.get_full_path()})
                return HttpResponseRedirect(f"{reverse(page)}?{query}")
        return get_response(request)

    return middleware


class CodeForm(forms.Form):
    """The 6-digit code the app shows now, checked against `device`."""

    code = forms.CharField(
        label=_("6-digit code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "size": 8,
            }
        ),
        error_messages={"required": _("Enter the 6-digit code your app shows.")},
    )

    def __init__(self, device: TOTPDevice, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_code(self) -> str:
        code = re.sub(r"[\s-]", "", self.cleaned_data["code"])
        if not CODE.fullmatch(code):
            raise ValidationError(
                _("The code is 6 digits, as your app shows it."), code="format"
            )
        allowed, _details = self.device.verify_is_allowed()
        if not allowed:
            raise ValidationError(
                _("Too many wrong codes. Wait a minute, then try the newest code."),
                code="throttled",
            )
        if not self.device.verify_token(code):
            raise ValidationError(
                _(
                    "That code is not right (or was already used). Enter the code "
                    "your app shows now."
                ),
                code="wrong",
            )
        return code


def _next_page(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("admin:index")


def _context(request: HttpRequest, **extra) -> dict:
    return {
        **admin.site.each_context(request),
        "next": _next_page(request),
        **extra,
    }


def _staff_only(request: HttpRequest) -> HttpResponse | None:
    if not (request.user.is_authenticated and request.user.is_staff):
        query = urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(f"{reverse('admin:login')}?{query}")
    return None


@never_cache
@sensitive_post_parameters("code")
def verify(request: HttpRequest) -> HttpResponse:
    """Ask for the code at each login."""
    if refused := _staff_only(request):
        return refused
    device = confirmed_device(request.user)  # type: ignore[arg-type]
    if device is None:
        return redirect(f"{reverse('two_step_setup')}?{request.GET.urlencode()}")
    form = CodeForm(device, request.POST if request.method == "POST" else None)
    if form.is_valid():
        otp_login(request, device)
        return redirect(_next_page(request))
    return TemplateResponse(
        request,
        "admin/two_step/verify.html",
        _context(request, form=form, title=gettext("Enter your login code")),
    )


@never_cache
@sensitive_post_parameters("code")
def setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the QR code (or type the secret), then
    confirm with the first code the app shows."""
    if refused := _staff_only(request):
        return refused
    user = request.user
    if confirmed_device(user):  # type: ignore[arg-type]
        # A second app (or a new phone) goes through an operator: a stolen
        # password alone must not replace the app.
        return redirect(f"{reverse('two_step_verify')}?{request.GET.urlencode()}")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    form = CodeForm(device, request.POST if request.method == "POST" else None)
    if form.is_valid():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        otp_login(request, device)
        messages.success(
            request,
            gettext(
                "Your authenticator app is set up: each login will ask for its code."
            ),
        )
        return redirect(_next_page(request))
    return TemplateResponse(
        request,
        "admin/two_step/setup.html",
        _context(
            request,
            form=form,
            title=gettext("Set up your authenticator app"),
            qr=segno.make(device.config_url, error="m").svg_data_uri(scale=4, border=2),
            secret=spaced_secret(device),
        ),
    )


def spaced_secret(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it typed: base32, in groups of four."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def reset(user: User) -> int:
    """Remove `user`'s apps (a lost phone): the next login sets a new one up.
    How many it removed."""
    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    return removed
