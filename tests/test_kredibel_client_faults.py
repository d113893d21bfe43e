"""Every way a call can fail becomes the right typed error, with the right
`retryable` and `may_have_been_charged`: faults of the sandbox over a real socket
(the mounted one, or the stand-alone one where the test holds the sandbox's clock),
real network failures on local ports, and a canned server for answers the sandbox
never gives."""

from __future__ import annotations

import datetime
import email.utils

import pytest

from tests.kredibel_payloads import (
    API_KEY,
    Canned,
    HeldAnswers,
    SandboxClock,
    closed_port,
    full_listen_queue,
    issuance_request,
    serve_canned,
    serve_sandbox,
)
from verification.kredibel import (
    ConnectionFailed,
    ConnectTimeout,
    KredibelClient,
    MalformedResponse,
    ProviderError,
    RateLimited,
    ReadTimeout,
    Status,
    get_client,
    parse_retry_after,
)
from verification.sandbox.answers import MALFORMED_BODIES, Sandbox
from verification.sandbox.faults import Faults


@pytest.fixture
def faults(live_server, settings):
    """Point the client at the mounted sandbox; calling it sets the faults."""
    settings.KREDIBEL_BASE_URL = live_server.url + "/sandbox"

    def set_faults(**values: object) -> None:
        settings.KREDIBEL_SANDBOX_FAULTS = values

    return set_faults


def client_for(
    base_url: str, *, connect_timeout: float = 5, read_timeout: float = 30
) -> KredibelClient:
    return KredibelClient(
        base_url=base_url,
        api_key=API_KEY,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )


def test_a_500_is_a_retryable_provider_error_that_keeps_the_error_id(faults):
    faults(failure_rate=1.0, failure_status=500)

    with pytest.raises(ProviderError) as caught:
        get_client().issue_certificate(issuance_request())

    error = caught.value
    assert error.outcome == "provider_error"
    assert error.http_status == 500
    assert error.retryable
    assert not error.may_have_been_charged
    assert error.error_id
    assert error.error_type == "InternalError"
    assert error.provider_message
    assert error.error_id in str(error)


def test_a_502_html_page_from_a_gateway_is_a_retryable_provider_error(faults):
    faults(failure_rate=1.0, failure_status=502)

    with pytest.raises(ProviderError) as caught:
        get_client().issue_certificate(issuance_request())

    error = caught.value
    assert error.http_status == 502
    assert error.retryable
    assert not error.may_have_been_charged
    assert error.error_id is None
    assert error.provider_message is None


def test_a_503_is_a_retryable_provider_error(faults):
    faults(failure_rate=1.0, failure_status=503)

    with pytest.raises(ProviderError) as caught:
        get_client().issue_certificate(issuance_request())

    assert caught.value.http_status == 503
    assert caught.value.retryable
    assert not caught.value.may_have_been_charged


def test_a_429_is_rate_limited_with_retry_after_in_seconds(faults):
    faults(failure_rate=1.0, failure_status=429, retry_after=7)

    with pytest.raises(RateLimited) as caught:
        get_client().issue_certificate(issuance_request())

    error = caught.value
    assert error.outcome == "rate_limited"
    assert error.http_status == 429
    assert error.retry_after == 7.0
    assert error.retryable
    assert not error.may_have_been_charged


def test_a_429_with_an_http_date_gives_the_seconds_until_then():
    # HTTP-dates have whole seconds.
    when = datetime.datetime.now(datetime.UTC).replace(
        microsecond=0
    ) + datetime.timedelta(seconds=30)
    canned = Canned(
        status=429,
        headers={"Retry-After": email.utils.format_datetime(when, usegmt=True)},
        body=b'{"message": "Slow down."}',
    )

    with serve_canned(canned) as url:
        before = datetime.datetime.now(datetime.UTC)
        with pytest.raises(RateLimited) as caught:
            client_for(url).issue_certificate(issuance_request())
        after = datetime.datetime.now(datetime.UTC)

    # Counted from the moment the answer was read: between the two readings.
    assert caught.value.retry_after is not None
    latest = (when - before).total_seconds()
    earliest = (when - after).total_seconds()
    assert earliest <= caught.value.retry_after <= latest


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("120", 120.0),
        ("soon", None),
        ("-5", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("\u00b2", None),  # a superscript two is a digit to str.isdigit, not to HTTP
        ("99999999999999999", None),
        ("999999999999", 3600.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 3600.0),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header, seconds):
    assert parse_retry_after(header) == seconds


def test_the_first_requests_fail_during_a_downtime_window_counted_in_requests(faults):
    faults(down_for_requests=2, failure_status=503)
    client = get_client()

    for _ in range(2):
        with pytest.raises(ProviderError):
            client.issue_certificate(issuance_request())
    result = client.issue_certificate(issuance_request())

    assert result.status is Status.VERIFIED


def test_requests_fail_during_a_downtime_window_counted_in_seconds():
    clock = SandboxClock()
    started = clock.now
    faults = Faults(down_for_seconds=0.5, failure_status=500)
    sandbox = Sandbox(api_key=API_KEY, faults=faults, clock=clock, sleep=clock.sleep)

    with serve_sandbox(sandbox) as url:
        client = client_for(url)
        with pytest.raises(ProviderError) as caught:
            client.issue_certificate(issuance_request())
        clock.now = started + 0.5
        result = client.issue_certificate(issuance_request())

    assert caught.value.http_status == 500
    assert caught.value.retryable
    assert result.status is Status.VERIFIED


