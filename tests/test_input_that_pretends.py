"""Contacts and names made to look like something else are refused on the form,
with the reason beside the field in the applicant's language, and nothing else
they typed is lost; an honest internationalised address is kept in one spelling."""

from __future__ import annotations

import pytest
from django.test import Client

from onboarding.models import PendingPhoto
from tests.applying import details
from tests.pages import error_of, form_fields
from verification.models import Attempt

pytestmark = pytest.mark.django_db

MESSAGES = {
    ("emailAddress", "en"): "mixes letters of different alphabets",
    ("emailAddress", "id"): "mencampur huruf dari abjad yang berbeda",
    ("fullName", "en"): "more accent marks on one letter than a name can have",
    ("fullName", "id"): "lebih banyak tanda aksen pada satu huruf",
}
PRETENDING = {
    # A Cyrillic "a" (U+0430) in "example".
    "emailAddress": "budi@ex\u0430mple.id",
    # The name: A, 98 combining acute accents, B.
    "fullName": "A" + "\u0301" * 98 + "B",
}


@pytest.mark.parametrize("language", ["en", "id"])
@pytest.mark.parametrize("field", ["emailAddress", "fullName"])
def test_a_pretending_value_is_refused_beside_its_field_and_nothing_is_lost(
    field, language
):
    applicant = Client(headers={"accept-language": language})

    page = applicant.post("/register/", details(**{field: PRETENDING[field]}))

    assert page.status_code == 200
    assert MESSAGES[(field, language)] in error_of(page, field)
    kept = form_fields(page.content.decode(), "data-register")
    typed = details()
    for other in ("identityId", "fullName", "birthDate", "emailAddress", "phoneNumber"):
        if other != field:
            assert kept[other] == typed[other]
    assert kept[field] == PRETENDING[field]
    assert kept["facePhoto"]
    assert kept["identityPhoto"]
    assert PendingPhoto.objects.count() == 2
    assert not Attempt.objects.exists()


def test_an_internationalised_domain_reaches_the_review_step_in_its_ascii_form():
    applicant = Client(headers={"accept-language": "en"})

    review = applicant.post("/register/", details(emailAddress="Budi@Bücher.ID"))

    assert form_fields(review.content.decode())["emailAddress"] == (
        "Budi@xn--bcher-kva.id"
    )
