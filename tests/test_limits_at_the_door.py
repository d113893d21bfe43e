"""The limits on sends, as applicants and attackers meet them: per client address
whatever the cookies say, per browser and day, per NIK from one browser; a refusal
is the form again in the applicant's language with everything kept, and nothing in
it tells what anybody else sent or when."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
import requests
from django.test import Client
from django.utils import timezone

from onboarding.models import PendingPhoto
from tests.applying import details, ktp_bytes, selfie_bytes, submit
from tests.integrating import create_session, make_key, session_path
from tests.pages import error_of, form_fields, summary_of, text_of
from tests.reviewing import make_attempt
from verification import retention
from verification.lookups import address_digest
from verification.models import Attempt, ClientAddress

pytestmark = pytest.mark.django_db

VICTIM_NIK = "3171234567890123"
ADDRESS_REFUSAL = "Many applications have been sent from your network in the last hour"
ADDRESS_REFUSAL_ID = "Terlalu banyak permohonan dikirim dari jaringan Anda"


def browser(address: str = "127.0.0.1", language: str = "en") -> Client:
    """A browser with no cookies, from `address`."""
    return Client(headers={"accept-language": language}, REMOTE_ADDR=address)


def send(client: Client, **overrides):
    """The form and, if the review step appears, its send: the last response."""
    review = client.post("/register/", details(**overrides))
    fields = form_fields(review.content.decode())
    return client.post("/register/confirm/", fields) if fields else review


def nik(n: int) -> str:
    return f"31712345678{n:05d}"


def test_an_address_sends_its_hourly_attempts_whatever_its_cookies_say(settings):
    settings.VERIFICATIONS_PER_IP_PER_HOUR = 3
    answers = [send(browser(), identityId=nik(n)) for n in range(5)]

    assert [answer.status_code for answer in answers] == [302, 302, 302, 200, 200]
    assert Attempt.objects.count() == 3
    # The refusal comes on the form itself, before the review step.
    assert ADDRESS_REFUSAL in summary_of(
        browser().post("/register/", details(identityId=nik(9)))
    )
    # Another address is not held back by this one.
    assert submit(browser("203.0.113.9"), identityId=nik(7)).status_code == 302


def test_the_refusal_keeps_everything_typed_and_both_photos(settings):
    settings.VERIFICATIONS_PER_IP_PER_HOUR = 1
    submit(browser(), identityId=nik(1))
    late = browser()

    refused = late.post(
        "/register/", details(identityId=nik(2), fullName="Dewi  Lestari")
    )

    html = refused.content.decode()
    assert ADDRESS_REFUSAL in summary_of(refused)
    assert "try again later, at the latest in an hour" in summary_of(refused)
    assert f'value="{nik(2)}"' in html
    assert 'value="Dewi  Lestari"' in html
    kept = {photo.token for photo in PendingPhoto.objects.all()}
    assert len(kept) == 2
    assert all(f'value="{token}"' in html for token in kept)
    assert Attempt.objects.count() == 1


def test_the_refusal_is_in_the_applicants_language(settings):
    settings.VERIFICATIONS_PER_IP_PER_HOUR = 1
    submit(browser(), identityId=nik(1))

    refused = browser(language="id").post("/register/", details(identityId=nik(2)))

    assert ADDRESS_REFUSAL_ID in summary_of(refused)


def test_a_send_past_the_limit_at_the_review_step_comes_back_as_the_form(settings):
    """The review step was shown while there was room; another device on the same
    address used the last place before the send."""
    settings.VERIFICATIONS_PER_IP_PER_HOUR = 1
    applicant = browser()
    review = applicant.post("/register/", details(identityId=nik(1)))
    fields = form_fields(review.content.decode())
    submit(browser(), identityId=nik(2))

    refused = applicant.post("/register/confirm/", fields)

    assert refused.status_code == 200
    assert ADDRESS_REFUSAL in summary_of(refused)
    assert f'value="{nik(1)}"' in refused.content.decode()
    assert PendingPhoto.objects.count() == 2  # still the applicant's drafts
    assert Attempt.objects.count() == 1


def test_behind_a_trusted_proxy_each_client_address_has_its_own_count(settings):
    settings.VERIFICATIONS_PER_IP_PER_HOUR = 1
    settings.TRUST_X_FORWARDED_FOR = True

    def via_proxy(client_address: str) -> Client:
        return Client(
            headers={"accept-language": "en", "x-forwarded-for": client_address},
            REMOTE_ADDR="10.0.0.2",
        )

    first = submit(via_proxy("198.51.100.1"), identityId=nik(1))
    second = submit(via_proxy("198.51.100.2"), identityId=nik(2))
    again = via_proxy("198.51.100.1").post("/register/", details(identityId=nik(3)))

    assert (first.status_code, second.status_code) == (302, 302)
    assert ADDRESS_REFUSAL in summary_of(again)


def test_the_address_is_stored_only_as_a_keyed_digest(settings):
    submit(browser("203.0.113.7"), identityId=nik(1))

    attempt = Attempt.objects.get()
    assert attempt.client_digest == address_digest("203.0.113.7")
    assert "203.0.113.7" not in attempt.client_digest
    assert list(ClientAddress.objects.values_list("digest", flat=True)) == [
        address_digest("203.0.113.7")
    ]


def test_a_day_on_the_retention_pass_removes_the_address_digests():
    submit(browser("203.0.113.7"), identityId=nik(1))
    fresh = submit(browser("203.0.113.8"), identityId=nik(2))
    day_ago = timezone.now() - timedelta(hours=25)
    old = Attempt.objects.get(client_digest=address_digest("203.0.113.7"))
    Attempt.objects.filter(pk=old.pk).update(created_at=day_ago)
    ClientAddress.objects.filter(digest=old.client_digest).update(last_sent_at=day_ago)

    retention.apply_retention()

    assert Attempt.objects.get(pk=old.pk).client_digest == ""
    assert list(ClientAddress.objects.values_list("digest", flat=True)) == [
        address_digest("203.0.113.8")
    ]
    assert fresh.status_code == 302


def test_an_hour_later_the_address_may_send_again(settings):
    settings.VERIFICATIONS_PER_IP_PER_HOUR = 1
    submit(browser(), identityId=nik(1))
    Attempt.objects.update(created_at=timezone.now() - timedelta(minutes=61))

    assert submit(browser(), identityId=nik(2)).status_code == 302


def test_the_integrators_form_counts_against_the_same_address(settings, client):
    settings.VERIFICATIONS_PER_IP_PER_HOUR = 1
    submit(browser(), identityId=nik(1))
    key = make_key()
    url = create_session(client, key.key).json()["url"]
    applicant = browser()
    form = applicant.get(session_path(url)).content.decode()
    code = re.search(r'name="session" value="([^"]+)"', form)
    assert code, "the integrator's form did not appear"

    refused = applicant.post(
        "/register/", details(identityId=nik(2), session=code.group(1))
    )

    # In the session's language, Bahasa Indonesia.
    assert ADDRESS_REFUSAL_ID in summary_of(refused)
    assert f'value="{code.group(1)}"' in refused.content.decode()
    assert Attempt.objects.count() == 1


# The per-browser day --------------------------------------------------------------


def test_a_browsers_cap_counts_todays_applications_only(settings):
    settings.ATTEMPTS_PER_SESSION = 1
    applicant = browser()
    submit(applicant, identityId=nik(1))
    refused = applicant.post("/register/", details(identityId=nik(2)))
    assert "You have sent 1 applications from this browser today" in summary_of(refused)

    yesterday = timezone.localtime().replace(hour=0, minute=0) - timedelta(minutes=1)
    Attempt.objects.update(created_at=yesterday)

    assert submit(applicant, identityId=nik(2)).status_code == 302


# Targeted lock-out ----------------------------------------------------------------


def test_someone_who_knows_a_victims_nik_cannot_use_up_the_victims_attempts(
    settings,
):
    settings.ATTEMPTS_PER_NIK_PER_DAY = 2
    # The attacker, from another address and from the victim's own network, in
    # fresh browsers and in one that keeps its cookies, until it is refused.
    persistent = browser("198.51.100.66")
    for _ in range(2):
        assert submit(persistent, identityId=VICTIM_NIK).status_code == 302
    for address in ("198.51.100.66", "127.0.0.1", "127.0.0.1"):
        assert submit(browser(address), identityId=VICTIM_NIK).status_code == 302
    refused = persistent.post("/register/", details(identityId=VICTIM_NIK))
    assert "You have sent this NIK 2 times from this browser" in text_of(refused)

    victim = submit(browser("127.0.0.1"), identityId=VICTIM_NIK)

    assert victim.status_code == 302
    assert Attempt.objects.count() == 6


def test_no_refusal_says_when_a_nik_was_used_or_when_it_frees_up(settings):
    settings.ATTEMPTS_PER_NIK_PER_DAY = 1
    applicant = browser()
    submit(applicant, identityId=VICTIM_NIK)

    refused = applicant.post("/register/", details(identityId=VICTIM_NIK))

    message = error_of(refused, "identityId")
    assert message.startswith("You have sent this NIK 1 times from this browser")
    assert not re.search(r"\d{1,2}[:.]\d{2}|after|until", message), message


def test_a_nik_used_elsewhere_tells_a_new_browser_nothing(settings):
    settings.ATTEMPTS_PER_NIK_PER_DAY = 1
    for n in range(3):
        make_attempt(nik=VICTIM_NIK, browser=f"elsewhere-{n}", age=timedelta(0))

    review = browser().post("/register/", details(identityId=VICTIM_NIK))

    # The review step, as for a NIK never seen: nothing says it was used.
    assert form_fields(review.content.decode())
    assert "NIK" not in summary_of(review)


# Two sends at once ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_sends_at_once_from_one_address_cannot_both_slip_under_the_limit(
    live_server, settings
):
    settings.VERIFICATIONS_PER_IP_PER_HOUR = 1
    ready = []
    for n in range(2):
        session = requests.Session()
        session.headers["Accept-Language"] = "en"
        session.get(live_server.url + "/register/", timeout=30)
        values = details(identityId=nik(n))
        files = {
            "faceImage": ("selfie.jpg", selfie_bytes(), "image/jpeg"),
            "identityImage": ("ktp.jpg", ktp_bytes(), "image/jpeg"),
        }
        fields = {k: v for k, v in values.items() if k not in files}
        fields["csrfmiddlewaretoken"] = session.cookies["csrftoken"]
        review = session.post(
            live_server.url + "/register/", data=fields, files=files, timeout=60
        )
        ready.append((session, form_fields(review.text)))
        assert ready[-1][1], "the review step did not appear"
    start = threading.Barrier(2)
    answers: list[requests.Response] = []

    def send(session: requests.Session, fields: dict[str, str]) -> None:
        start.wait()
        answers.append(
            session.post(
                live_server.url + "/register/confirm/",
                data=fields,
                allow_redirects=False,
                timeout=60,
            )
        )

    threads = [threading.Thread(target=send, args=pair) for pair in ready]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answer.status_code for answer in answers) == [200, 302]
    (refused,) = [answer for answer in answers if answer.status_code == 200]
    assert ADDRESS_REFUSAL in refused.text
    assert Attempt.objects.count() == 1