def test_a_stalled_answer_is_a_read_timeout_that_may_have_been_charged():
    held = HeldAnswers()
    sandbox = Sandbox(api_key=API_KEY, faults=Faults(stall=2.0), sleep=held)

    with serve_sandbox(sandbox) as url:
        try:
            # The sandbox holds the answer until released: only the client's own
            # read timeout can end this call.
            with pytest.raises(ReadTimeout) as caught:
                client_for(url, read_timeout=0.5).issue_certificate(issuance_request())
        finally:
            held.release()

    error = caught.value
    assert held.asked == [2.0]  # the request arrived: the provider may bill it
    assert error.outcome == "read_timeout"
    assert error.http_status is None
    assert error.retryable
    assert error.may_have_been_charged
    assert error.duration > 0  # measured, for the call's record


def test_an_answer_delayed_by_latency_is_still_a_result():
    clock = SandboxClock()
    sandbox = Sandbox(
        api_key=API_KEY, faults=Faults(latency=0.3), clock=clock, sleep=clock.sleep
    )

    with serve_sandbox(sandbox) as url:
        result = client_for(url).issue_certificate(issuance_request())

    assert clock.slept == [0.3]
    assert result.status is Status.VERIFIED


def test_a_malformed_success_is_a_malformed_response_that_may_have_been_charged(
    faults,
):
    faults(malformed=True)
    client = get_client()

    for _ in MALFORMED_BODIES:
        with pytest.raises(MalformedResponse) as caught:
            client.issue_certificate(issuance_request())
        error = caught.value
        assert error.outcome == "malformed_response"
        assert error.http_status == 200
        assert not error.retryable
        assert error.may_have_been_charged


@pytest.mark.parametrize(
    "body",
    [
        b'{"message": "ok", "data": {"id": "x", "status": "verified"}}',
        b'{"data": {"id": "x", "status": "verified", "rejectFields": "identityId"}}',
        b'{"data": {"id": "", "status": "verified", "rejectFields": []}}',
        b'{"data": {"id": "x", "status": ["verified"], "rejectFields": []}}',
        b'{"data": {"id": "x", "status": "verified", "rejectFields": [], '
        b'"referenceId": 5}}',
        b'{"data": []}',
        b"[]",
        b"",
        b'{"data": {"id": "' + b"x" * 65 + b'", "status": "verified", '
        b'"rejectFields": []}}',
        b'{"data": {"id": "x", "status": "verified", "rejectFields": [], '
        b'"referenceId": "' + b"r" * 101 + b'"}}',
    ],
)
def test_a_success_of_another_shape_is_a_malformed_response(body):
    with serve_canned(Canned(body=body)) as url, pytest.raises(MalformedResponse):
        client_for(url).issue_certificate(issuance_request())


def test_a_success_without_a_reference_id_is_still_a_result():
    body = (
        b'{"data": {"id": "x", "status": "not_verified", "rejectFields": ["fullName"]}}'
    )

    with serve_canned(Canned(status=201, body=body)) as url:
        result = client_for(url).issue_certificate(issuance_request())

    assert result.status is Status.NOT_VERIFIED
    assert result.reject_fields == ("fullName",)
    assert result.reference_id == ""
    assert result.http_status == 201


@pytest.mark.parametrize("status", [302, 404, 405, 413, 418, 422])
def test_an_undocumented_status_is_a_provider_error_that_is_not_retryable(status):
    canned = Canned(status=status, headers={"Location": "/elsewhere"}, body=b"")

    with serve_canned(canned) as url, pytest.raises(ProviderError) as caught:
        client_for(url).issue_certificate(issuance_request())

    assert caught.value.http_status == status
    assert not caught.value.retryable
    assert not caught.value.may_have_been_charged
    assert len(canned.received) == 1


def test_a_wrong_base_path_is_a_provider_error_that_is_not_retryable(live_server):
    client = client_for(live_server.url + "/sandbox/nowhere")

    with pytest.raises(ProviderError) as caught:
        client.issue_certificate(issuance_request())

    assert caught.value.http_status == 404
    assert caught.value.provider_message
    assert not caught.value.retryable


def test_a_connection_that_cannot_be_made_in_time_is_a_connect_timeout():
    with full_listen_queue() as port:
        client = client_for(f"http://127.0.0.1:{port}", connect_timeout=0.2)
        with pytest.raises(ConnectTimeout) as caught:
            client.issue_certificate(issuance_request())

    error = caught.value
    assert error.outcome == "connect_timeout"
    assert error.retryable
    assert not error.may_have_been_charged
    assert error.http_status is None
    assert error.duration > 0  # measured, for the call's record


def test_a_refused_connection_is_a_retryable_failure_that_was_not_charged():
    with pytest.raises(ConnectionFailed) as caught:
        client_for(f"http://127.0.0.1:{closed_port()}").issue_certificate(
            issuance_request()
        )

    error = caught.value
    assert error.outcome == "connection_failed"
    assert error.retryable
    assert not error.may_have_been_charged
    assert error.http_status is None


def test_a_connection_dropped_after_sending_may_have_been_charged():
    canned = Canned(drop=True)

    with serve_canned(canned) as url, pytest.raises(ConnectionFailed) as caught:
        client_for(url).issue_certificate(issuance_request())

    assert len(canned.received) == 1
    assert caught.value.retryable
    assert caught.value.may_have_been_charged


def test_the_client_never_retries_by_itself():
    canned = Canned(status=503, body=b'{"message": "Down."}')

    with serve_canned(canned) as url, pytest.raises(ProviderError):
        client_for(url).issue_certificate(issuance_request())

    assert len(canned.received) == 1
