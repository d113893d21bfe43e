"""The sandbox mounted at /sandbox/ in the application: served by the live server,
it reads requests larger than Django's upload limit, accepts exactly
KREDIBEL_API_KEY and follows KREDIBEL_SANDBOX_FAULTS. (That it is neither installed
nor routed with KREDIBEL_SANDBOX off is in test_production_mode.)"""

from __future__ import annotations

import json

import pytest
import requests

from tests.kredibel_payloads import (
    API_KEY,
    FACE_SIZE,
    KTP_SIZE,
    b64,
    jpeg,
    payload,
    post,
)
from verification.sandbox.answers import MAX_BODY_BYTES


@pytest.fixture
def sandbox_url(live_server) -> str:
    return live_server.url + "/sandbox"


def test_it_answers_the_provider_endpoint_under_sandbox(sandbox_url):
    response = post(sandbox_url, payload())

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["data"]["status"] == "verified"


def test_it_reads_a_request_larger_than_djangos_upload_limit(sandbox_url, settings):
    body = payload(
        faceImage=b64(jpeg(*FACE_SIZE, size=4_000_000)),
        identityImage=b64(jpeg(*KTP_SIZE, size=2_000_000)),
    )
    assert len(json.dumps(body)) > 3 * settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = post(sandbox_url, body)

    assert response.status_code == 200


def test_it_refuses_a_body_over_12_megabytes_with_413_json(sandbox_url):
    response = post(sandbox_url, data=b" " * (MAX_BODY_BYTES + 1))

    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["message"]


def test_it_answers_404_json_to_other_paths_under_sandbox(sandbox_url):
    response = post(sandbox_url.removesuffix("/sandbox") + "/sandbox/v2/other", {})

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["message"]


def test_it_answers_405_json_to_a_get(sandbox_url):
    response = requests.get(sandbox_url + "/v1/certificate/issuance", timeout=30)

    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/json"


def test_it_needs_no_csrf_token(sandbox_url):
    # A browser-less client sends neither a CSRF cookie nor a token.
    response = requests.post(
        sandbox_url + "/v1/certificate/issuance",
        data=json.dumps(payload()),
        headers={"Authorization": f"Bearer {API_KEY}", "Origin": "http://evil"},
        timeout=30,
    )

    assert response.status_code == 200


def test_it_accepts_exactly_the_configured_api_key(sandbox_url, settings):
    settings.KREDIBEL_API_KEY = "another-key"

    assert post(sandbox_url, payload(), key=API_KEY).status_code == 401
    assert post(sandbox_url, payload(), key="another-key").status_code == 200


def test_its_fault_state_starts_again_when_the_faults_setting_changes(
    sandbox_url, settings
):
    settings.KREDIBEL_SANDBOX_FAULTS = {"down_for_requests": 1, "failure_status": 503}
    assert post(sandbox_url, payload()).status_code == 503
    assert post(sandbox_url, payload()).status_code == 200

    settings.KREDIBEL_SANDBOX_FAULTS = {"down_for_requests": 1, "failure_status": 503}

    assert post(sandbox_url, payload()).status_code == 503
    assert post(sandbox_url, payload()).status_code == 200
