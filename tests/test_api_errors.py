"""Bad input to the API: 401 for a wrong or revoked key, 404 for an unknown session
or another key's, 400 naming each field, 413, 429 over a key's rate limits; every
answer JSON, never a 500, and nothing created by a refused request."""

from __future__ import annotations

import json

import pytest

from tests.integrating import auth, create_session, get_session, make_key
from verification.integrations import keys
from verification.integrations.models import VerificationSession

pytestmark = pytest.mark.django_db


def fields_of(response) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer ktp_not-a-key-that-exists"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer " + "x" * 5000},
    ],
)
def test_a_request_without_a_valid_key_is_refused_with_401(client, headers):
    made = make_key()

    answer = client.post(
        "/api/v1/sessions",
        json.dumps({"externalReference": "c-1"}),
        content_type="application/json",
        headers=headers,
    )

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer["WWW-Authenticate"].startswith("Bearer")
    assert VerificationSession.objects.count() == 0
    assert get_session(client, made.key, "x").status_code == 404  # the key works


def test_a_revoked_key_is_refused(client):
    made = make_key()
    session_id = create_session(client, made.key).json()["id"]

    assert keys.revoke(made.api_key)

    assert create_session(client, made.key).status_code == 401
    assert get_session(client, made.key, session_id).status_code == 401
    assert VerificationSession.objects.count() == 1


def test_an_unknown_session_and_another_keys_session_are_404(client):
    mine, theirs = make_key("Bank A"), make_key("Bank B")
    their_session = create_session(client, theirs.key).json()["id"]

    for wanted in (their_session, "6e1526cf-0e58-4b74-abf4-fa9409e39739", "nope"):
        answer = get_session(client, mine.key, wanted)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
    assert get_session(client, theirs.key, their_session).status_code == 200


def test_every_wrong_field_is_named_at_once(client):
    made = make_key()

    answer = create_session(
        client,
        made.key,
        {
            "externalReference": "has spaces and @",
            "returnUrl": "http://bank.example/back",
            "locale": "fr",
            "prefill": {
                "fullName": "R2D2",
                "emailAddress": "not-an-email",
                "phoneNumber": "12",
                "identityId": "1234567890123456",
            },
            "extra": 1,
        },
    )

    assert set(fields_of(answer)) == {
        "externalReference",
        "returnUrl",
        "locale",
        "prefill.fullName",
        "prefill.emailAddress",
        "prefill.phoneNumber",
        "prefill.identityId",
        "extra",
    }
    assert VerificationSession.objects.count() == 0


def test_an_external_reference_is_required_and_at_most_100_characters(client):
    made = make_key()

    missing = create_session(client, made.key, {})
    too_long = create_session(client, made.key, {"externalReference": "x" * 101})
    longest = create_session(client, made.key, {"externalReference": "x" * 100})

    assert fields_of(missing) == {"externalReference": ["Required."]}
    assert "externalReference" in fields_of(too_long)
    assert longest.status_code == 201


@pytest.mark.parametrize(
    ("url", "production", "accepted"),
    [
        ("https://bank.example/back", False, True),
        ("http://localhost:3000/back", False, True),
        ("http://127.0.0.1:3000/back", False, True),
        ("http://[::1]:3000/back", False, True),
        ("http://bank.example/back", False, False),
        ("http://localhost:3000/back", True, False),
        ("https://bank.example/back", True, True),
        ("javascript:alert(1)", False, False),
        ("https://user:secret@bank.example/", False, False),
        ("/relative/back", False, False),
        ("https://bank.example/" + "a" * 2000, False, False),
        ("https://bank.example/a b", False, False),
    ],
)
def test_a_return_url_must_be_https_but_for_localhost_on_the_embedded_defaults(
    client, settings, url, production, accepted
):
    settings.PRODUCTION = production
    made = make_key()

    answer = create_session(
        client, made.key, {"externalReference": "c-1", "returnUrl": url}
    )

    if accepted:
        assert answer.status_code == 201
    else:
        assert list(fields_of(answer)) == ["returnUrl"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b"null",
        b"\xff\xfe",
        b"[" * 5000 + b"]" * 5000,
        b'{"externalReference": 12}',
        b'{"externalReference": ["a"]}',
        b'{"externalReference": "c", "prefill": "Asep"}',
        b'{"externalReference": "c", "prefill": {"fullName": 7}}',
        b'{"externalReference": "c", "locale": null, "returnUrl": 5}',
        b'{"externalReference": "c\\u0000"}',
        b'{"externalReference": "c", "prefill": {"fullName": "A\\u0000B"}}',
        b'{"1": 2, "externalReference": "c"}',
    ],
)
def test_hostile_bodies_get_a_json_400_never_a_500(client, raw):
    made = make_key()

    answer = client.post(
        "/api/v1/sessions", raw, content_type="application/json", headers=auth(made.key)
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] in ("invalid_json", "invalid_request")
    assert VerificationSession.objects.count() == 0


def test_a_body_over_16_kb_is_refused_with_413(client):
    made = make_key()
    body = {"externalReference": "c-1", "prefill": {"fullName": "A" * 20000}}

    answer = create_session(client, made.key, body)

    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"


def test_a_bad_idempotency_key_is_named(client):
    made = make_key()

    answer = create_session(client, made.key, **{"Idempotency-Key": "a" * 256})

    assert list(fields_of(answer)) == ["Idempotency-Key"]


def test_other_methods_and_paths_are_json_too(client):
    made = make_key()
    session_id = create_session(client, made.key).json()["id"]

    listing = client.get("/api/v1/sessions", headers=auth(made.key))
    deleting = client.delete(f"/api/v1/sessions/{session_id}", headers=auth(made.key))
    elsewhere = client.get("/api/v1/elsewhere", headers=auth(made.key))

    assert (listing.status_code, listing["Allow"]) == (405, "POST")
    assert (deleting.status_code, deleting["Allow"]) == (405, "GET")
    assert elsewhere.status_code == 404
    assert elsewhere.json()["error"]["code"] == "not_found"


def test_each_key_is_limited_in_requests_a_minute(client, settings):
    settings.API_REQUESTS_PER_MINUTE = 3
    limited, other = make_key("Bank A"), make_key("Bank B")
    session_id = create_session(client, limited.key).json()["id"]

    answers = [get_session(client, limited.key, session_id) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60
    assert create_session(client, other.key).status_code == 201  # its own limit


def test_each_key_is_limited_in_sessions_an_hour(client, settings):
    settings.API_SESSIONS_PER_HOUR = 2
    made = make_key()
    first = create_session(client, made.key, **{"Idempotency-Key": "k-1"})
    second = create_session(client, made.key, {"externalReference": "c-2"})
    third = create_session(client, made.key, {"externalReference": "c-3"})
    # A replay makes no session, so the limit does not stop it.
    replay = create_session(client, made.key, **{"Idempotency-Key": "k-1"})

    assert [a.status_code for a in (first, second, third)] == [201, 201, 429]
    assert "new sessions an hour" in third.json()["error"]["message"]
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert VerificationSession.objects.count() == 2
