"""The applicant's pages: start, privacy notice, the form and its review step, the
hand-off to a phone, and the status page.

An applicant has no account. Their browser session holds a random browser id (which
pending photos belong to) and the codes of the attempts they may see; a signed link
adds an attempt to any browser that opens it.

The form's journey: `register` (the form; valid data goes on to the review step),
`register_edit` (the review step's Change buttons), `register_confirm` (the review
step's send), `register_code` (with EMAIL_CODE_REQUIRED: the page that asks for the
code emailed after that send), `register_language` (the language switch on any of
these pages). Each page carries what was typed as hidden fields and the photos as
tokens; nothing typed goes into the session or a URL.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import segno
from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from onboarding import email_codes
from onboarding import tasks as onboarding_tasks
from onboarding.forms import (
    CONTACT_FIELDS,
    FORM_ORDER,
    KTP_FIELDS,
    PHOTO_FIELDS,
    EmailCodeForm,
    RegistrationForm,
    code_error,
    code_limit_message,
    photo_settings,
    script_messages,
)
from onboarding.models import CodeLimitReached, EmailCode, Handoff, PendingPhoto
from onboarding.outcomes import decision_message, status_context
from onboarding.privacy import PRIVACY_NOTICE_VERSION, retention_periods
from verification.clients import client_address
from verification.integrations import sessions
from verification.integrations.models import VerificationSession
from verification.integrations.sessions import SessionClosed
from verification.models import Attempt
from verification.submission import LimitReached, can_retry, retry_failed_attempt

TEXT_FIELDS = ("identityId", "fullName", "birthDate", "emailAddress", "phoneNumber")
# Attempts the applicant may correct with a prefilled form.
CORRECTABLE = (Attempt.Status.NOT_VERIFIED, Attempt.Status.REJECTED)


# Session helpers -------------------------------------------------------------------


def browser_id(request: HttpRequest) -> str:
    if "browser" not in request.session:
        request.session["browser"] = secrets.token_urlsafe(24)
    return request.session["browser"]


def remember_attempt(request: HttpRequest, attempt: Attempt) -> None:
    codes = request.session.get("attempts", [])
    if str(attempt.code) not in codes:
        request.session["attempts"] = [*codes, str(attempt.code)]


def session_attempt(request: HttpRequest, code: uuid.UUID) -> Attempt:
    """The attempt, if this browser may see it; 404 otherwise (whether or not it
    exists, so that guessing codes tells nothing)."""
    if str(code) not in request.session.get("attempts", []):
        raise Http404
    return get_object_or_404(Attempt.objects.select_related("applicant"), code=code)


def session_options(request: HttpRequest) -> dict[str, Any]:
    """What the form knows of this browser's session."""
    return {
        "browser": browser_id(request),
        "client_address": client_address(request),
        "visible_attempts": request.session.get("attempts", []),
        "open_sessions": request.session.get("sessions", []),
    }


def new_form(request: HttpRequest, initial: dict | None = None) -> RegistrationForm:
    return RegistrationForm.blank(initial=initial, **session_options(request))


def bound_form(
    request: HttpRequest, *, files: bool = True, confirming: bool = False
) -> RegistrationForm:
    return RegistrationForm(
        request.POST,
        request.FILES if files else None,
        confirming=confirming,
        **session_options(request),
    )


def link_expired(
    request: HttpRequest, link: str, session: VerificationSession | None = None
) -> HttpResponse:
    """The page for a signed link that no longer works (`link`: "status",
    "handoff" or "session"), with the way forward (back to the integrator of
    `session`, when it gave a return URL)."""
    context = {
        "link": link,
        "minutes": settings.HANDOFF_LINK_MAX_AGE_MINUTES,
        **return_context(session),
    }
    return render(request, "onboarding/link_expired.html", context, status=410)


def return_context(session: VerificationSession | None) -> dict[str, str]:
    """The integrator who sent the applicant, and the way back to it (when it
    gave a return URL)."""
    if session is None:
        return {}
    return {
        "return_link": sessions.return_link(session),
        "return_name": session.api_key.name,
    }


