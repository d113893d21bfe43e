"""The Kredibel client against the mounted sandbox over a real socket: verdicts,
refusals, the wire format, secrecy of the key and identity data, one session."""

from __future__ import annotations

import base64
import datetime
import json
import logging
import re

import pytest
from requests.adapters import HTTPAdapter

from tests.kredibel_payloads import (
    API_KEY,
    FACE_SIZE,
    KTP_SIZE,
    Canned,
    closed_port,
    full_listen_queue,
    issuance_request,
    jpeg,
    serve_canned,
)
from verification.kredibel import (
    AuthenticationFailed,
    ConnectionFailed,
    ConnectTimeout,
    InvalidRequest,
    IssuanceRequest,
    IssuanceResult,
    KredibelClient,
    KredibelError,
    MalformedResponse,
    ProviderError,
    RateLimited,
    ReadTimeout,
    Status,
    get_client,
)

UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
SECRET = "kredibel-test-key-7f3a9c"
IDENTITY = ("1234567890123456", "ASEP SUPRIYADI", "test@email.com", "621234567890")

SEED_CASES = [
    ("1234567890123456", Status.VERIFIED, ()),
    ("1234567890111111", Status.NOT_VERIFIED, ("identityId",)),
    ("1234567890111112", Status.NOT_VERIFIED, ("fullName",)),
    ("1234567890111113", Status.NOT_VERIFIED, ("birthDate",)),
    ("1234567890111114", Status.NOT_VERIFIED, ("faceImage",)),
    ("1234567890111115", Status.NOT_VERIFIED, ("identityImage",)),
    ("1234567890111116", Status.VERIFIED_WITH_REASON, ("emailAddress",)),
    ("1234567890111117", Status.VERIFIED_WITH_REASON, ("phoneNumber",)),
    ("1234567890111118", Status.VERIFIED_WITH_REASON, ("phoneNumber", "emailAddress")),
    ("1234567890111119", Status.NOT_VERIFIED, ("liveness_check",)),
]


@pytest.fixture
def sandbox_url(live_server, settings) -> str:
    settings.KREDIBEL_BASE_URL = live_server.url + "/sandbox"
    return settings.KREDIBEL_BASE_URL


def client_for(base_url: str, api_key: str = API_KEY) -> KredibelClient:
    return KredibelClient(
        base_url=base_url, api_key=api_key, connect_timeout=5, read_timeout=30
    )


@pytest.mark.parametrize(("nik", "status", "reject_fields"), SEED_CASES)
def test_it_returns_the_documented_verdict_for_each_seed_nik(
    sandbox_url, nik, status, reject_fields
):
    result = get_client().issue_certificate(issuance_request(identity_id=nik))

    assert isinstance(result, IssuanceResult)
    assert result.status is status
    assert result.reject_fields == reject_fields
    assert UUID.fullmatch(result.provider_id)
    assert result.reference_id.startswith("ref_certel#")
    assert result.message == "Certificate electronic verification has been done"
    assert result.http_status == 200
    assert result.duration > 0  # measured, for the call's record


def test_it_gets_a_fresh_provider_id_for_every_call(sandbox_url):
    client = get_client()

    first = client.issue_certificate(issuance_request())
    second = client.issue_certificate(issuance_request())

    assert first.provider_id != second.provider_id


def test_it_sends_images_at_their_maximum_sizes(sandbox_url):
    # About 8 MB of JSON: over Django's DATA_UPLOAD_MAX_MEMORY_SIZE, which the
    # mounted sandbox must not apply.
    request = issuance_request(
        face_image=jpeg(*FACE_SIZE, size=4_000_000),
        identity_image=jpeg(*KTP_SIZE, size=2_000_000),
    )

    assert get_client().issue_certificate(request).status is Status.VERIFIED


def test_it_raises_invalid_request_with_the_providers_field_errors(sandbox_url):
    request = issuance_request(face_image=jpeg(480, 639), identity_id="123")

    with pytest.raises(InvalidRequest) as caught:
        get_client().issue_certificate(request)

    error = caught.value
    assert error.field_errors == {
        "identityId": ["Length must be 16."],
        "faceImage": ["Image must be at least 640 pixels high."],
    }
    assert error.outcome == "invalid_request"
    assert error.http_status == 400
    assert error.provider_message == "Input payload validation failed."
    assert not error.retryable
    assert not error.may_have_been_charged
    assert "identityId" in str(error)
    assert "faceImage" in str(error)


def test_it_raises_authentication_failed_for_a_wrong_key(sandbox_url):
    with pytest.raises(AuthenticationFailed) as caught:
        client_for(sandbox_url, "not-the-key").issue_certificate(issuance_request())

    error = caught.value
    assert error.outcome == "authentication_failed"
    assert error.http_status == 401
    assert error.provider_message
    assert not error.retryable
    assert not error.may_have_been_charged


@pytest.mark.parametrize("status", [403])
def test_it_raises_authentication_failed_for_a_forbidden_answer(status):
    canned = Canned(status=status, body=b'{"message": "Forbidden."}')
    with serve_canned(canned) as url, pytest.raises(AuthenticationFailed) as caught:
        client_for(url).issue_certificate(issuance_request())

    assert caught.value.http_status == status


