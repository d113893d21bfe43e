"""The sandbox's faults on demand: the answers each failure status gives, repeatable
random failures, downtime, delays, malformed successes; served over HTTP as
`runsandbox` serves it. Time is the test's: the sandbox is handed a clock that moves
when the test moves it and a sleep that records instead of waiting."""

from __future__ import annotations

import uuid

import pytest

from tests.kredibel_payloads import (
    API_KEY,
    SandboxClock,
    payload,
    post,
    serve_sandbox,
)
from verification.sandbox.answers import MALFORMED_BODIES, Sandbox
from verification.sandbox.faults import Faults


def statuses(faults: Faults, count: int) -> list[int]:
    with serve_sandbox(Sandbox(api_key=API_KEY, faults=faults)) as url:
        return [post(url, payload()).status_code for _ in range(count)]


def test_a_500_carries_an_error_id_and_type():
    faults = Faults(failure_rate=1.0, failure_status=500)
    with serve_sandbox(Sandbox(api_key=API_KEY, faults=faults)) as url:
        response = post(url, payload())

    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"errors", "message"}
    assert uuid.UUID(body["errors"]["errorId"]).version == 4
    assert body["errors"]["errorType"]


def test_a_502_is_an_html_page_as_a_gateway_sends():
    faults = Faults(failure_rate=1.0, failure_status=502)
    with serve_sandbox(Sandbox(api_key=API_KEY, faults=faults)) as url:
        response = post(url, payload())

    assert response.status_code == 502
    assert response.headers["Content-Type"] == "text/html"
    assert b"502 Bad Gateway" in response.content


def test_a_503_is_a_json_message():
    faults = Faults(failure_rate=1.0, failure_status=503)
    with serve_sandbox(Sandbox(api_key=API_KEY, faults=faults)) as url:
        response = post(url, payload())

    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/json"
    assert set(response.json()) == {"message"}


def test_a_429_says_when_to_retry():
    faults = Faults(failure_rate=1.0, failure_status=429, retry_after=12)
    with serve_sandbox(Sandbox(api_key=API_KEY, faults=faults)) as url:
        response = post(url, payload())

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "12"
    assert response.json()["message"]


def test_a_seeded_failure_rate_fails_the_same_requests_every_run():
    faults = Faults(failure_rate=0.5, failure_status=503, seed=42)

    first = statuses(faults, 20)

    assert first == statuses(faults, 20)
    assert set(first) == {200, 503}


def test_a_failure_rate_of_zero_fails_nothing_and_of_one_everything():
    assert set(statuses(Faults(failure_rate=0.0), 5)) == {200}
    assert set(statuses(Faults(failure_rate=1.0), 5)) == {500}


def test_the_first_requests_fail_in_a_downtime_window_by_requests():
    assert statuses(Faults(down_for_requests=3, failure_status=502), 5) == [
        502,
        502,
        502,
        200,
        200,
    ]


def test_a_downtime_window_by_seconds_starts_with_the_sandbox():
    clock = SandboxClock()
    started = clock.now
    faults = Faults(down_for_seconds=2.0, failure_status=503)
    sandbox = Sandbox(api_key=API_KEY, faults=faults, clock=clock, sleep=clock.sleep)
    with serve_sandbox(sandbox) as url:
        at_start = post(url, payload()).status_code
        clock.now = started + 1.5
        inside = post(url, payload()).status_code
        clock.now = started + 2.0
        after = post(url, payload()).status_code

    assert [at_start, inside, after] == [503, 503, 200]
    assert clock.slept == []  # nothing was delayed


def test_latency_delays_every_answer_including_refusals():
    clock = SandboxClock()
    faults = Faults(latency=0.2)
    sandbox = Sandbox(api_key=API_KEY, faults=faults, clock=clock, sleep=clock.sleep)
    with serve_sandbox(sandbox) as url:
        refused = post(url, payload(), key=None)
        invalid = post(url, payload(identityId="1"))
        answered = post(url, payload())

    assert [refused.status_code, invalid.status_code, answered.status_code] == [
        401,
        400,
        200,
    ]
    assert clock.slept == [0.2, 0.2, 0.2]


def test_a_stall_holds_the_answer_on_top_of_the_latency():
    clock = SandboxClock()
    faults = Faults(latency=0.25, stall=30.0)
    sandbox = Sandbox(api_key=API_KEY, faults=faults, clock=clock, sleep=clock.sleep)
    with serve_sandbox(sandbox) as url:
        answered = post(url, payload())

    assert answered.status_code == 200
    assert clock.slept == [30.25]


def test_without_faults_nothing_is_delayed():
    clock = SandboxClock()
    sandbox = Sandbox(api_key=API_KEY, clock=clock, sleep=clock.sleep)
    with serve_sandbox(sandbox) as url:
        statuses = [post(url, payload()).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert clock.slept == []


def test_malformed_successes_cycle_through_bodies_of_another_shape():
    sandbox = Sandbox(api_key=API_KEY, faults=Faults(malformed=True))
    with serve_sandbox(sandbox) as url:
        answers = [post(url, payload()) for _ in MALFORMED_BODIES]

    assert [a.status_code for a in answers] == [200] * len(MALFORMED_BODIES)
    assert [a.content for a in answers] == [body for _, body in MALFORMED_BODIES]


def test_malformed_leaves_refusals_as_they_are():
    sandbox = Sandbox(api_key=API_KEY, faults=Faults(malformed=True))
    with serve_sandbox(sandbox) as url:
        assert post(url, payload(identityId="1")).status_code == 400
        assert post(url, payload(), key="wrong").status_code == 401


@pytest.mark.parametrize(
    "values",
    [
        {"failure_rate": 1.5},
        {"failure_rate": -0.1},
        {"failure_status": 404},
        {"latency": -1.0},
        {"stall": float("nan")},
        {"down_for_requests": -1},
        {"retry_after": -1},
    ],
)
def test_faults_refuse_values_out_of_range(values):
    with pytest.raises(ValueError, match="Sandbox fault"):
        Faults.from_mapping(values)


def test_faults_from_settings_refuse_unknown_keys():
    with pytest.raises(ValueError, match="latncy"):
        Faults.from_mapping({"latncy": 1.0})
