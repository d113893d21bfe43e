"""The headers that keep a browser safe on every page (the applicant pages, the admin
and /healthz) and the flags of every cookie: in the embedded default, and in
production mode, where HTTPS adds HSTS and secure cookies.

Production mode is its own process (settings are read once per process) with a
migrated database of its own, asked once for the whole module."""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client

from tests.headers import (
    PROBE_HOST,
    csp_directives,
    inline_code,
    permissions,
    seen,
)
from tests.production import PRODUCTION_ENV, manage
from tests.reviewing import admin_url, make_attempt, make_user

if TYPE_CHECKING:
    # What the test client returns, as django-stubs names it.
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db

APPLICANT_PAGES = [
    "/",
    "/privacy/",
    "/register/",
    "/status/link/not-a-token/",  # an expired or tampered link (410)
    "/register/photo/not-a-token/",  # 404
]
ADMIN_PAGES = ["/admin/login/", "/admin/", "attempt list", "attempt page"]
EVERY_PAGE = [*APPLICANT_PAGES, *ADMIN_PAGES, "/healthz"]


@pytest.fixture
def reviewer() -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(make_user("rita", reviewer=True))
    return client


def open_page(page: str, reviewer: Client) -> TestResponse:
    """`page` as a browser gets it; the admin's as a logged-in reviewer."""
    if page == "attempt list":
        return reviewer.get(admin_url("attempt_changelist"))
    if page == "attempt page":
        return reviewer.get(admin_url("attempt_change", make_attempt().pk))
    if page.startswith("/admin/") and page != "/admin/login/":
        return reviewer.get(page)
    return Client().get(page)


