"""One signed-token helper for every link an applicant follows, and one page for a
link that no longer works."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core import signing

from tests.pages import text_of
from tests.reviewing import make_attempt
from verification import tokens
from verification.models import STATUS_LINK_SALT

CODE = uuid.UUID("12345678-1234-5678-1234-567812345678")


def test_a_token_gives_back_its_code():
    token = tokens.sign(CODE, salt="a")

    assert tokens.read(token, salt="a", max_age=timedelta(minutes=1)) == CODE


@pytest.mark.parametrize(
    "token",
    [
        tokens.sign(CODE, salt="another kind of link"),
        tokens.sign(CODE, salt="a")[:-2] + "xx",
        signing.dumps("not a code", salt="a"),
        "garbage",
        "",
    ],
    ids=["other-salt", "altered", "not-a-code", "garbage", "empty"],
)
def test_a_token_not_made_for_this_link_gives_nothing(token):
    assert tokens.read(token, salt="a", max_age=timedelta(minutes=1)) is None


def test_an_old_token_gives_nothing():
    token = tokens.sign(CODE, salt="a")

    assert tokens.read(token, salt="a", max_age=timedelta(seconds=-1)) is None


@pytest.mark.django_db
def test_an_expired_status_link_and_an_expired_handoff_share_one_page(
    applicant, settings
):
    settings.STATUS_LINK_MAX_AGE_DAYS = -1
    attempt = make_attempt()
    status = applicant.get(
        f"/status/link/{tokens.sign(attempt.code, salt=STATUS_LINK_SALT)}/"
    )
    handoff = applicant.get("/continue/not-a-token/")

    assert status.status_code == handoff.status_code == 410
    assert (
        status.templates[0].name
        == handoff.templates[0].name
        == "onboarding/link_expired.html"
    )
    assert "start a new application" in text_of(status)
    assert "on one phone only" in text_of(handoff)
