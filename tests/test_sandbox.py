"""The sandbox answers as the provider's documented sandbox does: the ten seed cases,
authentication, bodies that are not a JSON object, routing and size limits. Served
over HTTP exactly as `runsandbox` serves it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import requests

from tests.kredibel_payloads import API_KEY, payload, post, serve_sandbox
from verification.sandbox.answers import MAX_BODY_BYTES, Sandbox

UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)

SEED_CASES = [
    ("1234567890123456", "verified", []),
    ("1234567890111111", "not_verified", ["identityId"]),
    ("1234567890111112", "not_verified", ["fullName"]),
    ("1234567890111113", "not_verified", ["birthDate"]),
    ("1234567890111114", "not_verified", ["faceImage"]),
    ("1234567890111115", "not_verified", ["identityImage"]),
    ("1234567890111116", "verified_with_reason", ["emailAddress"]),
    ("1234567890111117", "verified_with_reason", ["phoneNumber"]),
    ("1234567890111118", "verified_with_reason", ["phoneNumber", "emailAddress"]),
    ("1234567890111119", "not_verified", ["liveness_check"]),
]


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with serve_sandbox(Sandbox(api_key=API_KEY)) as url:
        yield url


def assert_json(response: requests.Response, status: int) -> dict:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    return response.json()


@pytest.mark.parametrize(("nik", "status", "reject_fields"), SEED_CASES)
def test_it_answers_each_documented_nik_with_its_status_and_reject_fields(
    sandbox_url, nik, status, reject_fields
):
    body = assert_json(post(sandbox_url, payload(identityId=nik)), 200)

    assert body == {
        "message": "Certificate electronic verification has been done",
        "data": {
            "id": body["data"]["id"],
            "status": status,
            "rejectFields": reject_fields,
            "referenceId": body["data"]["referenceId"],
        },
    }
    assert UUID.fullmatch(body["data"]["id"])
    assert body["data"]["referenceId"].startswith("ref_certel#")
    assert UUID.fullmatch(body["data"]["referenceId"].removeprefix("ref_certel#"))


def test_it_gives_fresh_ids_on_every_answer(sandbox_url):
    first = post(sandbox_url, payload()).json()["data"]
    second = post(sandbox_url, payload()).json()["data"]

    assert first["id"] != second["id"]
    assert first["referenceId"] != second["referenceId"]


def test_it_refuses_a_request_without_a_key(sandbox_url):
    body = assert_json(post(sandbox_url, payload(), key=None), 401)

    assert set(body) == {"message"}


def test_it_refuses_a_wrong_key(sandbox_url):
    body = assert_json(post(sandbox_url, payload(), key="not-the-key"), 401)

    assert set(body) == {"message"}


def test_it_refuses_the_key_in_another_scheme_than_bearer(sandbox_url):
    response = requests.post(
        sandbox_url + "/v1/certificate/issuance",
        json=payload(),
        headers={"Authorization": f"Basic {API_KEY}"},
        timeout=30,
    )

    assert_json(response, 401)


def test_it_accepts_the_key_in_the_body_instead_of_the_header(sandbox_url):
    body = assert_json(post(sandbox_url, payload(key=API_KEY), key=None), 200)

    assert body["data"]["status"] == "verified"


def test_it_refuses_a_wrong_key_in_the_body(sandbox_url):
    assert_json(post(sandbox_url, payload(key="not-the-key"), key=None), 401)


def test_it_does_not_count_the_body_key_as_an_unknown_field(sandbox_url):
    body = assert_json(post(sandbox_url, payload(key=API_KEY)), 200)

    assert body["data"]["status"] == "verified"


def test_it_answers_401_before_saying_anything_about_the_body(sandbox_url):
    body = assert_json(post(sandbox_url, data=b"{not json", key=None), 401)

    assert set(body) == {"message"}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty body"),
        pytest.param(b"   ", id="blank body"),
        pytest.param(b'{"identityId": ', id="malformed JSON"),
        pytest.param(b"identityId=1234567890123456", id="form encoded"),
        pytest.param(b"[]", id="JSON array"),
        pytest.param(b'"text"', id="JSON string"),
        pytest.param(b"null", id="JSON null"),
        pytest.param(b"\xff\xfe{}", id="not UTF-8"),
        pytest.param(b"[" * 100_000, id="nested too deep"),
        pytest.param(b"1" * 5000, id="integer too long"),
    ],
)
def test_it_answers_400_with_a_message_to_a_body_that_is_not_a_json_object(
    sandbox_url, data
):
    body = assert_json(post(sandbox_url, data=data), 400)

    assert set(body) == {"message"}
    assert body["message"]


def test_it_refuses_a_body_over_12_megabytes_with_413(sandbox_url):
    body = assert_json(post(sandbox_url, data=b" " * (MAX_BODY_BYTES + 1)), 413)

    assert set(body) == {"message"}


def test_it_reads_a_body_of_exactly_12_megabytes(sandbox_url):
    data = json.dumps(payload()).encode()
    data += b" " * (MAX_BODY_BYTES - len(data))

    body = assert_json(post(sandbox_url, data=data), 200)

    assert body["data"]["status"] == "verified"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_it_answers_405_json_to_other_methods(sandbox_url, method):
    response = requests.request(
        method, sandbox_url + "/v1/certificate/issuance", timeout=30
    )

    body = assert_json(response, 405)
    assert body["message"]
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/v1/certificate/issuance/",
        "/v1/certificate",
        "/sandbox/v1/certificate/issuance",
    ],
)
def test_it_answers_404_json_to_other_paths(sandbox_url, path):
    response = requests.post(
        sandbox_url + path,
        json=payload(),
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=30,
    )

    assert assert_json(response, 404)["message"]
