"""Blind indexes: exact-match lookups of NIK, email and phone without the plain
value, however the value is written, and the sealed admin search that keeps only
their digests in the reviewer's session."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session

from tests.reviewing import admin_url, make_attempt, make_user
from verification import lookups, reviews
from verification.models import Attempt


@pytest.mark.parametrize(
    "written",
    [
        "Dewi.Lestari@EXAMPLE.com",
        " dewi.lestari@example.com ",
        "DEWI.LESTARI@example.COM",
    ],
)
def test_an_email_meets_itself_whatever_its_case(written):
    assert lookups.email_digest(written) == lookups.email_digest(
        "dewi.lestari@example.com"
    )


def test_an_email_domain_meets_its_idna_form():
    assert (
        lookups.normalise_email("Dewi@Bücher.example") == "dewi@xn--bcher-kva.example"
    )
    assert lookups.email_digest("dewi@bücher.example") == lookups.email_digest(
        "dewi@xn--bcher-kva.example"
    )


@pytest.mark.parametrize(
    "written",
    ["0812-3456-7890", "+62 812 3456 7890", "6281234567890", "0062 812 3456 7890"],
)
def test_a_phone_number_meets_itself_in_e164(written):
    assert lookups.phone_e164(written) == "+6281234567890"
    assert lookups.phone_digest(written) == lookups.phone_digest("6281234567890")


def test_the_three_indexes_never_meet_each_other(settings):
    value = "6281234567890"

    assert lookups.nik_digest(value) != lookups.phone_digest(value)
    assert lookups.email_digest(value) != lookups.phone_digest(value)


@pytest.mark.django_db
def test_the_indexes_are_kept_with_the_row_and_follow_the_lookup_key(settings):
    attempt = make_attempt(email="Siti@Example.com", phone="6281299990001")

    assert attempt.email_digest == lookups.email_digest("siti@example.com")
    assert attempt.phone_digest == lookups.phone_digest("0812 9999 0001")
    settings.NIK_LOOKUP_KEY = "another-key"
    assert lookups.email_digest("siti@example.com") != attempt.email_digest


@pytest.mark.django_db
def test_a_sealed_search_keeps_only_digests_in_the_session(client):
    client.force_login(make_user("rita", reviewer=True))
    wanted = make_attempt(nik="3171234567890123", email="siti@example.com")
    url = admin_url("attempt_changelist")
    terms = ["3171234567890123", "siti@example.com", "0812-9999-0001", "SITI RAHAYU"]

    found = [
        client.get(client.post(url, {"q": term})["Location"]).context["cl"].result_list
        for term in terms
    ]

    assert list(found[0]) == [wanted]
    assert list(found[1]) == [wanted]
    stored = "".join(
        repr(SessionStore().decode(s.session_data)) for s in Session.objects.all()
    )
    for term in terms:
        assert term not in stored
        assert term.casefold() not in stored.casefold()
    assert lookups.nik_digest("3171234567890123") in stored
    assert lookups.email_digest("siti@example.com") in stored


def test_a_provider_id_is_the_only_term_kept_as_typed():
    assert reviews.seal_search("ref_certel#abc-123")["id"] == "ref_certel#abc-123"
    for term in ("SITI RAHAYU", "siti@example.com", "0812 9999 0001", "Siti"):
        assert reviews.seal_search(term)["id"] is None


@pytest.mark.django_db
def test_the_per_nik_limit_counts_through_the_nik_index(settings):
    from verification.submission import attempts_left_for_nik

    settings.ATTEMPTS_PER_NIK_PER_DAY = 2
    first = make_attempt(nik="3171234567890123", age=timedelta(0), browser="b")
    make_attempt(applicant=first.applicant, age=timedelta(0), browser="b")

    assert attempts_left_for_nik("3171234567890123", browser="b") == 0
    assert attempts_left_for_nik("3171234567890124", browser="b") == 2
    assert (
        Attempt.objects.filter(applicant__nik_digest=first.applicant.nik_digest).count()
        == 2
    )
