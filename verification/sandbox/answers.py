"""The sandbox's core, `Sandbox.handle`: one HTTP request in, the provider's answer
out (status, headers, body), knowing nothing of any web framework."""

from __future__ import annotations

import hmac
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from verification.sandbox.faults import Faults
from verification.sandbox.validation import KEY_FIELD, validate

ENDPOINT = "/v1/certificate/issuance"

# A valid request is at most about 8 MB (4 MB and 2 MB of images, a third more in
# base64); anything much larger is not a request the provider would take.
MAX_BODY_BYTES = 12 * 1024 * 1024

SUCCESS_MESSAGE = "Certificate electronic verification has been done"
VALIDATION_MESSAGE = "Input payload validation failed."

# The documented sandbox answers: identityId -> (status, rejectFields in order).
SEED_ANSWERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "1234567890111111": ("not_verified", ("identityId",)),
    "1234567890111112": ("not_verified", ("fullName",)),
    "1234567890111113": ("not_verified", ("birthDate",)),
    "1234567890111114": ("not_verified", ("faceImage",)),
    "1234567890111115": ("not_verified", ("identityImage",)),
    "1234567890111116": ("verified_with_reason", ("emailAddress",)),
    "1234567890111117": ("verified_with_reason", ("phoneNumber",)),
    "1234567890111118": ("verified_with_reason", ("phoneNumber", "emailAddress")),
    "1234567890111119": ("not_verified", ("liveness_check",)),
}
DEFAULT_ANSWER: tuple[str, tuple[str, ...]] = ("verified", ())


# 200 answers that break the documented shape, in the order a malformed sandbox
# serves them: not JSON, no `data`, an unknown `status`, no `id`.
MALFORMED_BODIES: tuple[tuple[str, bytes], ...] = (
    ("text/html", b"<html><body><h1>OK</h1></body></html>"),
    ("application/json", json.dumps({"message": SUCCESS_MESSAGE}).encode()),
    (
        "application/json",
        json.dumps(
            {
                "message": SUCCESS_MESSAGE,
                "data": {
                    "id": "00000000-0000-4000-8000-000000000000",
                    "status": "approved",
                    "rejectFields": [],
                    "referenceId": "ref_certel#00000000-0000-4000-8000-000000000000",
                },
            }
        ).encode(),
    ),
    (
        "application/json",
        json.dumps(
            {
                "message": SUCCESS_MESSAGE,
                "data": {"status": "verified", "rejectFields": []},
            }
        ).encode(),
    ),
)

BAD_GATEWAY_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)

Headers = list[tuple[str, str]]
Answer = tuple[int, Headers, bytes]


def _json_answer(
    status: int, body: Mapping[str, Any], headers: Iterable[tuple[str, str]] = ()
) -> Answer:
    return (
        status,
        [("Content-Type", "application/json"), *headers],
        json.dumps(body).encode(),
    )


def _message(status: int, message: str, **headers: str) -> Answer:
    return _json_answer(status, {"message": message}, headers.items())


