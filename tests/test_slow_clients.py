"""`manage.py serve` in production mode, with nothing in front of it: a dozen slow
clients do not keep a visitor from the start page, and a request that stalls is
cut off."""

from __future__ import annotations

import contextlib
import sqlite3

import requests

from tests.front_door import (
    HEAD,
    SlowClients,
    body_head,
    connect,
    production_serve,
    serve_env,
    wait_closed,
)


def sessions_stored(env: dict[str, str]) -> int:
    database = env["DATABASE_URL"].removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(database)) as db:
        return db.execute("SELECT count(*) FROM django_session").fetchone()[0]


def test_a_visitor_gets_the_start_page_while_twelve_slow_clients_are_connected(
    production_env, tmp_path
):
    # Timeouts far longer than the test, so that every slow client stays.
    env = serve_env(
        production_env,
        tmp_path,
        WEB_HEADER_TIMEOUT_SECONDS="600",
        WEB_READ_TIMEOUT_SECONDS="600",
    )
    with production_serve(env, tmp_path) as server:
        slow = SlowClients(server.port, heads=6, bodies=6).start()
        try:
            # Every slow client is in: heads and bodies being sent.
            assert slow.all_open()
            start = requests.get(server.url + "/", timeout=30)
            privacy = requests.get(server.url + "/privacy/", timeout=30)
            still_connected = slow.open_count()
        finally:
            slow.stop()

    assert start.status_code == 200
    assert "Verifikasi identitas Anda untuk sertifikat elektronik" in start.text
    assert privacy.status_code == 200
    assert still_connected == 12
    # Reading the two pages stored no session.
    assert sessions_stored(env) == 0


def test_a_request_that_stalls_or_trickles_its_head_is_cut_off(
    production_env, tmp_path
):
    env = serve_env(
        production_env,
        tmp_path,
        WEB_HEADER_TIMEOUT_SECONDS="2",
        WEB_READ_TIMEOUT_SECONDS="2",
    )
    with production_serve(env, tmp_path) as server:
        stalled_head = connect(server.port)
        stalled_head.sendall(HEAD)  # and never the rest
        stalled_body = connect(server.port)
        stalled_body.sendall(body_head(1_000_000) + b"\xff" * 1000)
        # A byte every half second: never silent for 2 s, but never done.
        trickled = SlowClients(server.port, heads=1, bodies=0, interval=0.5).start()
        try:
            head_closed = wait_closed(stalled_head, timeout=60)
            body_closed = wait_closed(stalled_body, timeout=60)
            trickle_closed = wait_closed(trickled.sockets[0], timeout=60)
        finally:
            trickled.stop()
            stalled_head.close()
            stalled_body.close()
        served = requests.get(server.url + "/", timeout=30)
        log = server.text()

    assert (head_closed, body_closed, trickle_closed) == (True, True, True)
    assert log.count("Closed a connection that did not send its request's head") >= 2
    assert "Closed a connection that did not send any more of its request" in log
    assert "Traceback" not in log
    assert served.status_code == 200
