"""The Kredibel client: the only code that knows the provider's wire format.

One call, `KredibelClient.issue_certificate`, posts an applicant's data to
`{base_url}/v1/certificate/issuance` and maps every possible answer to either an
`IssuanceResult` or one typed `KredibelError`. Each error says whether a retry can help
(`retryable`) and whether the provider may have charged for the call
(`may_have_been_charged`), so the caller can record the attempt and decide without
knowing HTTP. The client never retries by itself: spending money twice is the
caller's decision, made with those two flags.

Every call ends by its deadline on the wall clock (`call_deadline`), whatever the
provider does: `requests`' read timeout bounds each read, so a provider that sends
one byte just inside it could otherwise hold a call for minutes. At the deadline the
call's sockets are shut down, which wakes the thread waiting on them.

The API key and the applicant's identity data never appear in log lines, exception
messages or reprs.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import email.utils
import json
import logging
import re
import select
import socket
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
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
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


# What the provider's reference ids start with (`ref_certel#<uuid>`).
REFERENCE_PREFIX = "ref_certel#"
# The reject field of a failed liveness check, which is charged on its own.
LIVENESS_REJECT_FIELD = "liveness_check"


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

    @property
    def liveness_only(self) -> bool:
        """A `not_verified` answer because the liveness check failed: the provider
        charges only the liveness check for it."""
        return (
            self.status is Status.NOT_VERIFIED
            and LIVENESS_REJECT_FIELD in self.reject_fields
        )

    @property
    def answer(self) -> dict[str, Any]:
        """The answer as the provider sent it, for the call's record: the
        documented success fields (ids, status, rejected field names) and nothing
        of our request."""
        return {
            "id": self.provider_id,
            "status": self.status.value,
            "rejectFields": list(self.reject_fields),
            "referenceId": self.reference_id,
        }


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

    @property
    def answer(self) -> dict[str, Any]:
        """What the provider answered, for the call's record: the documented error
        identifiers (and, for a refused request, the names of the refused fields),
        never its free text; empty when no answer arrived."""
        if self.http_status is None:
            return {}
        errors: dict[str, Any] = {}
        if self.error_id:
            errors["errorId"] = self.error_id
        if self.error_type:
            errors["errorType"] = self.error_type
        return {"httpStatus": self.http_status, "errors": errors}


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

    @property
    def answer(self) -> dict[str, Any]:
        return {**super().answer, "fields": sorted(self.field_errors)}


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


class DeadlineExceeded(ReadTimeout):
    """No complete answer by the call's deadline (a provider that answers slowly
    but steadily, or not at all). When the request had been sent whole the outcome
    is unknown and may have been charged; when it had not, nothing was processed."""

    outcome = "deadline_exceeded"


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

    It owns one `requests.Session` (one connection pool of `pool_size`
    connections) reused across calls and threads. urllib3 is told not to retry
    anything: every retry is the caller's. `connect_timeout` bounds the connection,
    `read_timeout` the longest silence while waiting, and `call_deadline` (by
    default the two added) the whole call, on the wall clock.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        connect_timeout: float,
        read_timeout: float,
        call_deadline: float | None = None,
        pool_size: int = 10,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(
                "The Kredibel base URL must start with http:// or https://."
            )
        self.base_url = base_url.rstrip("/")
        self._url = self.base_url + ISSUANCE_PATH
        self._api_key = api_key
        self._timeout = (connect_timeout, read_timeout)
        self.call_deadline = (
            connect_timeout + read_timeout if call_deadline is None else call_deadline
        )
        self._session = requests.Session()
        adapter = _DeadlineAdapter(pool_size=pool_size)
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
            DeadlineExceeded: no complete answer by the call deadline (a
                ReadTimeout; may have been charged when the request was sent
                whole).
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
        guard = _CallGuard(self.call_deadline)
        try:
            try:
                with guard:
                    response = self._session.post(
                        self._url,
                        data=body,
                        headers=headers,
                        timeout=self._timeout,
                        allow_redirects=False,
                    )
            except requests.RequestException as exc:
                duration = time.monotonic() - started
                if guard.expired:
                    raise _deadline_error(guard, duration) from exc
                raise _network_error(exc, duration) from exc
            if guard.expired and not _complete(response):
                # Cut off mid-answer: what arrived is not the answer.
                raise _deadline_error(guard, time.monotonic() - started)
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


# The call deadline ------------------------------------------------------------------

_calls = threading.local()


class _CallGuard:
    """Ends one call at its deadline: the connections it uses register their
    sockets here, and when the deadline passes they are shut down, which makes the
    thread waiting on them fail at once. Used as a context manager around the call,
    in the thread that makes it.

    An answer already waiting in a socket's buffer when the deadline passes (a
    worker that was paused, say) is given a moment to be read: it was paid for.
    """

    # How long, and how many times, an answer already arriving may still be read.
    DRAIN_SECONDS = 0.5
    DRAINS = 2

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self.sent = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = False
        self._drains = self.DRAINS
        self._timer: threading.Timer | None = None

    def __enter__(self) -> _CallGuard:
        _calls.guard = self
        self._arm(self.seconds)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _calls.guard = None
        with self._lock:
            self._done = True
            if self._timer:
                self._timer.cancel()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if sock not in self._sockets:
                self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _arm(self, seconds: float) -> None:
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            if self._drains and any(map(_has_data, self._sockets)):
                self._drains -= 1
                self._arm(self.DRAIN_SECONDS)
                return
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _has_data(sock: socket.socket) -> bool:
    try:
        if getattr(sock, "pending", None) and sock.pending():  # type: ignore[attr-defined]
            return True
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return bool(readable)


def _shut(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for a TLS socket: it wakes a thread
    # blocked reading or writing without touching the TLS state that thread uses.
    with contextlib.suppress(OSError, ValueError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _GuardedConnection:
    """Registers the connection's socket with the calling thread's guard, and
    notes when the request has been sent whole (the answer is awaited)."""

    sock: socket.socket | None

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._watch()

    def request(self, *args: Any, **kwargs: Any) -> None:
        self._watch()
        super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self) -> Any:
        guard = getattr(_calls, "guard", None)
        if guard is not None:
            guard.sent = True
        self._watch()
        return super().getresponse()  # type: ignore[misc]

    def _watch(self) -> None:
        guard = getattr(_calls, "guard", None)
        if guard is not None:
            guard.watch(self.sock)


class _GuardedHTTPConnection(_GuardedConnection, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnection, HTTPSConnection):
    pass


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter with connections that honour the call deadline, a pool
    as large as the calls made at once, and no retries of its own (read=False: a
    failed read raises at once instead of being resent; total=0 covers connection
    errors, redirects and statuses)."""

    def __init__(self, *, pool_size: int) -> None:
        super().__init__(
            pool_connections=1,
            pool_maxsize=pool_size,
            max_retries=Retry(total=0, read=False),
        )

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPConnectionPool,
            "https": _GuardedHTTPSConnectionPool,
        }


def _complete(response: requests.Response) -> bool:
    """Whether the whole body its Content-Length announced arrived."""
    length = response.headers.get("Content-Length", "")
    return length.isdigit() and len(response.content) == int(length)


def _deadline_error(guard: _CallGuard, duration: float) -> DeadlineExceeded:
    if guard.sent:
        return DeadlineExceeded(
            "Kredibel did not finish its answer by the call deadline; the request "
            "was sent.",
            may_have_been_charged=True,
            duration=duration,
        )
    return DeadlineExceeded(
        "The request could not be sent to Kredibel by the call deadline; nothing "
        "was processed.",
        may_have_been_charged=False,
        duration=duration,
    )


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
    None when absent or unreadable; never negative, never more than
    MAX_RETRY_AFTER_SECONDS."""
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
# The longest wait a Retry-After is honoured for, the one cap there is: a provider
# asking for more is misbehaving, and an applicant would wait past any outage we
# ride out.
MAX_RETRY_AFTER_SECONDS = 3600

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
                call_deadline=settings.KREDIBEL_CALL_DEADLINE,
                # One connection per call in flight, so none is opened and
                # discarded at full speed.
                pool_size=max(10, settings.VERIFY_MAX_IN_FLIGHT),
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
