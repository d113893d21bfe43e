"""The README's integrator example works on the embedded defaults: its Python
receiver, run as written in a process of its own, verifies and prints each webhook;
its curl commands, run as written against a live server, start a session and read
it."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.integrating import session_path
from tests.processes import free_port, wait_for
from tests.worker import run_worker

pytestmark = pytest.mark.django_db(transaction=True)

README = Path(__file__).resolve().parent.parent / "README.md"


def block(marker: str) -> str:
    """The code block that follows `<!-- marker -->` in the README."""
    text = README.read_text()
    found = re.search(rf"<!-- {marker} -->\n```\w+\n(.*?)```", text, re.S)
    assert found, f"no block after <!-- {marker} --> in the README"
    return found.group(1)


def accepting(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def commands(script: str, server: str) -> list[str]:
    """The curl commands of a README block (each with its continuation lines), for
    `server` instead of the embedded default's address."""
    found: list[list[str]] = []
    for line in script.replace("http://127.0.0.1:8000", server).splitlines():
        if line.startswith("curl"):
            found.append([line])
        elif found and line and not line.startswith(("#", "KEY=")):
            found[-1].append(line)
    return ["\n".join(lines) for lines in found]


def curl(command: str, key: str) -> str:
    """One curl command of the README in a shell, with $KEY set as it says."""
    done = subprocess.run(
        ["/bin/sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        env={"KEY": key, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_readme_receiver_and_curl_commands_work(sandbox, tmp_path, applicant):
    port = free_port()
    out = StringIO()
    call_command(
        "create_api_key",
        "Bank Contoh",
        "--webhook-url",
        f"http://127.0.0.1:{port}/webhooks",
        stdout=out,
    )
    key = re.search(r"ktp_\S+", out.getvalue()).group()  # type: ignore[union-attr]
    secret = re.search(r"whsec_\S+", out.getvalue()).group()  # type: ignore[union-attr]
    (tmp_path / "receiver.py").write_text(block("integrator-receiver"))
    receiver = subprocess.Popen(
        [sys.executable, "receiver.py"],
        cwd=tmp_path,
        env={"WEBHOOK_SECRET": secret, "PORT": str(port), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    printed: list[str] = []
    reader = threading.Thread(
        target=lambda: printed.extend(iter(receiver.stdout.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    try:
        wait_for(lambda: accepting(port), what="the receiver to listen")
        create, read = commands(block("integrator-curl"), sandbox.url)
        created = json.loads(curl(create, key))
        answer = json.loads(curl(read.replace("<id>", created["id"]), key))
        assert answer["status"] == "created"
        assert answer["externalReference"] == "loan-2026-0042"

        form = applicant.get(session_path(created["url"]))
        assert 'value="Asep Supriyadi"' in form.content.decode()
        run_worker()
        wait_for(lambda: printed, what="the receiver to print the webhook")
    finally:
        receiver.terminate()
        receiver.wait(30)
        reader.join(30)
        errors = receiver.stderr.read()  # type: ignore[union-attr]
        receiver.stdout.close()  # type: ignore[union-attr]
        receiver.stderr.close()  # type: ignore[union-attr]

    assert printed == ["loan-2026-0042 in_progress\n"], errors