def assert_the_policies(page: dict[str, Any]) -> None:
    headers = page["headers"]
    csp = csp_directives(headers["content-security-policy"])
    # Scripts and styles only from the site's own files: nothing inline, no eval,
    # no nonce or hash that would let an injected one run.
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["connect-src"] == ["'self'"]
    # Camera frames and photo previews are blob: URLs the page makes itself.
    assert csp["img-src"] == ["'self'", "data:", "blob:"]
    assert csp["media-src"] == ["'self'", "blob:"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    # Status and hand-off links carry tokens: no other site sees them as a referrer.
    assert headers["referrer-policy"] == "same-origin"
    policy = permissions(headers["permissions-policy"])
    assert policy["camera"] == "(self)"
    assert {feature: policy[feature] for feature in policy if feature != "camera"} == {
        "microphone": "()",
        "geolocation": "()",
        "payment": "()",
    }


@pytest.mark.parametrize("page", EVERY_PAGE)
def test_every_page_allows_only_its_own_scripts_no_framing_and_the_camera_for_itself(
    page, reviewer
):
    assert_the_policies(seen(open_page(page, reviewer)))


@pytest.mark.parametrize("page", [*APPLICANT_PAGES, *ADMIN_PAGES])
def test_no_page_holds_a_script_or_style_the_policy_would_block(page, reviewer):
    response = open_page(page, reviewer)

    assert response["Content-Type"].startswith("text/html")
    assert inline_code(response.content.decode()) == []


def test_the_check_for_inline_code_finds_what_the_policy_blocks():
    page = (
        '<script src="/static/js/status.js"></script>'
        '<script type="application/json">{"limits": 1}</script>'
        "<script>alert(1)</script>"
        '<button onclick="go()" style="color: red">Go</button>'
        '<a href="javascript:go()">Go</a><style>p {}</style>'
    )

    assert len(inline_code(page)) == 5


@pytest.mark.parametrize("page", ["/register/", "/admin/login/"])
def test_the_session_and_csrf_cookies_are_out_of_reach_of_scripts_and_other_sites(
    page,
):
    cookies = seen(Client().get(page))["cookies"]

    assert "csrftoken" in cookies
    if page == "/register/":  # the applicant's browser id lives in the session
        assert "sessionid" in cookies
    for flags in cookies.values():
        assert flags["httponly"]
        assert flags["samesite"] == "Lax"


def test_logging_in_to_the_admin_sets_the_same_cookie_flags(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    make_user("rita", reviewer=True, password="a-long-password-for-rita")

    response = Client().post(
        "/admin/login/?next=/admin/",
        {"username": "rita", "password": "a-long-password-for-rita"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    cookies = seen(response)["cookies"]
    assert {"sessionid", "csrftoken"} <= set(cookies)
    for flags in cookies.values():
        assert flags["httponly"]
        assert flags["samesite"] == "Lax"


def test_healthz_sets_no_cookie():
    assert seen(Client().get("/healthz"))["cookies"] == {}


def test_the_embedded_default_over_plain_http_sends_no_hsts_and_no_secure_cookie():
    """It runs on http://127.0.0.1: HSTS would lock the browser out of it and a
    secure cookie would never come back."""
    page = seen(Client().get("/register/"))

    assert "strict-transport-security" not in page["headers"]
    assert page["cookies"]
    assert not any(flags["secure"] for flags in page["cookies"].values())


# Production mode ------------------------------------------------------------------

PRODUCTION_PAGES = [
    "/",
    "/privacy/",
    "/register/",
    "/register/photo/not-a-token/",
    "/healthz",
    "/admin/login/",
    "/admin/login/ (sent)",
    "/admin/ (before the code)",
    "/admin/two-step/",
    "/admin/two-step/ (sent)",
    "/admin/",
]


@pytest.fixture(scope="module")
def production(_migrated_production_database, tmp_path_factory) -> dict[str, Any]:
    """What production mode sends, by page (see tests.headers.production_probe)."""
    directory = tmp_path_factory.mktemp("production-headers")
    database = directory / "db.sqlite3"
    shutil.copyfile(_migrated_production_database, database)
    env = {**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{database}"}
    script = (
        "import json; from tests.headers import production_probe; "
        "print(json.dumps(production_probe()))"
    )

    result = manage("shell", "-v", "0", "-c", script, env=env, tmp_path=directory)

    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_production_answers_every_page_it_was_asked_for(production):
    statuses = {page: production[page]["status"] for page in PRODUCTION_PAGES}

    assert statuses == {
        "/": 200,
        "/privacy/": 200,
        "/register/": 200,
        "/register/photo/not-a-token/": 404,
        "/healthz": 200,
        "/admin/login/": 200,
        "/admin/login/ (sent)": 302,
        "/admin/ (before the code)": 302,
        "/admin/two-step/": 200,
        "/admin/two-step/ (sent)": 302,
        "/admin/": 200,
    }


@pytest.mark.parametrize("page", PRODUCTION_PAGES)
def test_production_sends_the_same_policies_on_every_page(production, page):
    assert_the_policies(production[page])


@pytest.mark.parametrize("page", PRODUCTION_PAGES)
def test_production_tells_browsers_to_use_https_only_for_a_year(production, page):
    hsts = production[page]["headers"]["strict-transport-security"]

    assert hsts == "max-age=31536000; includeSubDomains"


def test_production_marks_every_cookie_secure_http_only_and_same_site(production):
    applicant = production["/register/"]["cookies"]
    reviewer = production["/admin/login/ (sent)"]["cookies"]

    assert {"sessionid", "csrftoken"} <= set(applicant)
    assert {"sessionid", "csrftoken"} <= set(reviewer)
    for flags in [*applicant.values(), *reviewer.values()]:
        assert flags == {"httponly": True, "secure": True, "samesite": "Lax"}
    assert production["/healthz"]["cookies"] == {}


def test_production_sends_plain_http_to_https_but_answers_healthz_as_it_is(
    production,
):
    page = production["http:/"]
    health = production["http:/healthz"]

    assert page["status"] == 301
    assert page["headers"]["location"] == f"https://{PROBE_HOST}/"
    assert health["status"] == 200  # a load balancer's check over plain HTTP
    # HSTS only means something over HTTPS; browsers ignore it on plain HTTP.
    assert "strict-transport-security" not in health["headers"]
