"""Sessions: none for a visitor who only reads, and expired ones cleared on a
schedule by the worker's housekeeping lane."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.worker import run_worker

CLEAR_TASK = "verification.tasks.clear_sessions"


@pytest.mark.django_db
def test_reading_the_start_page_and_the_privacy_notice_stores_no_session():
    visitor = Client(enforce_csrf_checks=True)

    for path in ("/", "/privacy/"):
        page = visitor.get(path)
        assert page.status_code == 200
        assert "sessionid" not in page.cookies

    assert Session.objects.count() == 0


@pytest.mark.django_db
def test_switching_the_language_on_the_start_page_stores_no_session():
    visitor = Client(enforce_csrf_checks=True)
    visitor.get("/")
    token = visitor.cookies["csrftoken"].value

    switched = visitor.post(
        "/i18n/setlang/",
        {"language": "en", "next": "/", "csrfmiddlewaretoken": token},
        follow=True,
    )

    assert "Verify your identity" in switched.text
    assert Session.objects.count() == 0


def stored_session(*, expires_in: timedelta) -> str:
    store = SessionStore()
    store["browser"] = "a-random-browser-id"
    store.create()
    assert store.session_key
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() + expires_in
    )
    return store.session_key


@pytest.mark.django_db(transaction=True)
def test_the_worker_clears_expired_sessions_and_schedules_the_next_clearing():
    expired = stored_session(expires_in=-timedelta(minutes=1))
    live = stored_session(expires_in=timedelta(hours=1))
    # `manage.py serve` runs this before its worker starts.
    call_command("recover_attempts", verbosity=0)
    waiting = DBTaskResult.objects.filter(task_path=CLEAR_TASK, status="READY")
    assert waiting.count() == 1
    waiting.update(run_after=timezone.now())

    run_worker()

    assert list(Session.objects.values_list("session_key", flat=True)) == [live]
    assert not Session.objects.filter(session_key=expired).exists()
    assert waiting.count() == 1
    assert waiting.get().run_after > timezone.now() + timedelta(hours=5)