def test_it_sends_the_documented_wire_format():
    canned = Canned(
        body=json.dumps(
            {
                "message": "Certificate electronic verification has been done",
                "data": {
                    "id": "8c4d6927-b4e1-428b-b95f-c21b6734b73f",
                    "status": "verified",
                    "rejectFields": [],
                    "referenceId": "ref_certel#e87c8bc2-5d10-455b-98a0-187d60f72873",
                },
            }
        ).encode()
    )
    request = issuance_request(birth_date=datetime.datetime(1990, 7, 6, 13, 45))  # noqa: DTZ001

    with serve_canned(canned) as url:
        result = client_for(url + "/base/").issue_certificate(request)

    [received] = canned.received
    assert received.method == "POST"
    assert received.path == "/base/v1/certificate/issuance"
    assert received.headers["Authorization"] == f"Bearer {API_KEY}"
    assert received.headers["Content-Type"] == "application/json"
    body = json.loads(received.body)
    assert body == {
        "identityId": "1234567890123456",
        "fullName": "ASEP SUPRIYADI",
        "birthDate": "1990-07-06",
        "emailAddress": "test@email.com",
        "phoneNumber": "621234567890",
        "faceImage": body["faceImage"],
        "identityImage": body["identityImage"],
    }
    assert base64.b64decode(body["faceImage"], validate=True) == request.face_image
    assert (
        base64.b64decode(body["identityImage"], validate=True) == request.identity_image
    )
    assert result.provider_id == "8c4d6927-b4e1-428b-b95f-c21b6734b73f"
    assert result.reference_id == "ref_certel#e87c8bc2-5d10-455b-98a0-187d60f72873"


def test_it_reuses_one_session_and_one_connection_across_calls(sandbox_url):
    client = get_client()
    session = client._session

    client.issue_certificate(issuance_request())
    client.issue_certificate(issuance_request())

    assert client._session is session
    adapter = session.get_adapter(sandbox_url)
    assert isinstance(adapter, HTTPAdapter)
    pools = adapter.poolmanager.pools
    # urllib3's pool container refuses plain iteration; keys() is its way.
    [pool] = [pools[key] for key in pools.keys()]  # noqa: SIM118
    assert pool.num_requests == 2
    assert pool.num_connections == 1


def test_get_client_is_shared_until_a_kredibel_setting_changes(sandbox_url, settings):
    client = get_client()
    assert get_client() is client
    assert client.base_url == sandbox_url

    settings.KREDIBEL_READ_TIMEOUT = 1.5

    assert get_client() is not client
    assert get_client()._timeout == (settings.KREDIBEL_CONNECT_TIMEOUT, 1.5)


def test_it_refuses_a_base_url_that_is_not_http():
    with pytest.raises(ValueError, match="http"):
        client_for("ftp://kredibel.example")


def test_it_keeps_the_api_key_out_of_every_error_and_repr(
    sandbox_url, settings, caplog
):
    caplog.set_level(logging.DEBUG)
    settings.KREDIBEL_API_KEY = SECRET
    scenarios: list[tuple[type[KredibelError], dict, str, IssuanceRequest]] = [
        (AuthenticationFailed, {}, SECRET + "-wrong", issuance_request()),
        (InvalidRequest, {}, SECRET, issuance_request(face_image=b"not an image")),
        (ProviderError, {"failure_rate": 1.0}, SECRET, issuance_request()),
        (
            RateLimited,
            {"failure_rate": 1.0, "failure_status": 429},
            SECRET,
            issuance_request(),
        ),
        (MalformedResponse, {"malformed": True}, SECRET, issuance_request()),
        (ReadTimeout, {"stall": 1.0}, SECRET, issuance_request()),
    ]
    errors: list[KredibelError] = []
    clients = []
    for expected, faults, key, request in scenarios:
        settings.KREDIBEL_SANDBOX_FAULTS = faults
        client = KredibelClient(
            base_url=sandbox_url, api_key=key, connect_timeout=5, read_timeout=0.3
        )
        with pytest.raises(expected) as caught:
            client.issue_certificate(request)
        errors.append(caught.value)
        clients.append(client)
    with full_listen_queue() as port:
        client = KredibelClient(
            base_url=f"http://127.0.0.1:{port}",
            api_key=SECRET,
            connect_timeout=0.1,
            read_timeout=1,
        )
        with pytest.raises(ConnectTimeout) as caught:
            client.issue_certificate(issuance_request())
    errors.append(caught.value)
    clients.append(client)
    client = client_for(f"http://127.0.0.1:{closed_port()}", SECRET)
    with pytest.raises(ConnectionFailed) as caught:
        client.issue_certificate(issuance_request())
    errors.append(caught.value)
    clients.append(client)

    assert len({type(error) for error in errors}) == 8
    for error in errors:
        assert SECRET not in str(error)
        assert SECRET not in repr(error)
        assert SECRET not in repr(vars(error))
    for client in clients:
        assert SECRET not in repr(client)
        assert SECRET not in str(client)
    assert SECRET not in caplog.text


def test_it_keeps_identity_data_out_of_reprs_errors_and_logs(sandbox_url, caplog):
    caplog.set_level(logging.DEBUG)
    request = issuance_request(face_image=jpeg(480, 639))

    with pytest.raises(InvalidRequest) as caught:
        get_client().issue_certificate(request)
    result = get_client().issue_certificate(issuance_request())

    texts = [repr(request), str(caught.value), repr(caught.value), repr(result)]
    texts.append(caplog.text)
    for text in texts:
        for value in IDENTITY:
            assert value not in text
    assert "1990" not in repr(request)


def test_it_logs_one_line_with_the_outcome_http_status_and_duration(
    sandbox_url, caplog
):
    caplog.set_level(logging.INFO, logger="verification.kredibel")

    get_client().issue_certificate(issuance_request())

    [record] = [r for r in caplog.records if r.name == "verification.kredibel"]
    assert re.fullmatch(
        r"Kredibel issuance: outcome=verified http_status=200 duration=\d+\.\d{3}s",
        record.getMessage(),
    )
