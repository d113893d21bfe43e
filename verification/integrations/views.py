"""The integrator API under /api/v1/ (described at /api/v1/openapi.json).

Every answer is JSON, errors included: `{"error": {"code", "message", "fields"?}}`.
401 for a missing, wrong or revoked key; 404 for an unknown session or another
key's; 400 naming each field that is wrong; 413 for a body over 16 KB; 429 over a
rate limit, with Retry-After. No input produces a 500. The messages are in
English: they are read by the integrator's developers, not by applicants.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.core.validators import EmailValidator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from verification.integrations import keys, openapi, ratelimits, sessions, targets
from verification.integrations.models import ApiKey, VerificationSession
from verification.lookups import phone_e164

MAX_BODY_BYTES = 16 * 1024
EXTERNAL_REFERENCE = re.compile(r"[A-Za-z0-9._:/#-]{1,100}")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
NAME_MAX_LENGTH = 100
EMAIL_MAX_LENGTH = 254
PHONE_MAX_LENGTH = 30
FIELDS = ("externalReference", "returnUrl", "locale", "prefill")

ApiView = Callable[..., HttpResponse]


def error(
    status: int,
    code: str,
    message: str,
    *,
    fields: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return JsonResponse({"error": body}, status=status, headers=headers)


def api_view(view: ApiView) -> Callable[..., HttpResponse]:
    """An endpoint that needs a key: 401 without a valid one, 429 over the
    key's request rate; the view is called with the key."""

    @csrf_exempt
    @never_cache
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        api_key = keys.authenticate(request.headers.get("Authorization", ""))
        if api_key is None:
            return error(
                401,
                "unauthorized",
                "Send a valid, unrevoked API key as 'Authorization: Bearer <key>'.",
                headers={"WWW-Authenticate": 'Bearer realm="api"'},
            )
        verdict = ratelimits.hit(api_key, ratelimits.REQUESTS)
        if not verdict.allowed:
            return too_many(verdict, "requests a minute")
        return view(request, api_key, *args, **kwargs)

    return wrapped


def too_many(verdict: ratelimits.Verdict, what: str) -> JsonResponse:
    return error(
        429,
        "rate_limited",
        f"This key is limited to {verdict.limit} {what}; try again in "
        f"{verdict.retry_after} s.",
        headers={"Retry-After": str(verdict.retry_after)},
    )


def method_not_allowed(allowed: str) -> JsonResponse:
    return error(
        405,
        "method_not_allowed",
        f"Use {allowed}.",
        headers={"Allow": allowed},
    )


# Endpoints ---------------------------------------------------------------------------


@api_view
def session_list(request: HttpRequest, api_key: ApiKey) -> HttpResponse:
    """`POST /api/v1/sessions`: a new session (201), or the one an
    Idempotency-Key already made in the last 24 hours (201 again, with
    `Idempotent-Replayed: true`)."""
    if request.method != "POST":
        return method_not_allowed("POST")
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        return error(
            400,
            "invalid_request",
            "The request has errors; see fields.",
            fields={
                "Idempotency-Key": [
                    "Must be 1 to 255 visible ASCII characters (a UUID is ideal)."
                ]
            },
        )
    body = read_json(request)
    if isinstance(body, HttpResponse):
        return body
    try:
        wanted = clean_session_request(body)
    except FieldErrors as problems:
        return error(
            400,
            "invalid_request",
            "The request has errors; see fields.",
            fields=problems.fields,
        )
    verdict = ratelimits.peek(api_key, ratelimits.SESSIONS)
    try:
        session, created = sessions.create_session(
            api_key=api_key,
            request=wanted,
            idempotency_key=idempotency_key,
            created_if=lambda: verdict.allowed,
        )
    except sessions.IdempotencyKeyReused:
        return error(
            422,
            "idempotency_key_reused",
            "This Idempotency-Key was used in the last 24 hours with another "
            "request body.",
        )
    except sessions.NotCreated:
        return too_many(verdict, "new sessions an hour")
    if created:
        ratelimits.hit(api_key, ratelimits.SESSIONS)
    response = JsonResponse(
        {
            "id": str(session.code),
            "url": sessions.link(session),
            "expiresAt": sessions.iso(session.expires_at),
        },
        status=201,
    )
    response["Location"] = f"/api/v1/sessions/{session.code}"
    if not created:
        response["Idempotent-Replayed"] = "true"
    return response