class Sandbox:
    """One sandbox: an API key, its faults and their per-process state (start
    time, request count, random generator). Thread-safe.

    `clock` (seconds, monotonic) and `sleep` are the sandbox's sense of time: the
    downtime window is measured with the one and delays are waited with the other,
    so a test can hand in its own and see what the sandbox would have waited.
    """

    def __init__(
        self,
        *,
        api_key: str,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api_key = api_key.encode("utf-8", "surrogatepass")
        self.faults = faults or Faults()
        self._clock = clock
        self._sleep = sleep
        self._started = clock()
        self._requests = 0
        self._malformed_served = 0
        self._random = random.Random(self.faults.seed)  # noqa: S311 - repeatable faults, not secrets
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Sandbox(faults={self.faults!r})"

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Answer:
        """Answer one HTTP request: (status, headers, body).

        `headers` may use any case. `body` is the request body; adapters leave it
        empty when the declared Content-Length is over MAX_BODY_BYTES, since the
        answer is 413 whatever it holds.
        """
        headers = {name.lower(): value for name, value in headers.items()}
        delay, failure, malformed = self._draw_faults()
        if delay:
            self._sleep(delay)
        if failure is not None:
            return self._failure(failure)
        answer = self._answer(method, path, headers, body)
        if malformed is not None and answer[0] == HTTPStatus.OK:
            content_type, content = MALFORMED_BODIES[malformed]
            return HTTPStatus.OK, [("Content-Type", content_type)], content
        return answer

    def _draw_faults(self) -> tuple[float, int | None, int | None]:
        """This request's delay, failure status (or None) and malformed body index
        (or None), decided under the lock so the sequence is repeatable."""
        faults = self.faults
        with self._lock:
            self._requests += 1
            down = (
                self._requests <= faults.down_for_requests
                or self._clock() - self._started < faults.down_for_seconds
            )
            # Drawn only when a rate is set, so a seed gives the same sequence
            # whatever else is configured.
            unlucky = bool(faults.failure_rate) and (
                self._random.random() < faults.failure_rate
            )
            failure = faults.failure_status if down or unlucky else None
            malformed = None
            if faults.malformed and failure is None:
                malformed = self._malformed_served % len(MALFORMED_BODIES)
                self._malformed_served += 1
        return faults.latency + faults.stall, failure, malformed

    def _failure(self, status: int) -> Answer:
        if status == HTTPStatus.BAD_GATEWAY:
            return status, [("Content-Type", "text/html")], BAD_GATEWAY_PAGE
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            return _message(
                status,
                "Too many requests. Please slow down.",
                **{"Retry-After": str(self.faults.retry_after)},
            )
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            return _message(status, "Service temporarily unavailable.")
        return _json_answer(
            status,
            {
                "errors": {"errorId": str(uuid.uuid4()), "errorType": "InternalError"},
                "message": "Internal server error.",
            },
        )

    def _answer(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Answer:
        if path != ENDPOINT:
            return _message(
                HTTPStatus.NOT_FOUND,
                "The requested URL was not found on the server.",
            )
        if method != "POST":
            return _message(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "The method is not allowed for the requested URL.",
                Allow="POST",
            )
        if declared_length(headers) > MAX_BODY_BYTES or len(body) > MAX_BODY_BYTES:
            return _message(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "The data value transmitted exceeds the capacity limit.",
            )
        payload = _parse(body)
        if not self._authenticated(headers, payload):
            return _message(HTTPStatus.UNAUTHORIZED, "Invalid or missing API key.")
        if isinstance(payload, str):
            return _message(HTTPStatus.BAD_REQUEST, payload)
        errors = validate(payload)
        if errors:
            return _json_answer(
                HTTPStatus.BAD_REQUEST,
                {"errors": errors, "message": VALIDATION_MESSAGE},
            )
        status, reject_fields = SEED_ANSWERS.get(payload["identityId"], DEFAULT_ANSWER)
        return _json_answer(
            HTTPStatus.OK,
            {
                "message": SUCCESS_MESSAGE,
                "data": {
                    "id": str(uuid.uuid4()),
                    "status": status,
                    "rejectFields": list(reject_fields),
                    "referenceId": f"ref_certel#{uuid.uuid4()}",
                },
            },
        )

    def _authenticated(
        self, headers: Mapping[str, str], payload: dict[str, Any] | str
    ) -> bool:
        """The Authorization header decides when it is present; otherwise the
        body's `key` field. An empty configured key accepts nobody."""
        if not self._api_key:
            return False
        authorization = headers.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.strip().partition(" ")
            return scheme.lower() == "bearer" and self._matches(token.strip())
        key = payload.get(KEY_FIELD) if isinstance(payload, dict) else None
        return isinstance(key, str) and self._matches(key)

    def _matches(self, key: str) -> bool:
        return hmac.compare_digest(key.encode("utf-8", "surrogatepass"), self._api_key)


def declared_length(headers: Mapping[str, str]) -> int:
    try:
        return max(0, int(headers.get("content-length", "0")))
    except ValueError:
        return 0


def _parse(body: bytes) -> dict[str, Any] | str:
    """The JSON object in the body, or the message explaining why there is none."""
    if not body.strip():
        return "The request body is empty; send a JSON object."
    try:
        payload = json.loads(body)
    # ValueError covers bad JSON, bad UTF-8 and integers too long to convert;
    # RecursionError, deeply nested arrays.
    except (ValueError, RecursionError):
        return "The request body is not valid JSON."
    if not isinstance(payload, dict):
        return "The request body must be a JSON object."
    return payload


def read_body(stream: Any, declared: int) -> bytes:
    """The body, read up to its declared length; nothing when that length is over
    MAX_BODY_BYTES (the answer is 413 without reading it) or not given."""
    if declared <= 0 or declared > MAX_BODY_BYTES:
        return b""
    return stream.read(declared)
