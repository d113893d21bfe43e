"""/api/v1/openapi.json is a valid OpenAPI 3.1 document, and what the API answers
matches it: every status code it documents, every body against its schema."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tests.integrating import auth, create_session, get_session, make_key, receiver
from tests.worker import run_worker
from verification.integrations import sessions

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def document(client) -> dict:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def check(document: dict, body: object, schema: str) -> None:
    """`body` against `#/components/schemas/<schema>`, with the document's refs."""
    wrapper = {**document, "$ref": f"#/components/schemas/{schema}"}
    errors = list(Draft202012Validator(wrapper).iter_errors(body))
    assert errors == [], [e.message for e in errors]


def documented(document: dict, path: str, method: str) -> set[str]:
    return set(document["paths"][path][method]["responses"])


def test_the_document_is_valid_openapi(document):
    validate(document)

    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/api/v1/sessions", "/api/v1/sessions/{id}"}
    assert "session.updated" in document["webhooks"]


def test_what_the_api_answers_matches_the_document(client, document):
    made = make_key()
    created = create_session(
        client,
        made.key,
        {"externalReference": "c-1", "locale": "en", "prefill": {"fullName": "Asep"}},
    )
    check(document, created.json(), "SessionCreated")
    fetched = get_session(client, made.key, created.json()["id"])
    check(document, fetched.json(), "Session")
    answers = {
        ("/api/v1/sessions", "post"): [
            created,
            create_session(client, made.key, {"locale": "xx"}),
            client.post(
                "/api/v1/sessions",
                "{",
                content_type="application/json",
                headers=auth(made.key),
            ),
            create_session(client, "ktp_wrong"),
            create_session(client, made.key, {"externalReference": "x" * 20000}),
        ],
        ("/api/v1/sessions/{id}", "get"): [
            fetched,
            get_session(client, made.key, "nope"),
            get_session(client, "ktp_wrong", created.json()["id"]),
        ],
    }
    for (path, method), responses in answers.items():
        for response in responses:
            code = str(response.status_code)
            assert code in documented(document, path, method), (path, code)
            if code.startswith("2"):
                continue
            check(document, response.json(), "Error")


def test_a_webhook_body_matches_the_documented_event(document):
    made = make_key()
    with receiver(made.webhook_secret) as hooks:
        made.api_key.webhook_url = hooks.url
        made.api_key.save()
        session, _ = sessions.create_session(
            api_key=made.api_key,
            request=sessions.SessionRequest(external_reference="c-1"),
        )
        sessions.open_form(session)
        run_worker()
        hooks.wait_for(1)

    (event,) = hooks.payloads()
    check(document, event, "Event")
    assert json.loads(hooks.received[0].body) == event
