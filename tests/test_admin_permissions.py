"""Who may open what in the reviewer workspace: anonymous visitors, staff outside the
reviewers' group, reviewers and superusers, on every admin page and photo URL,
including ids of attempts they were not shown."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from tests.reviewing import (
    REVIEWERS_GROUP,
    admin_url,
    make_attempt,
    make_user,
    tiny_jpeg,
)
from verification import reviews
from verification.models import ImageAccess, ReviewDecision

pytestmark = pytest.mark.django_db

NIK = "3171234567890123"
MISSING_ID = 999_999


@pytest.fixture(autouse=True)
def _english(client):
    """The admin in English, the language the assertions are written in."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def case():
    """A needs_review attempt with photos, and one decided the reviewers' way."""
    attempt = make_attempt(nik=NIK, images=True)
    decided = make_attempt(images=True)
    reviews.decide(
        attempt=decided,
        reviewer=make_user("lead", reviewer=True),
        decision="approved",
        note="Same household.",
    )
    return attempt


def client_for(role: str) -> Client:
    client = Client(headers={"accept-language": "en"})
    if role == "staff":
        client.force_login(make_user("staff"))
    elif role == "reviewer":
        client.force_login(make_user("rita", reviewer=True))
    elif role == "superuser":
        client.force_login(make_user("root", superuser=True))
    return client


def pages(attempt) -> dict[str, str]:
    decision = ReviewDecision.objects.get()
    return {
        "index": "/admin/",
        "attempt list": admin_url("attempt_changelist"),
        "attempt page": admin_url("attempt_change", attempt.pk),
        "review queue": admin_url("reviewcase_changelist"),
        "applicant list": admin_url("applicant_changelist"),
        "applicant page": admin_url("applicant_change", attempt.applicant_id),
        "decision list": admin_url("reviewdecision_changelist"),
        "decision page": admin_url("reviewdecision_change", decision.pk),
        "image access list": admin_url("imageaccess_changelist"),
        "selfie": admin_url("attempt_image", attempt.pk, "face"),
        "KTP photo": admin_url("attempt_image", attempt.pk, "identity"),
    }


OK, DENIED, LOGIN = 200, 403, "login"
EXPECTED = {
    #                     staff   reviewer superuser
    "index": (OK, OK, OK),
    "attempt list": (DENIED, OK, OK),
    "attempt page": (DENIED, OK, OK),
    "review queue": (DENIED, OK, OK),
    "applicant list": (DENIED, OK, OK),
    "applicant page": (DENIED, OK, OK),
    "decision list": (DENIED, OK, OK),
    "decision page": (DENIED, OK, OK),
    "image access list": (DENIED, DENIED, OK),
    "selfie": (DENIED, OK, OK),
    "KTP photo": (DENIED, OK, OK),
}
ROLES = ("staff", "reviewer", "superuser")


@pytest.mark.parametrize("page", EXPECTED)
def test_anonymous_visitors_are_sent_to_the_login_page(case, client, page):
    response = client.get(pages(case)[page])

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("page", EXPECTED)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_exactly_the_pages_its_work_needs(case, role, page):
    response = client_for(role).get(pages(case)[page])

    assert response.status_code == EXPECTED[page][ROLES.index(role)]


@pytest.mark.parametrize("role", ROLES)
def test_a_queue_entry_opens_its_attempt_page(case, role):
    response = client_for(role).get(admin_url("reviewcase_change", case.pk))

    if role == "staff":
        assert response.status_code == 403
    else:
        assert response.status_code == 302
        assert response["Location"] == admin_url("attempt_change", case.pk)


def test_staff_outside_the_group_get_the_same_refusal_for_any_guessed_photo_id(case):
    staff = client_for("staff")

    for attempt_id in (case.pk, case.pk + 1, MISSING_ID):
        for kind in ("face", "identity", "other"):
            response = staff.get(admin_url("attempt_image", attempt_id, kind))
            assert response.status_code == 403
    assert not ImageAccess.objects.exists()


@pytest.mark.parametrize("role", ["reviewer", "superuser"])
def test_a_photo_of_an_attempt_that_does_not_exist_is_not_found(case, role):
    response = client_for(role).get(admin_url("attempt_image", MISSING_ID, "face"))

    assert response.status_code == 404
    assert not ImageAccess.objects.exists()


@pytest.mark.parametrize("role", ["reviewer", "superuser"])
def test_an_attempt_page_for_a_guessed_id_shows_nothing(case, role):
    response = client_for(role).get(admin_url("attempt_change", MISSING_ID))

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_a_reviewer_sees_any_attempts_photo_and_each_view_is_recorded(case):
    other = make_attempt(images=True, status="verified")
    client = client_for("reviewer")

    face = client.get(admin_url("attempt_image", case.pk, "face"))
    ktp = client.get(admin_url("attempt_image", other.pk, "identity"))

    assert face.status_code == ktp.status_code == 200
    assert face.content == tiny_jpeg()
    assert face["Content-Type"] == "image/jpeg"
    assert "no-store" in face["Cache-Control"]
    assert face["X-Content-Type-Options"] == "nosniff"
    accesses = list(
        ImageAccess.objects.order_by("pk").values_list(
            "user__username", "attempt", "image"
        )
    )
    assert accesses == [("rita", case.pk, "face"), ("rita", other.pk, "identity")]


