"""API keys: made in the admin or with `manage.py create_api_key NAME`, shown once,
stored only as a hash, revocable, each with a name, a webhook URL and a signing
secret of its own."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tests.integrating import create_session, get_session
from tests.pages import matched, text_of
from tests.reviewing import make_user
from verification.integrations.models import ApiKey

pytestmark = pytest.mark.django_db

KEY = re.compile(r"ktp_[A-Za-z0-9_-]{43}")
SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{44}")


def every_stored_value() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM integrations_apikey")
        return repr(cursor.fetchall())


def test_the_command_prints_the_key_once_and_stores_only_its_hash(client):
    out = StringIO()

    call_command(
        "create_api_key",
        "Bank Contoh",
        "--webhook-url",
        "https://bank.example/h",
        stdout=out,
    )

    key = matched(KEY.pattern, out.getvalue())
    secret = matched(SECRET.pattern, out.getvalue())
    stored = every_stored_value()
    assert key not in stored
    assert secret not in stored  # encrypted at rest
    api_key = ApiKey.objects.get()
    assert (api_key.name, api_key.webhook_url) == (
        "Bank Contoh",
        "https://bank.example/h",
    )
    assert api_key.webhook_secret == secret
    assert create_session(client, key).status_code == 201


def test_each_key_has_its_own_signing_secret():
    call_command("create_api_key", "Bank A", stdout=StringIO())
    call_command("create_api_key", "Bank B", stdout=StringIO())

    a, b = ApiKey.objects.order_by("name")
    assert a.webhook_secret != b.webhook_secret
    assert a.key_hash != b.key_hash


def test_the_command_refuses_a_plain_http_webhook_url():
    with pytest.raises(CommandError, match="https"):
        call_command(
            "create_api_key",
            "Bank",
            "--webhook-url",
            "http://bank.example/h",
            stdout=StringIO(),
        )

    assert ApiKey.objects.count() == 0


def test_a_key_made_in_the_admin_is_shown_once_then_never_again(client):
    admin = client
    admin.force_login(make_user("ops", superuser=True))

    made = admin.post(
        "/admin/integrations/apikey/add/",
        {"name": "Bank Contoh", "webhook_url": "https://bank.example/hooks"},
    )

    assert made.status_code == 200
    assert "no-store" in made["Cache-Control"]
    key = matched(KEY.pattern, made.content.decode())
    secret = matched(SECRET.pattern, made.content.decode())
    api_key = ApiKey.objects.get()
    assert api_key.webhook_secret == secret
    assert key not in every_stored_value()
    page = admin.get(f"/admin/integrations/apikey/{api_key.pk}/change/")
    assert key not in page.content.decode()
    assert secret not in page.content.decode()
    assert api_key.prefix in text_of(page)


def test_the_admin_refuses_a_webhook_url_that_is_not_https(client):
    client.force_login(make_user("ops", superuser=True))

    refused = client.post(
        "/admin/integrations/apikey/add/",
        {"name": "Bank Contoh", "webhook_url": "http://bank.example/hooks"},
    )

    assert "Must use https" in text_of(refused)
    assert ApiKey.objects.count() == 0


def test_revoking_a_key_in_the_admin_refuses_it_from_then_on(client):
    out = StringIO()
    call_command("create_api_key", "Bank Contoh", stdout=out)
    key = matched(KEY.pattern, out.getvalue())
    session_id = create_session(client, key).json()["id"]
    admin = make_user("ops", superuser=True)
    client.force_login(admin)

    client.post(
        "/admin/integrations/apikey/",
        {"action": "revoke", "_selected_action": [ApiKey.objects.get().pk]},
    )
    client.logout()

    assert ApiKey.objects.get().revoked_at is not None
    assert get_session(client, key, session_id).status_code == 401


def test_a_new_signing_secret_is_shown_once_and_signs_from_then_on(client):
    call_command("create_api_key", "Bank Contoh", stdout=StringIO())
    old = ApiKey.objects.get().webhook_secret
    client.force_login(make_user("ops", superuser=True))

    shown = client.post(
        "/admin/integrations/apikey/",
        {"action": "new_signing_secret", "_selected_action": [ApiKey.objects.get().pk]},
    )

    new = matched(SECRET.pattern, shown.content.decode())
    assert new != old
    assert ApiKey.objects.get().webhook_secret == new


def test_reviewers_cannot_see_the_keys(client):
    call_command("create_api_key", "Bank Contoh", stdout=StringIO())
    client.force_login(make_user("rita", reviewer=True))

    assert client.get("/admin/integrations/apikey/").status_code == 403
    assert client.get("/admin/integrations/webhookdelivery/").status_code == 403
