"""The Kredibel client: the only code that knows the provider's wire format.

One call, `KredibelClient.issue_certificate`, posts an applicant's data to
`{base_url}/v1/certificate/issuance` and maps every possible answer to either an
`IssuanceResult` or one typed `KredibelError`. Each error says whether a retry can help
(`retryable`) and whether the provider may have charged for the call
(`may_have_been_charged`), so the caller can record the attempt and decide without
knowing HTTP. The client never retries by itself: spending money twice is the
caller's decision, made with those two flags.

The API key and the applicant's identity data never appear in log lines, exception
messages or reprs.
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

import requests
import urllib3.exceptions
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

logger = logging.getLogger(__name__)

ISSUANCE_PATH = "/v1/certificate/issuance"


@dataclass(frozen=True, kw_only=True)
class ImageLimits:
    """What the provider accepts for one image: decoded file bytes (before base64)
    and pixels, both ends inclusive."""

    min_bytes: int
    max_bytes: int
    min_width: int
    min_height: int


# The provider's image limits: "100 KB to 4 MB" (selfie) and "100 KB to 2 MB" (KTP)
# without saying how it counts a kilobyte, so the strict reading of each end, which
# both readings accept: 102,400 bytes at least, 4,000,000 / 2,000,000 at most.
FACE_IMAGE_LIMITS = ImageLimits(
    min_bytes=102_400, max_bytes=4_000_000, min_width=480, min_height=640
)
IDENTITY_IMAGE_LIMITS = ImageLimits(
    min_bytes=102_400, max_bytes=2_000_000, min_width=480, min_height=360
)


class Status(StrEnum):
    """The provider's verdict on an issuance request."""

    VERIFIED = "verified"
    NOT_VERIFIED = "not_verified"
    VERIFIED_WITH_REASON = "verified_with_reason"


@dataclass(frozen=True, kw_only=True, repr=False)
class IssuanceRequest:
    """What the provider needs to verify one applicant.

    The images are the raw file bytes (JPEG, PNG or SVG); the client base64-encodes
    them. The repr shows only the image sizes, never identity data.
    """

    identity_id: str
    full_name: str
    birth_date: datetime.date
    email_address: str
    phone_number: str
    face_image: bytes
    identity_image: bytes

    def __repr__(self) -> str:
        return (
            f"IssuanceRequest(face_image=<{len(self.face_image)} bytes>, "
            f"identity_image=<{len(self.identity_image)} bytes>)"
        )


@dataclass(frozen=True, kw_only=True)
class IssuanceResult:
    """The provider's documented success answer.

    `provider_id` is unique per transaction; `reference_id` is not (the provider's
    own examples reuse it), so never use it as a key. `duration` is in seconds.
    """

    provider_id: str
    status: Status
    reject_fields: tuple[str, ...]
    reference_id: str
    message: str
    http_status: int
    duration: float


class KredibelError(Exception):
    """A call that did not produce an `IssuanceResult`.

    Attributes every error carries:
    - `retryable`: whether sending the same request again can succeed;
    - `may_have_been_charged`: whether the provider may have processed (and billed)
      the request although we have no answer to show for it;
    - `outcome`: a short code for records and logs (e.g. "read_timeout");
    - `http_status`: the provider's HTTP status, None when no answer arrived;
    - `duration`: seconds from sending to the failure;
    - `provider_message`, `error_id`, `error_type`: from the provider's error body
      when it had them (keep `error_id`: the provider's support traces by it).

    `str()` is our own wording, with no API key, no identity data and no text
    copied from the provider.
    """

    outcome: ClassVar[str] = "error"
    default_retryable: ClassVar[bool] = False
    default_may_have_been_charged: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        retryable: bool | None = None,
        may_have_been_charged: bool | None = None,
        http_status: int | None = None,
        duration: float = 0.0,
        provider_message: str | None = None,
        error_id: str | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = self.default_retryable if retryable is None else retryable
        self.may_have_been_charged = (
            self.default_may_have_been_charged
            if may_have_been_charged is None
            else may_have_been_charged
        )
        self.http_status = http_status
        self.duration = duration
        self.provider_message = provider_message
        self.error_id = error_id
        self.error_type = error_type