@api_view
def session_detail(request: HttpRequest, api_key: ApiKey, code: str) -> HttpResponse:
    """`GET /api/v1/sessions/<id>`: where the session stands."""
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed("GET")
    session = find_session(api_key, code)
    if session is None:
        return error(404, "not_found", "No session with this id for this key.")
    return JsonResponse(sessions.representation(session))


def find_session(api_key: ApiKey, code: str) -> VerificationSession | None:
    """The key's own session with this id; None for any other (another key's
    session is not told apart from one that does not exist)."""
    try:
        uuid = UUID(code)
    except ValueError:
        return None
    return (
        VerificationSession.objects.select_related("attempt", "api_key")
        .filter(api_key=api_key, code=uuid)
        .first()
    )


@csrf_exempt
def openapi_document(request: HttpRequest) -> HttpResponse:
    """`GET /api/v1/openapi.json`: this API's OpenAPI 3.1 description."""
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed("GET")
    return JsonResponse(openapi.document(server=settings.SITE_URL))


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return error(404, "not_found", "No such endpoint; see /api/v1/openapi.json.")


# The request body --------------------------------------------------------------------


def read_json(request: HttpRequest) -> Any:
    """The request's JSON body, or the error answer to send instead."""
    too_large = error(
        413, "body_too_large", f"The body must be at most {MAX_BODY_BYTES} bytes."
    )
    length = request.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        return too_large
    try:
        raw = request.body
    except RequestDataTooBig:
        return too_large
    if len(raw) > MAX_BODY_BYTES:
        return too_large
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return error(400, "invalid_json", "The body must be a JSON object.")


class FieldErrors(Exception):
    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__(fields)
        self.fields = fields


def clean_session_request(body: Any) -> sessions.SessionRequest:
    """The checked request, or FieldErrors naming every field that is wrong."""
    if not isinstance(body, dict):
        raise FieldErrors({"body": ["Must be a JSON object."]})
    problems: dict[str, list[str]] = {}
    for name in body:
        if name not in FIELDS:
            problems[str(name)[:100]] = ["Unknown field."]
    reference = body.get("externalReference")
    if reference is None:
        problems["externalReference"] = ["Required."]
    elif not isinstance(reference, str) or not EXTERNAL_REFERENCE.fullmatch(reference):
        problems["externalReference"] = [
            "Must be 1 to 100 characters: letters, digits and . _ : / # -"
        ]
    return_url = body.get("returnUrl")
    if return_url is not None:
        problem = targets.url_problem(return_url)
        if problem:
            problems["returnUrl"] = [problem]
    locale = body.get("locale")
    languages = [code for code, _ in settings.LANGUAGES]
    if locale is not None and locale not in languages:
        problems["locale"] = ["Must be one of: " + ", ".join(languages) + "."]
    prefill = clean_prefill(body.get("prefill"), problems)
    if problems:
        raise FieldErrors(problems)
    return sessions.SessionRequest(
        external_reference=str(reference),
        return_url=return_url or "",
        language=locale or settings.LANGUAGE_CODE,
        prefill=prefill,
    )


def clean_prefill(value: Any, problems: dict[str, list[str]]) -> dict[str, str]:
    """The prefill's values, as typed (the form normalises and checks them again
    when the applicant sends it); problems go into `problems` as prefill.<name>."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems["prefill"] = ["Must be an object."]
        return {}
    prefill: dict[str, str] = {}
    for name, given in value.items():
        key = f"prefill.{str(name)[:100]}"
        if name not in sessions.PREFILL_FIELDS:
            problems[key] = ["Unknown field."]
            continue
        if given is None or given == "":
            continue
        if not isinstance(given, str):
            problems[key] = ["Must be a string."]
            continue
        problem = _prefill_problem(name, given.strip())
        if problem:
            problems[key] = [problem]
        else:
            prefill[name] = given.strip()
    return prefill


def _prefill_problem(name: str, value: str) -> str | None:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "Must not contain control characters."
    if name == "fullName":
        if len(value) > NAME_MAX_LENGTH:
            return f"Must be at most {NAME_MAX_LENGTH} characters."
        if any(c.isdigit() for c in value):
            return "A name has no digits."
    elif name == "emailAddress":
        try:
            EmailValidator()(value)
        except ValidationError:
            return "Must be an email address."
        if len(value) > EMAIL_MAX_LENGTH:
            return f"Must be at most {EMAIL_MAX_LENGTH} characters."
    elif name == "phoneNumber" and (
        len(value) > PHONE_MAX_LENGTH or phone_e164(value) is None
    ):
        return "Must be a phone number (an Indonesian mobile, e.g. 081234567890)."
    return None
