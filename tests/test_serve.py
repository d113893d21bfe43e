"""The README's run command: web server and worker together, both stopped by Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from onboarding.management.commands.serve import stop_grace_seconds
from tests.attempts import stored_attempt
from tests.processes import (
    MANAGE,
    free_port,
    standalone_sandbox,
    wait_for,
    worker_env,
)
from tests.provider_proxy import provider_proxy
from verification.models import Attempt

BASE_DIR = Path(__file__).resolve().parent.parent


def descendants(pid: int) -> dict[int, str]:
    """Every live process below `pid`, with its command line."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            continue
        parents[int(entry.name)] = int(fields[1])
        commands[int(entry.name)] = cmdline
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = commands[child]
                frontier.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def stop_leaving_nothing(serve: subprocess.Popen) -> None:
    """After a failed test: stop serve the way it stops its children, then kill
    whatever is left, children included (they lead their own process groups)."""
    if serve.poll() is not None:
        return
    children = descendants(serve.pid)
    serve.send_signal(signal.SIGTERM)
    try:
        serve.wait(timeout=90)
    except subprocess.TimeoutExpired:
        serve.kill()
        serve.wait()
    for pid in children:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_ctrl_c_stops_the_web_server_and_the_worker_it_started(tmp_path):
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=120)
    port = free_port()

    serve = subprocess.Popen(
        [*manage, "serve", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert serve.stdout is not None
    try:
        announced = serve.stdout.readline()
        url = f"http://127.0.0.1:{port}/"
        assert url in announced

        def answers() -> bool:
            try:
                return requests.get(url, timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(answers, timeout=60, what="the web server")
        running = descendants(serve.pid)
        assert any("manage.py worker" in command for command in running.values())
        assert any("runserver" in command for command in running.values())

        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)
    finally:
        stop_leaving_nothing(serve)
        serve.stdout.close()

    assert serve.returncode == 0
    wait_for(
        lambda: not any(alive(pid) for pid in running),
        timeout=30,
        what="every child to stop",
    )


@pytest.mark.django_db(transaction=True)
def test_sigterm_lets_the_worker_finish_the_provider_call_it_is_in(tmp_path):
    """A deploy stops `serve` in the middle of a call: the call's answer lands and
    nothing is bought twice."""
    log = tmp_path / "serve.log"
    with standalone_sandbox() as sandbox, provider_proxy(sandbox) as proxy:
        proxy.hold()
        attempt = stored_attempt()
        with log.open("w") as out:
            serve = subprocess.Popen(
                [*MANAGE, "serve", f"127.0.0.1:{free_port()}"],
                env=worker_env(tmp_path, KREDIBEL_BASE_URL=proxy.url),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            proxy.wait_for_requests(1, timeout=60)
            serve.send_signal(signal.SIGTERM)
            wait_for(
                lambda: "taking no new task" in log.read_text(),
                what="the worker to stop taking tasks",
            )
            proxy.release.set()
            assert serve.wait(timeout=90) == 0
        finally:
            stop_leaving_nothing(serve)

    attempt.refresh_from_db()
    assert attempt.status == Attempt.Status.VERIFIED
    assert list(attempt.calls.values_list("outcome", "charged")) == [
        ("verified", "yes")
    ]
    assert len(proxy.exchanges) == 1


def test_serve_waits_longer_than_a_call_and_the_saving_of_its_answer(settings):
    call_and_save = (
        settings.KREDIBEL_CALL_DEADLINE + settings.VERIFY_ANSWER_WRITE_SECONDS
    )
    assert call_and_save < settings.WORKER_STOP_GRACE_SECONDS
    assert stop_grace_seconds() > settings.WORKER_STOP_GRACE_SECONDS
