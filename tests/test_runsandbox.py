"""`manage.py runsandbox` serves the sandbox alone at the provider's paths, as a real
process on a free local port, with an option for every fault; it stops cleanly on
Ctrl-C and SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.management import CommandError, call_command

from tests.kredibel_payloads import (
    API_KEY,
    b64,
    issuance_request,
    jpeg,
    payload,
    post,
)
from verification.kredibel import (
    KredibelClient,
    MalformedResponse,
    ReadTimeout,
    Status,
)

START_TIMEOUT = 30


@dataclass
class Runsandbox:
    """A running `manage.py runsandbox` and everything it printed so far."""

    process: subprocess.Popen[str]
    url: str = ""
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal it, wait for it to exit and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=15)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            if self.reader:
                self.reader.join(timeout=5)
            if self.process.stdout:
                self.process.stdout.close()


def start_runsandbox(*args: str) -> Runsandbox:
    """Start runsandbox on a free port (port 0) and wait for the base URL it
    prints. Its output (stdout and stderr) is read continuously, so request logs
    never fill the pipe."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # The default key must be the documented one, whatever this shell exports.
    env.pop("KREDIBEL_API_KEY", None)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runsandbox", "127.0.0.1:0", *args],
        cwd=Path(settings.BASE_DIR),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Runsandbox(process)
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.lines.append(line)
            match = re.match(r"Kredibel sandbox at (http://\S+)", line)
            if match:
                running.url = match[1]
            if "Press Ctrl-C to stop." in line:  # the last line printed on start
                ready.set()
        ready.set()

    running.reader = threading.Thread(target=read, daemon=True)
    running.reader.start()
    if not ready.wait(START_TIMEOUT) or not running.url:
        running.stop(signal.SIGKILL)
        pytest.fail(f"runsandbox did not start:\n{running.output}")
    return running


@pytest.fixture(scope="module")
def runsandbox() -> Iterator[Runsandbox]:
    running = start_runsandbox()
    yield running
    running.stop()


def test_it_prints_the_base_url_and_the_key_to_use(runsandbox):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", runsandbox.url)
    assert f"Endpoint: POST {runsandbox.url}/v1/certificate/issuance" in (
        runsandbox.output
    )
    assert f"API key: {API_KEY}" in runsandbox.output
    assert "Faults: none" in runsandbox.output


def test_curl_gets_the_documented_verified_answer(runsandbox, tmp_path):
    face = jpeg(600, 800, noise=True)
    ktp = jpeg(640, 400, noise=True)
    assert len(face) >= 100 * 1024
    assert len(ktp) >= 100 * 1024
    request_file = tmp_path / "request.json"
    request_file.write_text(
        json.dumps(
            payload(
                identityId="3171234567890123",
                faceImage=b64(face),
                identityImage=b64(ktp),
            )
        )
    )

    completed = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            "30",
            "--request",
            "POST",
            "--header",
            f"Authorization: Bearer {API_KEY}",
            "--header",
            "Content-Type: application/json",
            "--data-binary",
            f"@{request_file}",
            "--write-out",
            "\n%{http_code} %{content_type}",
            f"{runsandbox.url}/v1/certificate/issuance",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    body, status_line = completed.stdout.rsplit("\n", 1)
    assert status_line == "200 application/json"
    answer = json.loads(body)
    assert answer["message"] == "Certificate electronic verification has been done"
    assert answer["data"]["status"] == "verified"
    assert answer["data"]["rejectFields"] == []
    assert re.fullmatch(r"[0-9a-f-]{36}", answer["data"]["id"])
    assert answer["data"]["referenceId"].startswith("ref_certel#")


def test_the_client_reaches_it_at_the_base_url_without_a_sandbox_prefix(runsandbox):
    client = KredibelClient(
        base_url=runsandbox.url, api_key=API_KEY, connect_timeout=5, read_timeout=30
    )

    result = client.issue_certificate(issuance_request(identity_id="1234567890111118"))

    assert result.status is Status.VERIFIED_WITH_REASON
    assert result.reject_fields == ("phoneNumber", "emailAddress")


@pytest.mark.parametrize(
    "path", ["/", "/healthz", "/admin/", "/sandbox/v1/certificate/issuance"]
)
def test_it_serves_nothing_but_the_sandbox_endpoint(runsandbox, path):
    response = requests.get(runsandbox.url + path, timeout=30)

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"


def test_its_options_set_the_key_and_the_faults():
    running = start_runsandbox(
        "--api-key=other-key",
        "--down-for-requests=1",
        "--down-for-seconds=0.01",
        "--failure-rate=0.0001",
        "--failure-status=429",
        "--retry-after=9",
        "--latency=0.05",
        "--seed=3",
    )
    try:
        first = post(running.url, payload(), key="other-key")
        second = post(running.url, payload(), key="other-key")
        default_key = post(running.url, payload(), key=API_KEY)
    finally:
        exit_code = running.stop(signal.SIGTERM)

    assert "API key: other-key" in running.output
    assert (
        "Faults: latency=0.05, failure_rate=0.0001, failure_status=429, "
        "retry_after=9, down_for_seconds=0.01, down_for_requests=1, seed=3"
    ) in running.output
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "9"
    assert second.status_code == 200
    assert default_key.status_code == 401
    assert exit_code == 0
    assert "Kredibel sandbox stopped." in running.output


def test_its_stall_and_malformed_options_reach_the_client_and_ctrl_c_stops_it():
    running = start_runsandbox("--stall=0.6", "--malformed")
    try:
        patient = KredibelClient(
            base_url=running.url, api_key=API_KEY, connect_timeout=5, read_timeout=5
        )
        hasty = KredibelClient(
            base_url=running.url, api_key=API_KEY, connect_timeout=5, read_timeout=0.2
        )

        with pytest.raises(MalformedResponse):
            patient.issue_certificate(issuance_request())
        with pytest.raises(ReadTimeout):
            hasty.issue_certificate(issuance_request())
    finally:
        exit_code = running.stop(signal.SIGINT)

    assert "stall=0.6, malformed=True" in running.output
    assert exit_code == 0
    assert "Kredibel sandbox stopped." in running.output
    assert "Traceback" not in running.output


@pytest.mark.parametrize(
    "args",
    [
        ["--failure-rate=2"],
        ["--failure-status=404"],
        ["--latency=-1"],
        ["--api-key="],
    ],
)
def test_it_refuses_invalid_options(args):
    with pytest.raises(CommandError):
        call_command("runsandbox", "127.0.0.1:0", *args)


@pytest.mark.parametrize("addrport", ["127.0.0.1:http", "127.0.0.1:70000", "nine"])
def test_it_refuses_an_address_that_is_not_addr_port(addrport):
    with pytest.raises(CommandError, match="address:port"):
        call_command("runsandbox", addrport)


def test_it_refuses_a_port_already_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(CommandError, match="Cannot listen"):
            call_command("runsandbox", f"127.0.0.1:{port}")
