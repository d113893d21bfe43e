from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.test import Client

from tests.production import PRODUCTION_ENV, SUITE_LIMITS, SUITE_LIMITS_ENV, manage


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Each test writes identity images to its own private directory."""
    default = settings.STORAGES["default"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            **default,
            "OPTIONS": {**default["OPTIONS"], "location": tmp_path / "private"},
        },
    }


@pytest.fixture(autouse=True)
def _limits_for_the_suite(settings):
    """The suite sends many applications from 127.0.0.1 and calls the sandbox
    often: the limits meant for a real site (see README) would stop it. A test
    about a limit sets its own; processes get the same (tests.processes)."""
    settings.VERIFICATIONS_PER_IP_PER_HOUR = SUITE_LIMITS[
        "VERIFICATIONS_PER_IP_PER_HOUR"
    ]
    settings.DAILY_VERIFICATION_BUDGET = SUITE_LIMITS["DAILY_VERIFICATION_BUDGET"]
    settings.EMAIL_CODES_PER_IP_PER_HOUR = SUITE_LIMITS["EMAIL_CODES_PER_IP_PER_HOUR"]


@pytest.fixture
def sandbox(live_server, settings):
    """The built-in sandbox, served over a real socket by the live server, as the
    provider; retries without waiting so a test sees every try."""
    settings.KREDIBEL_BASE_URL = live_server.url + "/sandbox"
    settings.KREDIBEL_API_KEY = settings.SANDBOX_API_KEY
    settings.KREDIBEL_SANDBOX_FAULTS = {}
    settings.VERIFY_RETRY_BASE_SECONDS = 0
    settings.VERIFY_UNKNOWN_DELAY_SECONDS = 0
    return live_server


@pytest.fixture
def applicant() -> Client:
    """An applicant's browser, reading the site in English."""
    client = Client(headers={"accept-language": "en"})
    return client


@pytest.fixture(scope="session")
def _migrated_production_database(tmp_path_factory) -> Path:
    """One SQLite database migrated in production mode, made once per run."""
    directory = tmp_path_factory.mktemp("production")
    database = directory / "db.sqlite3"
    env = {**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{database}"}
    result = manage("migrate", "-v", "0", env=env, tmp_path=directory)
    assert result.returncode == 0, result.stderr
    return database


@pytest.fixture
def production_env(_migrated_production_database, tmp_path) -> dict[str, str]:
    """The environment of production mode, with this test's own copy of a migrated
    SQLite database at tmp_path / "db.sqlite3" (for `tests.production.manage`)."""
    database = tmp_path / "db.sqlite3"
    shutil.copyfile(_migrated_production_database, database)
    return {
        **PRODUCTION_ENV,
        **SUITE_LIMITS_ENV,
        "DATABASE_URL": f"sqlite:///{database}",
    }


def pytest_sessionfinish(session, exitstatus):
    """SQLite's write-ahead log files outlive the test database they belong to."""
    from django.conf import settings

    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and name:
        for suffix in ("-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 API server (moto's stand-alone mode) on loopback, for the suite."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, settings, request):
    """Private storage on a fresh, private bucket of the S3 server. Returns a boto3
    client and the bucket's name, to look at what is stored as an auditor would."""
    import boto3

    bucket = "kyc-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "verification.storage.EncryptedS3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "location": "private",
                "endpoint_url": s3_server,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "default_acl": None,
                "querystring_auth": True,
                "file_overwrite": True,
            },
        },
    }
    yield client, bucket
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    for entry in listed:
        client.delete_object(Bucket=bucket, Key=entry["Key"])
    client.delete_bucket(Bucket=bucket)
