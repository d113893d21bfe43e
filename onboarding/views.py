"""The applicant's pages: start, privacy notice, the form and its review step, the
hand-off to a phone, and the status page.

An applicant has no account. Their browser session holds a random browser id (which
pending photos belong to) and the codes of the attempts they may see; a signed link
adds an attempt to any browser that opens it.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import segno
from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from onboarding import tasks as onboarding_tasks
from onboarding.forms import FIELDS_TO_FIX, RegistrationForm, script_messages
from onboarding.models import Handoff, PendingPhoto
from onboarding.outcomes import status_context
from onboarding.privacy import PRIVACY_NOTICE_VERSION, retention_periods
from verification.models import Attempt
from verification.submission import (
    LimitReached,
    can_retry,
    retry_failed_attempt,
    submit_attempt,
)

TEXT_FIELDS = ("identityId", "fullName", "birthDate", "emailAddress", "phoneNumber")


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


def new_form(request: HttpRequest, initial: dict | None = None) -> RegistrationForm:
    return RegistrationForm(
        initial={"submission": uuid.uuid4(), **(initial or {})},
        browser=browser_id(request),
    )


def bound_form(request: HttpRequest, *, files: bool = True) -> RegistrationForm:
    return RegistrationForm(
        request.POST,
        request.FILES if files else None,
        browser=browser_id(request),
        attempts_in_session=request.session.get("created", 0),
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


@never_cache
@sensitive_post_parameters()
def register(request: HttpRequest) -> HttpResponse:
    """The form (GET) and its first submission (POST): valid data goes on to the
    review step; otherwise the form comes back with every error beside its field,
    everything typed still there and every photo already received kept."""
    if request.method == "POST" and "edit" in request.POST:
        # Back from the review step to change something.
        initial = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
        return render_form(
            request, new_form(request, initial), focus=request.POST["edit"]
        )
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
def register_confirm(request: HttpRequest) -> HttpResponse:
    """The review step's "send": store the attempt, queue its verification and go to
    the status page without waiting for the provider. The same form sent again (a
    double click, Back and send) leads to the attempt it already made."""
    already = sent_before(request)
    if already:
        return redirect("status", code=already.code)
    form = bound_form(request, files=False)
    if not form.is_valid():
        # The other request of a double click may have sent it meanwhile (and
        # cleared its photos): the applicant goes where that one went.
        already = sent_before(request)
        if already:
            return redirect("status", code=already.code)
        return render_form(request, form.with_photo_tokens())
    data = form.cleaned_data
    if form.birth_date_mismatch and not data["confirmBirthDate"]:
        form.add_error(
            "confirmBirthDate",
            _("Please check your date of birth and tick the box to confirm it."),
        )
        return render_review(request, form)
    retry_of = None
    if data["retryOf"]:
        retry_of = session_attempt(request, data["retryOf"])
    browser = browser_id(request)
    try:
        attempt, created = submit_attempt(
            nik=data["identityId"],
            full_name=data["fullName"],
            birth_date=data["birthDate"],
            email_address=data["emailAddress"],
            phone_number=data["phoneNumber"],
            # Read once the attempt's row is in, not before (see submit_attempt).
            face_image=form.photos["face"].read,
            identity_image=form.photos["identity"].read,
            consent_version=PRIVACY_NOTICE_VERSION,
            language=get_language(),
            submission=data["submission"],
            browser=browser,
            birth_date_confirmed=form.birth_date_mismatch,
            retry_of=retry_of,
        )
    except LimitReached:
        # Another tab used the last attempt between review and send.
        return render_form(
            request, bound_form(request, files=False).with_photo_tokens()
        )
    if attempt.browser != browser:
        raise Http404
    if created:
        request.session["created"] = request.session.get("created", 0) + 1
        for photo in form.photos.values():
            photo.discard()
        onboarding_tasks.purge_drafts.enqueue()
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
@require_GET
def register_retry(request: HttpRequest, code: uuid.UUID) -> HttpResponse:
    """ "Fix and resubmit": the form again, filled with the previous attempt, asking
    only for what the provider rejected; the photos that passed come along."""
    attempt = session_attempt(request, code)
    if attempt.status != Attempt.Status.NOT_VERIFIED:
        return redirect("status", code=attempt.code)
    browser = browser_id(request)
    if attempt.browser != browser:
        # Opened from the emailed link on another device: whoever holds the link
        # sees the outcome, never the data or the photos behind it.
        return render_form(request, new_form(request, {"retryOf": attempt.code}))
    onboarding_tasks.schedule_purge()  # for the copies of the photos that passed
    fix = fields_to_fix(attempt)
    initial = {
        "identityId": attempt.applicant.nik,
        "fullName": attempt.full_name,
        "birthDate": attempt.birth_date,
        "emailAddress": attempt.email_address,
        "phoneNumber": attempt.phone_number,
        "retryOf": attempt.code,
        "consent": attempt.consent_version == PRIVACY_NOTICE_VERSION,
    }
    for kind, field, image in (
        ("face", "faceImage", attempt.face_image),
        ("identity", "identityImage", attempt.identity_image),
    ):
        if field not in fix:
            with image.open("rb") as f:
                photo = PendingPhoto.keep(browser=browser, kind=kind, data=f.read())
            initial[f"{kind}Photo"] = photo.token
    return render_form(request, new_form(request, initial), retry_of=attempt)


def fields_to_fix(attempt: Attempt) -> set[str]:
    return {FIELDS_TO_FIX[f] for f in attempt.reject_fields if f in FIELDS_TO_FIX}


KTP_FIELDS = ["identityId", "fullName", "birthDate"]
CONTACT_FIELDS = ["emailAddress", "phoneNumber"]
PHOTO_FIELDS = ["faceImage", "identityImage"]
FORM_ORDER = KTP_FIELDS + CONTACT_FIELDS + PHOTO_FIELDS


def render_form(
    request: HttpRequest,
    form: RegistrationForm,
    *,
    retry_of: Attempt | None = None,
    focus: str | None = None,
) -> HttpResponse:
    retry_code = form["retryOf"].value()
    if retry_of is None and retry_code:
        try:
            retry_of = session_attempt(request, retry_code)
        except (Http404, ValueError):
            retry_of = None
    fix = fields_to_fix(retry_of) if retry_of else set()
    elsewhere = retry_of is not None and retry_of.browser != browser_id(request)
    if retry_of and (elsewhere or not fix):
        # Everything is asked again: the provider named nothing we can ask for, or
        # the form is on another device than the application was sent from.
        fix = set(FORM_ORDER)
    others = [name for name in FORM_ORDER if name not in fix]
    tokens = form.photo_tokens()
    context = {
        "form": form,
        "photos": {
            "face": tokens.get("facePhoto"),
            "identity": tokens.get("identityPhoto"),
        },
        "nik_warnings": form.nik_warnings,
        "retry_of": retry_of,
        "elsewhere": elsewhere,
        "ktp_fields": KTP_FIELDS,
        "contact_fields": CONTACT_FIELDS,
        "photo_fields": PHOTO_FIELDS,
        "fix_fields": [name for name in FORM_ORDER if name in fix],
        "other_fields": others,
        "other_errors": any(form[name].errors for name in others),
        "focus": focus if focus in form.fields else None,
        "messages_for_script": script_messages(),
    }
    return render(request, "onboarding/register.html", context)


def render_review(request: HttpRequest, form: RegistrationForm) -> HttpResponse:
    context = {
        "form": form,
        "values": form.values(),
        "photos": form.photo_tokens(),
        "nik_warnings": form.nik_warnings,
        "birth_date_mismatch": form.birth_date_mismatch,
    }
    return render(request, "onboarding/review.html", context)


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
    handoff = Handoff.objects.create(values=values)
    onboarding_tasks.schedule_purge()
    link = request.build_absolute_uri(
        reverse("handoff_open", args=[handoff.signed_token()])
    )
    qr = segno.make(link, error="m").svg_inline(scale=5, border=2)
    return render(
        request,
        "onboarding/handoff.html",
        {
            "link": link,
            "qr": mark_safe(qr),  # noqa: S308 (generated by segno from our own URL)
            "minutes": settings.HANDOFF_LINK_MAX_AGE_MINUTES,
        },
    )


@never_cache
@require_GET
def handoff_open(request: HttpRequest, token: str) -> HttpResponse:
    max_age = timedelta(minutes=settings.HANDOFF_LINK_MAX_AGE_MINUTES)
    found = Handoff.from_signed_token(token, max_age=max_age)
    browser = browser_id(request)
    if found is None or found.opened_by not in ("", browser):
        return render(request, "onboarding/handoff_expired.html", status=410)
    if not found.opened_by:
        found.opened_by = browser
        found.save(update_fields=["opened_by"])
        tokens = [found.values.get(f"{kind}Photo") for kind in ("face", "identity")]
        PendingPhoto.objects.filter(token__in=[t for t in tokens if t]).update(
            browser=browser
        )
    return render_form(request, new_form(request, dict(found.values)))


# Status ----------------------------------------------------------------------------


@never_cache
@require_GET
def status(request: HttpRequest, code: uuid.UUID) -> HttpResponse:
    attempt = session_attempt(request, code)
    context = status_context(attempt)
    context["can_retry"] = can_retry(attempt)
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
        return render(request, "onboarding/status_link_expired.html", status=410)
    remember_attempt(request, attempt)
    return redirect("status", code=attempt.code)


@require_POST
def status_retry(request: HttpRequest, code: uuid.UUID) -> HttpResponse:
    """Try a failed attempt again, with nothing to re-enter."""
    attempt = session_attempt(request, code)
    retry_failed_attempt(attempt)
    return redirect("status", code=attempt.code)