class InvalidRequest(KredibelError):
    """HTTP 400: the provider refused our payload. A defect of the request, not
    something to retry as it is; not charged. `field_errors` maps each refused
    field to the provider's messages."""

    outcome = "invalid_request"

    def __init__(
        self, message: str, *, field_errors: dict[str, list[str]], **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.field_errors = field_errors


class AuthenticationFailed(KredibelError):
    """HTTP 401 or 403: the API key was refused. Retrying will not help until the
    configuration changes; not charged."""

    outcome = "authentication_failed"


class RateLimited(KredibelError):
    """HTTP 429: too many requests. Retryable after `retry_after` seconds (from the
    Retry-After header; None when the provider did not say); not charged."""

    outcome = "rate_limited"
    default_retryable = True

    def __init__(
        self, message: str, *, retry_after: float | None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ProviderError(KredibelError):
    """A 5xx answer (retryable, not charged: the provider bills no failed call) or
    any other status the contract does not describe (not retryable)."""

    outcome = "provider_error"


class ConnectTimeout(KredibelError):
    """No connection within the connect timeout: nothing was sent. Retryable, not
    charged."""

    outcome = "connect_timeout"
    default_retryable = True


class ReadTimeout(KredibelError):
    """The request was sent but no answer came within the read timeout. The outcome
    is unknown: retryable, but the first call may have been charged."""

    outcome = "read_timeout"
    default_retryable = True
    default_may_have_been_charged = True


class ConnectionFailed(KredibelError):
    """The connection failed. Refused or unresolvable: nothing was sent (not
    charged). Dropped after the request was sent: `may_have_been_charged` is True.
    Retryable either way, except a TLS failure, which a retry does not fix."""

    outcome = "connection_failed"
    default_retryable = True


class MalformedResponse(KredibelError):
    """A 2xx answer whose body is not the documented shape. The provider did
    process the call (so it may have been charged), but we cannot tell the verdict;
    sending it again is not safe to do blindly. Not retryable."""

    outcome = "malformed_response"
    default_may_have_been_charged = True


class KredibelClient:
    """A client for one Kredibel host and API key.

    It owns one `requests.Session` (one connection pool) reused across calls and
    threads. urllib3 is told not to retry anything: every retry is the caller's.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(
                "The Kredibel base URL must start with http:// or https://."
            )
        self.base_url = base_url.rstrip("/")
        self._url = self.base_url + ISSUANCE_PATH
        self._api_key = api_key
        self._timeout = (connect_timeout, read_timeout)
        self._session = requests.Session()
        # read=False: a failed read raises at once instead of being resent; total=0
        # covers connection errors, redirects and statuses.
        adapter = HTTPAdapter(max_retries=Retry(total=0, read=False))
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"KredibelClient(base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def issue_certificate(self, request: IssuanceRequest) -> IssuanceResult:
        """Ask the provider to verify one applicant; one HTTP request, no retries.

        Returns the provider's verdict as an `IssuanceResult` for any 2xx answer of
        the documented shape.

        Raises:
            InvalidRequest: 400, the provider refused fields (see `field_errors`).
            AuthenticationFailed: 401 or 403, the API key was refused.
            RateLimited: 429, with `retry_after` in seconds when given.
            ProviderError: 5xx (retryable), or any other undocumented status.
            ConnectTimeout: no connection within the connect timeout.
            ReadTimeout: sent, but no answer within the read timeout (may have
                been charged).
            ConnectionFailed: refused, unresolvable, TLS failure, or dropped after
                sending (then it may have been charged).
            MalformedResponse: a 2xx answer of an undocumented shape.
        All of them are `KredibelError`s.
        """
        body = json.dumps(_wire_body(request)).encode("ascii")
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        started = time.monotonic()
        try:
            try:
                response = self._session.post(
                    self._url,
                    data=body,
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                raise _network_error(exc, time.monotonic() - started) from exc
            result = _read_answer(response, time.monotonic() - started)
        except KredibelError as error:
            logger.warning(
                "Kredibel issuance: outcome=%s http_status=%s duration=%.3fs",
                error.outcome,
                error.http_status,
                error.duration,
            )
            raise
        logger.info(
            "Kredibel issuance: outcome=%s http_status=%s duration=%.3fs",
            result.status,
            result.http_status,
            result.duration,
        )
        return result


def _wire_body(request: IssuanceRequest) -> dict[str, str]:
    """The JSON body the provider documents: seven camelCase string fields,
    `birthDate` as yyyy-mm-dd, images as plain base64 (no `data:` prefix)."""
    day = request.birth_date
    return {
        "identityId": request.identity_id,
        "fullName": request.full_name,
        # Not isoformat(): a datetime would add its time, and strftime("%Y") does
        # not pad years before 1000 on every platform.
        "birthDate": f"{day.year:04d}-{day.month:02d}-{day.day:02d}",
        "emailAddress": request.email_address,
        "phoneNumber": request.phone_number,
        "faceImage": base64.b64encode(request.face_image).decode("ascii"),
        "identityImage": base64.b64encode(request.identity_image).decode("ascii"),
    }


def _network_error(exc: requests.RequestException, duration: float) -> KredibelError:
    """Map a requests exception (no answer received) to a typed error."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ConnectTimeout(
            "Kredibel did not accept a connection in time.", duration=duration
        )
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return ReadTimeout(
            "Kredibel did not answer in time; the request was sent.",
            duration=duration,
        )
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
        # requests reports a timeout while reading the body as a ConnectionError.
        return ReadTimeout(
            "Kredibel did not finish its answer in time; the request was sent.",
            duration=duration,
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return ConnectionFailed(
            "The TLS handshake with Kredibel failed; nothing was sent.",
            retryable=False,
            duration=duration,
        )
    # NewConnectionError covers refused connections and failed name resolution
    # (NameResolutionError is a subclass): the request never left.
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return ConnectionFailed(
            f"Could not connect to Kredibel ({type(reason).__name__}); "
            "nothing was sent.",
            duration=duration,
        )
    return ConnectionFailed(
        f"The connection to Kredibel failed during the call "
        f"({type(reason or exc).__name__}); the request may have been processed.",
        may_have_been_charged=True,
        duration=duration,
    )


def _json_body(response: requests.Response) -> Any:
    """The decoded JSON body, or None when it is not JSON."""
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):
        return None


def _read_answer(response: requests.Response, duration: float) -> IssuanceResult:
    status = response.status_code
    body = _json_body(response)
    if 200 <= status < 300:
        return _result(body, status, duration)
    raise _error_answer(response, body, duration)


def _error_answer(
    response: requests.Response, body: Any, duration: float
) -> KredibelError:
    """Map a non-2xx answer to a typed error, keeping the provider's errorId."""
    status = response.status_code

    provider_message = None
    error_id = error_type = None
    errors: dict[str, Any] = {}
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            provider_message = body["message"]
        if isinstance(body.get("errors"), dict):
            errors = body["errors"]
            if isinstance(errors.get("errorId"), str):
                error_id = errors["errorId"]
            if isinstance(errors.get("errorType"), str):
                error_type = errors["errorType"]
    common: dict[str, Any] = {
        "http_status": status,
        "duration": duration,
        "provider_message": provider_message,
        "error_id": error_id,
        "error_type": error_type,
    }
    trace = f", errorId {error_id}" if error_id else ""

    if status == 400:
        field_errors = {
            name: [str(message) for message in messages]
            for name, messages in errors.items()
            if isinstance(messages, list)
        }
        fields = ", ".join(field_errors) or "no field named"
        return InvalidRequest(
            f"Kredibel refused the request (HTTP 400; fields: {fields}{trace}).",
            field_errors=field_errors,
            **common,
        )
    if status in (401, 403):
        return AuthenticationFailed(
            f"Kredibel refused the API key (HTTP {status}{trace}).", **common
        )
    if status == 429:
        return RateLimited(
            f"Kredibel is rate limiting us (HTTP 429{trace}).",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            **common,
        )
    if 500 <= status < 600:
        return ProviderError(
            f"Kredibel failed (HTTP {status}{trace}).", retryable=True, **common
        )
    return ProviderError(
        f"Kredibel gave an undocumented answer (HTTP {status}{trace}).",
        retryable=False,
        **common,
    )


def _result(body: Any, status: int, duration: float) -> IssuanceResult:
    problem = _shape_problem(body)
    if problem:
        raise MalformedResponse(
            f"Kredibel answered HTTP {status} with {problem}.",
            http_status=status,
            duration=duration,
        )
    data = body["data"]
    message = body.get("message")
    return IssuanceResult(
        provider_id=data["id"],
        status=Status(data["status"]),
        reject_fields=tuple(data["rejectFields"]),
        reference_id=data.get("referenceId", ""),
        message=message if isinstance(message, str) else "",
        http_status=status,
        duration=duration,
    )


def _shape_problem(body: Any) -> str | None:
    """What makes a 2xx body differ from the documented shape, or None.

    `id`, `status` and `rejectFields` decide the outcome, so they are required;
    `referenceId` is only informational and may be missing.
    """
    if not isinstance(body, dict):
        return "a body that is not a JSON object"
    data = body.get("data")
    if not isinstance(data, dict):
        return "no `data` object"
    if not isinstance(data.get("id"), str) or not data["id"]:
        return "no transaction `id`"
    if len(data["id"]) > MAX_ID_LENGTH:
        return "a transaction `id` longer than any the provider documents"
    if data.get("status") not in [status.value for status in Status]:
        return "an unknown `status`"
    reject_fields = data.get("rejectFields")
    if not isinstance(reject_fields, list) or not all(
        isinstance(name, str) for name in reject_fields
    ):
        return "no `rejectFields` list"
    if not isinstance(data.get("referenceId", ""), str):
        return "a `referenceId` that is not a string"
    if len(data.get("referenceId", "")) > MAX_REFERENCE_LENGTH:
        return "a `referenceId` longer than any the provider documents"
    return None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date);
    None when absent or unreadable; never negative, never more than a week."""
    if value is None:
        return None
    value = value.strip()
    if RETRY_AFTER_SECONDS.fullmatch(value):
        return float(min(int(value), MAX_RETRY_AFTER_SECONDS))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 HTTP-dates are always GMT.
        when = when.replace(tzinfo=datetime.UTC)
    wait = (when - datetime.datetime.now(datetime.UTC)).total_seconds()
    return min(max(0.0, wait), float(MAX_RETRY_AFTER_SECONDS))


# A UUID is 36 characters and a reference `ref_certel#<uuid>` 47; anything much
# longer is not an answer we understand (and would not fit what we store).
MAX_ID_LENGTH = 64
MAX_REFERENCE_LENGTH = 100
RETRY_AFTER_SECONDS = re.compile(r"[0-9]{1,12}")
MAX_RETRY_AFTER_SECONDS = 7 * 24 * 3600

_client: KredibelClient | None = None
_client_lock = threading.Lock()


def get_client() -> KredibelClient:
    """The client for the configured provider, built from settings on first use and
    shared; rebuilt after any KREDIBEL_* setting changes (tests point it at a live
    server that way)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = KredibelClient(
                base_url=settings.KREDIBEL_BASE_URL,
                api_key=settings.KREDIBEL_API_KEY,
                connect_timeout=settings.KREDIBEL_CONNECT_TIMEOUT,
                read_timeout=settings.KREDIBEL_READ_TIMEOUT,
            )
        return _client


@receiver(setting_changed)
def _drop_client(*, setting: str, **kwargs: Any) -> None:
    global _client
    if setting.startswith("KREDIBEL_"):
        with _client_lock:
            # Not closed: another thread may still be using it; its pool goes
            # with it.
            _client = None