def set_language_cookie(response: HttpResponse, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


# Pages -----------------------------------------------------------------------------


@require_GET
def start(request: HttpRequest) -> HttpResponse:
    return render(request, "onboarding/start.html")


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "onboarding/privacy.html",
        {"version": PRIVACY_NOTICE_VERSION, **retention_periods()},
    )


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on any page that names none (the admin's)."""
    return redirect(static("favicon.ico"), permanent=True)


@never_cache
@sensitive_post_parameters()
def register(request: HttpRequest) -> HttpResponse:
    """The form (GET) and its first submission (POST): valid data goes on to the
    review step; otherwise the form comes back with every error beside its field,
    everything typed still there and every photo already received kept."""
    if request.method != "POST":
        return render_form(request, new_form(request))
    onboarding_tasks.schedule_purge()  # for the photos this request may keep
    form = bound_form(request)
    if form.is_valid():
        return render_review(request, form)
    return render_form(request, form.with_photo_tokens())


@never_cache
@sensitive_post_parameters()
@require_POST
def register_edit(request: HttpRequest) -> HttpResponse:
    """The review step's Change and Retake buttons: the form again, filled in with
    what the review step showed, that field focused."""
    initial = {
        name: request.POST.get(name, "") for name in RegistrationForm.base_fields
    }
    initial = {name: value for name, value in initial.items() if value}
    return render_form(
        request, new_form(request, initial), focus=request.POST.get("edit")
    )


@never_cache
@sensitive_post_parameters()
@require_POST
def register_confirm(request: HttpRequest) -> HttpResponse:
    """The review step's "send": store the attempt, queue its verification and go to
    the status page without waiting for the provider; with EMAIL_CODE_REQUIRED, the
    code page first, unless the address is confirmed. The same form sent again (a
    double click, Back and send) leads to the attempt it already made."""
    already = sent_before(request)
    if already:
        return redirect("status", code=already.code)
    form = bound_form(request, files=False, confirming=True)
    if not form.is_valid():
        return form_again(request, form)
    if code_needed(form):
        return ask_for_code(request, form)
    return send_application(request, form)


@never_cache
@sensitive_post_parameters()
@require_POST
def register_code(request: HttpRequest) -> HttpResponse:
    """The code page's buttons: the code (the right one sends the application as
    the review step's send does), or "send a new code"."""
    already = sent_before(request)
    if already:
        return redirect("status", code=already.code)
    form = bound_form(request, files=False, confirming=True)
    if not form.is_valid():
        return form_again(request, form)
    current = form_code(form)
    if current is None or not current.is_for(form.cleaned_data["emailAddress"]):
        return ask_for_code(request, form)  # a changed address: a code for it
    if "resend" in request.POST:
        if not current.may_resend():
            return render_code(request, form, current, too_soon=True)
        return send_new_code(request, form, current, resent=True)
    code_form = EmailCodeForm(request.POST, email_code=current)
    if not code_form.is_valid():
        return render_code(request, form, current, code_form)
    return send_application(request, form)


def form_again(request: HttpRequest, form: RegistrationForm) -> HttpResponse:
    """A send whose form is no longer valid: the review step again when only a
    confirmation is missing, otherwise the form."""
    # The other request of a double click may have sent it meanwhile (and cleared
    # its photos): the applicant goes where that one went.
    already = sent_before(request)
    if already:
        return redirect("status", code=already.code)
    if form.only_confirmations_missing():
        return render_review(request, form)
    return render_form(request, form.with_photo_tokens())


def send_application(request: HttpRequest, form: RegistrationForm) -> HttpResponse:
    try:
        attempt, created = form.submit(language=get_language())
    except LimitReached:
        # Another tab (or, for the address, another device) used the last attempt
        # between review and send: the form with the message, nothing lost.
        return render_form(
            request, bound_form(request, files=False).with_photo_tokens()
        )
    except SessionClosed as closed:
        # Another tab sent the integrator's session first, or it expired.
        return session_closed(request, closed.session)
    if attempt.browser != form.browser:
        raise Http404
    if created:
        onboarding_tasks.purge_drafts.enqueue()
    EmailCode.forget_addresses(
        browser=form.browser, submission=form.cleaned_data["submission"]
    )
    remember_attempt(request, attempt)
    return redirect("status", code=attempt.code)


def sent_before(request: HttpRequest) -> Attempt | None:
    try:
        submission = uuid.UUID(request.POST.get("submission", ""))
    except ValueError:
        return None
    return Attempt.objects.filter(
        submission=submission, browser=browser_id(request)
    ).first()


@never_cache
@sensitive_post_parameters()
@require_POST
def register_language(request: HttpRequest) -> HttpResponse:
    """The language switch on the form, the review step and the code page: the
    form posts itself here, and the same step comes back in the other language with
    everything typed and every photo kept."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        language = get_language()
    translation.activate(language)
    form = bound_form(request)
    step = request.POST.get("step")
    if step in ("review", "code") and form.is_valid():
        current = form_code(form) if step == "code" else None
        if current is not None and current.is_for(form.cleaned_data["emailAddress"]):
            code_form = EmailCodeForm(
                initial={"code": request.POST.get("code", "")[:20]},
                email_code=current,
            )
            response = render_code(request, form, current, code_form)
        else:
            response = render_review(request, form)
    else:
        form.is_valid()  # keeps the photos that pass
        form.keep_only_photo_errors()
        response = render_form(request, form.with_photo_tokens())
    set_language_cookie(response, language)
    return response


@never_cache
@require_GET
def register_retry(request: HttpRequest, code: uuid.UUID) -> HttpResponse:
    """ "Fix and send again" after a not verified or a reviewer's rejection: the form
    again, filled with the previous attempt, asking only for what was turned down;
    the photos that passed come along."""
    attempt = session_attempt(request, code)
    if attempt.status not in CORRECTABLE:
        return redirect("status", code=attempt.code)
    onboarding_tasks.schedule_purge()  # for the copies of the photos that passed
    options = session_options(request)
    return render_form(request, RegistrationForm.correcting(attempt, **options))


def render_form(
    request: HttpRequest, form: RegistrationForm, *, focus: str | None = None
) -> HttpResponse:
    fix = form.fields_to_fix()
    retry_of = form.retry_of
    others = [name for name in FORM_ORDER if name not in fix]
    tokens = form.photo_tokens()
    context = {
        "form": form,
        "photos": {
            "face": tokens.get("facePhoto"),
            "identity": tokens.get("identityPhoto"),
        },
        "warning_messages": form.photo_warning_messages(),
        "nik_warnings": form.nik_warnings,
        "retry_of": retry_of,
        "elsewhere": form.elsewhere,
        "decision_message": ""
        if retry_of is None or form.elsewhere
        else decision_message(retry_of),
        "ktp_fields": KTP_FIELDS,
        "contact_fields": CONTACT_FIELDS,
        "photo_fields": PHOTO_FIELDS,
        "fix_fields": fix,
        "other_fields": others,
        "other_errors": any(form[name].errors for name in others),
        "focus": focus if focus in form.fields else None,
        "messages_for_script": script_messages(),
        "photo_settings": photo_settings(),
    }
    return render(request, "onboarding/register.html", context)


def render_review(
    request: HttpRequest, form: RegistrationForm, *, code_limit: str = ""
) -> HttpResponse:
    """The review step; `code_limit`: why no email code was sent, shown beside
    the email address."""
    context = {
        "form": form,
        "values": form.values(),
        "photos": form.photo_tokens(),
        "photo_warnings": form.photo_warnings(),
        "warning_messages": form.photo_warning_messages(),
        "nik_warnings": form.nik_warnings,
        "birth_date_mismatch": form.birth_date_mismatch,
        "email_code_required": settings.EMAIL_CODE_REQUIRED,
        "code_limit": code_limit,
    }
    return render(request, "onboarding/review.html", context)


# The email code ----------------------------------------------------------------------


def code_needed(form: RegistrationForm) -> bool:
    """Whether the (valid) form waits for its address to be confirmed."""
    if not settings.EMAIL_CODE_REQUIRED:
        return False
    return not EmailCode.confirmed(
        browser=form.browser,
        submission=form.cleaned_data["submission"],
        email=form.cleaned_data["emailAddress"],
    )


def form_code(form: RegistrationForm) -> EmailCode | None:
    return EmailCode.current(
        browser=form.browser, submission=form.cleaned_data["submission"]
    )


def issue_code(request: HttpRequest, form: RegistrationForm) -> EmailCode:
    onboarding_tasks.schedule_purge()  # for the code's row
    return email_codes.issue_code(
        browser=form.browser,
        submission=form.cleaned_data["submission"],
        email=form.cleaned_data["emailAddress"],
        language=get_language(),
        client=form.client,
    )


def ask_for_code(request: HttpRequest, form: RegistrationForm) -> HttpResponse:
    """The code page, with a code on its way to the form's address: the form's
    newest code while it is for this address and can still be used (or cannot be
    replaced yet), a new one otherwise (the first, or one for a changed address)."""
    current = form_code(form)
    if current is None or not current.is_for(form.cleaned_data["emailAddress"]):
        return send_new_code(request, form, None)
    if not current.usable() and current.may_resend():
        return send_new_code(request, form, current)
    return render_code(request, form, current)


def send_new_code(
    request: HttpRequest,
    form: RegistrationForm,
    current: EmailCode | None,
    *,
    resent: bool = False,
) -> HttpResponse:
    """The code page with a new code on its way, replacing `current` (the form's
    code for this address, if any). When the client address has had its codes for
    the hour (EMAIL_CODES_PER_IP_PER_HOUR), nothing is sent: the message beside
    the code field, or, without a code for this address yet, beside the address
    on the review step; the form is carried as ever."""
    try:
        email_code = issue_code(request, form)
    except CodeLimitReached:
        if current is None:
            return render_review(request, form, code_limit=code_limit_message(None))
        return render_code(request, form, current, code_limit=True)
    return render_code(request, form, email_code, resent=resent)


def render_code(
    request: HttpRequest,
    form: RegistrationForm,
    email_code: EmailCode,
    code_form: EmailCodeForm | None = None,
    *,
    resent: bool = False,
    too_soon: bool = False,
    code_limit: bool = False,
) -> HttpResponse:
    """The page that asks for the code, carrying the form as the review step
    does. A code that can no longer be used says so beside the field, as does a
    new code that could not be sent (`code_limit`)."""
    code_form = code_form or EmailCodeForm(email_code=email_code)
    problem = email_code.problem()
    if code_limit:
        code_form.errors["code"] = code_form.error_class(
            [code_limit_message(email_code)]
        )
    elif problem is not None and not code_form.errors:
        code_form.errors["code"] = code_form.error_class(
            code_error(problem, email_code).messages
        )
    wait = max(0, int((email_code.resend_at - timezone.now()).total_seconds()) + 1)
    context = {
        "form": form,
        "code_form": code_form,
        "values": form.values(),
        "photos": form.photo_tokens(),
        "confirmations": [
            name
            for name in ("confirmBirthDate", "acceptPhotoWarnings")
            if form.cleaned_data.get(name)
        ],
        "email_code": email_code,
        "minutes": settings.EMAIL_CODE_MINUTES,
        "resent": resent,
        "too_soon": too_soon,
        "wait_seconds": 0 if email_code.may_resend() else wait,
        "resend_at": email_code.resend_at,
    }
    return render(request, "onboarding/email_code.html", context)


@require_GET
def pending_photo(request: HttpRequest, token: str) -> FileResponse:
    """A photo received but not yet sent, shown back to the browser that sent it."""
    photo = PendingPhoto.find(token, browser=browser_id(request))
    if photo is None:
        raise Http404
    response = FileResponse(photo.image.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "no-store, private"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# Hand-off to a phone ---------------------------------------------------------------


@never_cache
@sensitive_post_parameters()
@require_POST
def handoff(request: HttpRequest) -> HttpResponse:
    """A desktop without a camera: a short-lived link (and QR code) that opens the
    same form, with what was typed and any photo already received, on a phone."""
    browser = browser_id(request)
    # Kept as typed (the form checks everything again when it is sent), but for
    # NUL characters, which no field accepts and PostgreSQL cannot store.
    values = {
        name: request.POST.get(name, "").replace("\x00", "")[:320]
        for name in TEXT_FIELDS
    }
    for kind in ("face", "identity"):
        photo = PendingPhoto.find(
            request.POST.get(f"{kind}Photo", ""), browser=browser, kind=kind
        )
        if photo:
            values[f"{kind}Photo"] = photo.token
    session = request.POST.get("session", "")
    if session in request.session.get("sessions", []):
        values["session"] = session  # the phone may send into it too
    found = Handoff.objects.create(values=values, created_by=browser)
    onboarding_tasks.schedule_purge()
    path = reverse("handoff_open", args=[found.signed_token()])
    link = request.build_absolute_uri(path)
    qr = segno.make(link, error="m").svg_inline(scale=5, border=2)
    context = {
        "link": link,
        "back": path,
        "qr": mark_safe(qr),  # noqa: S308 (generated by segno from our own URL)
        "minutes": settings.HANDOFF_LINK_MAX_AGE_MINUTES,
    }
    return render(request, "onboarding/handoff.html", context)


@never_cache
@require_GET
def handoff_open(request: HttpRequest, token: str) -> HttpResponse:
    """The hand-off link: the form with what was typed, on the first phone that
    opens it (and then only there), or back on the computer that made it."""
    browser = browser_id(request)
    found = Handoff.from_signed_token(token)
    if found is None or not found.may_open(browser):
        return link_expired(request, "handoff")
    found.open_on(browser)
    if found.values.get("session"):
        allow_session(request, found.values["session"])
    return render_form(request, new_form(request, dict(found.values)))


# Status ----------------------------------------------------------------------------


@never_cache
@require_GET
def status(request: HttpRequest, code: uuid.UUID) -> HttpResponse:
    attempt = session_attempt(request, code)
    context = status_context(attempt)
    context["can_retry"] = can_retry(attempt)
    context.update(return_context(sessions.of_attempt(attempt)))
    return render(request, "onboarding/status.html", context)


@never_cache
@require_GET
def status_poll(request: HttpRequest, code: uuid.UUID) -> JsonResponse:
    attempt = session_attempt(request, code)
    return JsonResponse({"status": attempt.status, "waiting": attempt.in_progress})


@never_cache
@require_GET
def status_link(request: HttpRequest, token: str) -> HttpResponse:
    """The signed link from the email: reopens the status page in any browser."""
    attempt = Attempt.from_signed_token(token)
    if attempt is None:
        return link_expired(request, "status")
    remember_attempt(request, attempt)
    return redirect("status", code=attempt.code)


@require_POST
def status_retry(request: HttpRequest, code: uuid.UUID) -> HttpResponse:
    """Try a failed attempt again, with nothing to re-enter."""
    attempt = session_attempt(request, code)
    retry_failed_attempt(attempt)
    return redirect("status", code=attempt.code)


# An integrator's verification session ------------------------------------------------


@never_cache
@require_GET
def session_open(request: HttpRequest, token: str) -> HttpResponse:
    """The URL an integrator sends its customer to: the form, prefilled with what
    the integrator gave, in the session's language; once an application was sent
    from it, that application's status page."""
    session = sessions.from_link_token(token)
    if session is None:
        return link_expired(request, "session")
    translation.activate(session.language)
    if session.attempt is not None:
        response = session_closed(request, session)
    elif not sessions.open_form(session):
        response = link_expired(request, "session", session)
    else:
        allow_session(request, str(session.code))
        initial = {"session": session.code, **session.prefill}
        response = render_form(request, new_form(request, initial))
    set_language_cookie(response, session.language)
    return response


def allow_session(request: HttpRequest, code: str) -> None:
    """Let this browser send an application into the session `code`."""
    codes = request.session.get("sessions", [])
    if code not in codes:
        request.session["sessions"] = [*codes, code][-20:]


def session_closed(request: HttpRequest, session: VerificationSession) -> HttpResponse:
    """A session that takes no new application: its current one's status page
    (this browser opened the session's URL, as good as the emailed status link),
    or the page for a link that no longer works."""
    if session.attempt is None:
        return link_expired(request, "session", session)
    remember_attempt(request, session.attempt)
    return redirect("status", code=session.attempt.code)