def test_photos_are_served_only_to_a_get(case):
    response = client_for("reviewer").post(admin_url("attempt_image", case.pk, "face"))

    assert response.status_code == 405
    assert not ImageAccess.objects.exists()


def test_staff_who_may_view_attempts_but_are_not_reviewers_see_no_photo(case, client):
    client.force_login(make_user("support", permissions=("verification.view_attempt",)))

    page = client.get(admin_url("attempt_change", case.pk))
    photo = client.get(admin_url("attempt_image", case.pk, "face"))

    assert page.status_code == 200
    assert "/image/" not in page.content.decode()
    assert "You do not have permission to see identity photos" in page.content.decode()
    assert NIK not in page.content.decode()
    assert "317123******0123" in page.content.decode()
    assert photo.status_code == 403


def test_a_reviewer_sees_both_photos_and_the_whole_nik_on_the_attempt_page(case):
    page = client_for("reviewer").get(admin_url("attempt_change", case.pk)).content

    assert admin_url("attempt_image", case.pk, "face").encode() in page
    assert admin_url("attempt_image", case.pk, "identity").encode() in page
    assert NIK.encode() in page


def test_the_attempt_list_shows_only_masked_niks(case):
    page = client_for("superuser").get(admin_url("attempt_changelist")).content

    assert b"317123******0123" in page
    assert NIK.encode() not in page


@pytest.mark.parametrize("role", ["reviewer", "superuser"])
def test_nobody_adds_changes_or_deletes_attempts_in_the_admin(case, role):
    client = client_for(role)

    assert client.get(admin_url("attempt_add")).status_code == 403
    assert client.get(admin_url("attempt_delete", case.pk)).status_code == 403
    assert client.post(admin_url("attempt_delete", case.pk)).status_code == 403
    edit = client.post(
        admin_url("attempt_change", case.pk),
        {"full_name": "SOMEONE ELSE", "status": "approved"},
    )
    assert edit.status_code == 403
    case.refresh_from_db()
    assert (case.full_name, case.status) != ("SOMEONE ELSE", "approved")
    assert (
        client.get(admin_url("applicant_delete", case.applicant_id)).status_code == 403
    )


@pytest.mark.parametrize("role", ["reviewer", "superuser"])
def test_nobody_edits_or_deletes_a_decision_or_an_image_access_in_the_admin(case, role):
    client = client_for(role)
    client.get(admin_url("attempt_image", case.pk, "face"))
    decision = ReviewDecision.objects.get()
    access = ImageAccess.objects.get()

    assert client.get(admin_url("reviewdecision_add")).status_code == 403
    changed = client.post(
        admin_url("reviewdecision_change", decision.pk), {"note": "Rewritten."}
    )
    assert changed.status_code == 403
    assert (
        client.post(admin_url("reviewdecision_delete", decision.pk)).status_code == 403
    )
    assert client.get(admin_url("imageaccess_add")).status_code == 403
    assert client.post(admin_url("imageaccess_delete", access.pk)).status_code == 403
    decision.refresh_from_db()
    assert decision.note == "Same household."
    assert ImageAccess.objects.count() == 1


def test_the_index_shows_the_review_dashboard_only_to_those_who_view_attempts(case):
    staff_index = client_for("staff").get("/admin/").content.decode()
    reviewer_index = client_for("reviewer").get("/admin/").content.decode()

    assert "Compliance review" not in staff_index
    assert "Compliance review" in reviewer_index
    assert "Open the review queue" in reviewer_index


@pytest.mark.parametrize("path", ["take", "release", "decide", "check"])
def test_staff_outside_the_group_cannot_take_or_decide_a_case(case, path):
    response = client_for("staff").post(
        admin_url(f"attempt_{path}", case.pk),
        {"decision": "approved", "note": "Looks fine."},
    )

    assert response.status_code == 403
    case.refresh_from_db()
    assert case.status == "needs_review"
    assert case.assigned_to is None


def test_the_reviewers_group_holds_just_what_the_work_needs():
    group = Group.objects.get(name=REVIEWERS_GROUP)

    assert set(group.permissions.values_list("content_type__model", "codename")) == {
        ("attempt", "view_attempt"),
        ("attempt", "decide_attempt"),
        ("attempt", "view_identity_images"),
        ("applicant", "view_applicant"),
        ("reviewcase", "view_reviewcase"),
        ("reviewdecision", "view_reviewdecision"),
        ("providercall", "view_providercall"),
    }
