"""Production mode refuses to start half-configured, never runs debug or the sandbox,
and refuses the commands that make local demo data.

Settings are read once per process, so each case starts its own `manage.py`.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from tests.production import PRODUCTION_ENV, manage


@pytest.mark.parametrize("missing", sorted(PRODUCTION_ENV.keys() - {"PRODUCTION"}))
def test_it_refuses_to_start_and_names_a_missing_variable(missing, tmp_path):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}

    result = manage("check", env=env, tmp_path=tmp_path)

    assert result.returncode != 0
    assert "Production mode (PRODUCTION=true) refuses to start" in result.stderr
    assert missing in result.stderr


def test_it_names_every_missing_variable_at_once(tmp_path):
    result = manage("check", env={"PRODUCTION": "true"}, tmp_path=tmp_path)

    assert result.returncode != 0
    for name in PRODUCTION_ENV.keys() - {"PRODUCTION"}:
        assert name in result.stderr


@pytest.mark.parametrize("switch", ["DEBUG", "KREDIBEL_SANDBOX"])
def test_it_refuses_debug_or_the_sandbox(switch, tmp_path):
    result = manage("check", env={**PRODUCTION_ENV, switch: "true"}, tmp_path=tmp_path)

    assert result.returncode != 0
    assert f"{switch} must not be on" in result.stderr


def test_it_passes_the_system_check_when_configured(tmp_path):
    result = manage("check", env=PRODUCTION_ENV, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_asks_for_a_nik_lookup_key_of_its_own(tmp_path):
    without = manage(
        "check",
        "--deploy",
        env={**PRODUCTION_ENV, "NIK_LOOKUP_KEY": PRODUCTION_ENV["SECRET_KEY"]},
        tmp_path=tmp_path,
    )
    with_key = manage("check", "--deploy", env=PRODUCTION_ENV, tmp_path=tmp_path)

    assert "verification.W001" in without.stderr
    assert "NIK_LOOKUP_KEY" in without.stderr
    assert "verification.W001" not in with_key.stderr


@pytest.mark.parametrize(
    "mailer", ["consolemail://", "filemail:///tmp/mail", "dummymail://"]
)
def test_it_refuses_a_mailer_that_delivers_nothing(mailer, tmp_path):
    result = manage(
        "check", env={**PRODUCTION_ENV, "EMAIL_URL": mailer}, tmp_path=tmp_path
    )

    assert result.returncode != 0
    assert "EMAIL_URL must name a real mail server" in result.stderr


def test_it_refuses_object_storage_without_a_bucket(tmp_path):
    result = manage(
        "check", env={**PRODUCTION_ENV, "PRIVATE_STORAGE": "s3"}, tmp_path=tmp_path
    )

    assert result.returncode != 0
    assert "S3_BUCKET must be set" in result.stderr


# Whether the sandbox is routed, installed and imported (after loading every URL and
# every admin module, as a request would).
SANDBOX_PROBE = (
    "import sys; from django.apps import apps; from django.conf import settings\n"
    "from django.urls import resolve, Resolver404, get_resolver\n"
    "get_resolver().url_patterns\n"
    "try:\n    resolve('/sandbox/v1/certificate/issuance'); mounted = True\n"
    "except Resolver404:\n    mounted = False\n"
    "imported = any(m.startswith('verification.sandbox') for m in sys.modules)\n"
    "print(settings.DEBUG, settings.KREDIBEL_SANDBOX, mounted, "
    "apps.is_installed('verification.sandbox'), imported, "
    "settings.SESSION_COOKIE_SECURE)"
)


def test_it_runs_without_debug_and_neither_installs_nor_imports_the_sandbox(
    tmp_path,
):
    result = manage(
        "shell", "-v", "0", "-c", SANDBOX_PROBE, env=PRODUCTION_ENV, tmp_path=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "False",
        "False",
        "False",
        "False",
        "True",
    ]


def test_turning_the_sandbox_off_unroutes_and_uninstalls_it(tmp_path):
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        SANDBOX_PROBE,
        env={"KREDIBEL_SANDBOX": "false"},
        tmp_path=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "False",
        "False",
        "False",
        "False",
        "False",
    ]


def test_the_embedded_default_installs_and_routes_the_sandbox(tmp_path):
    result = manage("shell", "-v", "0", "-c", SANDBOX_PROBE, env={}, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "True", "True", "False"]


def test_the_embedded_default_mounts_the_sandbox_with_debug_on(tmp_path):
    script = (
        "from django.conf import settings; from django.urls import resolve\n"
        "resolve('/sandbox/v1/certificate/issuance')\n"
        "print(settings.DEBUG, settings.KREDIBEL_BASE_URL, "
        "settings.DATABASES['default']['NAME'])"
    )

    result = manage(
        "shell", "-v", "0", "-c", script, env={"PORT": "8123"}, tmp_path=tmp_path
    )

    assert result.returncode == 0, result.stderr
    debug, base_url, database = result.stdout.split()
    assert debug == "True"
    assert base_url == "http://127.0.0.1:8123/sandbox"
    assert database == str(tmp_path / "db.sqlite3")


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("demo_data", "demo_data is for local installs; production mode refuses it."),
        ("demo_reviewer", "The demo reviewer is for local installs; production mode"),
    ],
)
def test_the_demo_data_commands_refuse_production_mode_and_touch_nothing(
    command, says, production_env, tmp_path
):
    result = manage(command, env=production_env, tmp_path=tmp_path)

    assert result.returncode != 0
    assert says in result.stderr
    assert not (tmp_path / "demo-reviewer-password").exists()
    with closing(sqlite3.connect(tmp_path / "db.sqlite3")) as database:
        for table in ("auth_user", "verification_applicant", "verification_attempt"):
            (rows,) = database.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert rows == 0, table


def test_the_email_code_is_required_in_production_mode_and_off_on_the_defaults(
    tmp_path,
):
    script = "from django.conf import settings; print(settings.EMAIL_CODE_REQUIRED)"

    production = manage(
        "shell", "-v", "0", "-c", script, env=PRODUCTION_ENV, tmp_path=tmp_path
    )
    embedded = manage("shell", "-v", "0", "-c", script, env={}, tmp_path=tmp_path)
    turned_off = manage(
        "shell",
        "-v",
        "0",
        "-c",
        script,
        env={**PRODUCTION_ENV, "EMAIL_CODE_REQUIRED": "false"},
        tmp_path=tmp_path,
    )

    assert production.stdout.split() == ["True"], production.stderr
    assert embedded.stdout.split() == ["False"], embedded.stderr
    assert turned_off.stdout.split() == ["False"], turned_off.stderr


def test_email_code_settings_that_cannot_work_stop_the_start(tmp_path):
    result = manage("check", env={"EMAIL_CODE_TRIES": "0"}, tmp_path=tmp_path)

    assert result.returncode != 0
    assert "EMAIL_CODE_MINUTES and EMAIL_CODE_TRIES must be at least 1" in result.stderr
