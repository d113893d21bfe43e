"""The site's icon is found on every page, and the back office says whose it is:
the admin names the product, its login page has a heading, its search box a label."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders

from tests.pages import matched, text_of
from tests.reviewing import admin_url, make_user

pytestmark = pytest.mark.django_db


def test_favicon_ico_leads_to_the_sites_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.ico"
    path = finders.find("favicon.ico")
    assert isinstance(path, str)
    with open(path, "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO file


def test_every_page_names_its_icon(client):
    html = client.get("/").content.decode()

    assert '<link rel="icon" href="/static/favicon.ico"' in html


def test_the_admin_names_the_product_not_django(applicant):
    login = applicant.get("/admin/login/")

    assert "Django administration" not in text_of(login)
    assert "e-Certificate onboarding: reviewer workspace" in text_of(login)
    assert re.search(r"<h1>Log in</h1>", login.content.decode())


def test_the_attempt_search_box_has_a_label_in_words(applicant):
    applicant.force_login(make_user("dewi", reviewer=True))

    html = applicant.get(admin_url("attempt_changelist")).content.decode()

    label = matched(r'<label for="searchbar">(.*?)</label>', html, 1, re.S)
    assert re.search(r'<img [^>]*alt=""', label)
    assert "Search attempts" in label
