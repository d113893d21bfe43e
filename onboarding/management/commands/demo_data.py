"""Fill a local database with demo attempts in every state, through the real flow.

`manage.py demo_data` starts the Kredibel sandbox in this process on a free port,
points the client at it, fills in the applicant's form with drawn photos and sends
it (`RegistrationForm.submit`, as the review step does), runs the real worker here
in batch mode (`manage.py worker --batch`) to verify them and send their emails, and
records reviewers' decisions through `verification.reviews.decide`. Nothing is
written to the tables directly.

What it makes (16 attempts): 5 verified, one not_verified for each kind the sandbox
documents (6), 2 waiting for review (one taken by the reviewer), 1 approved,
1 rejected and 1 failed (the sandbox answering 503 to every try). The review cases
share emails and phone numbers with verified applicants, as real ones do.

Names begin with DEMO, emails are at example.com, NIKs are the sandbox's documented
ones or begin with 99 (no such province). Outcome emails are discarded unless
--send-emails is given. Production mode refuses to run it.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings

from onboarding.demo_photos import Look, ktp_jpeg, selfie_jpeg
from onboarding.forms import RegistrationForm
from verification import reviews
from verification.addrport import base_url
from verification.models import Attempt
from verification.submission import attempts_left_for_nik

# The sandbox's documented NIKs (shared/kredibel/CONTRACT.md).
NOT_VERIFIED_NIKS = {
    "identityId": "1234567890111111",
    "fullName": "1234567890111112",
    "birthDate": "1234567890111113",
    "faceImage": "1234567890111114",
    "identityImage": "1234567890111115",
    "liveness_check": "1234567890111119",
}
EMAIL_SHARED_NIK = "1234567890111116"
PHONE_SHARED_NIK = "1234567890111117"
BOTH_SHARED_NIK = "1234567890111118"
# How many attempts each documented NIK makes in one run.
NIK_BUDGET = {
    **dict.fromkeys(NOT_VERIFIED_NIKS.values(), 1),
    EMAIL_SHARED_NIK: 1,
    PHONE_SHARED_NIK: 2,
    BOTH_SHARED_NIK: 1,
}
# The browser every demo attempt is sent from, and the limits of this run: all of
# them from one browser today, the calls to this process's own sandbox outside the
# site's daily budget. (The per-NIK limit stays: the check above keeps to it.)
DEMO_BROWSER = "demo-data"
DEMO_LIMITS = {"ATTEMPTS_PER_SESSION": 10**6, "DAILY_VERIFICATION_BUDGET": 0}
# Loggers that narrate every request, task and expected failure, and the level
# each is held at unless asked for more with -v 2.
CHATTY_LOGGERS = {
    "django.server": logging.CRITICAL,
    "django_tasks_db": logging.ERROR,
    "django.tasks": logging.ERROR,
    "verification.kredibel": logging.ERROR,
    "verification.verifying": logging.ERROR,
    "verification.gate": logging.ERROR,
    "verification.worker": logging.ERROR,
    "verification.durable": logging.ERROR,
    "verification.reviews": logging.ERROR,
}


@dataclass(frozen=True)
class Person:
    name: str
    nik: str
    birth_date: date
    email: str
    phone: str


def demo_nik(rng: random.Random) -> str:
    """A NIK that is obviously not real: province code 99 does not exist."""
    return "99" + "".join(rng.choice("0123456789") for _ in range(14))


class Command(BaseCommand):
    help = (
        "Fill a local database with demo attempts in every state, through the real "
        "flow against an in-process Kredibel sandbox. Refused in production mode."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reviewer",
            default="reviewer",
            help="the user who takes and decides the demo review cases (default "
            "'reviewer'; created with demo_reviewer when missing)",
        )
        parser.add_argument(
            "--send-emails",
            action="store_true",
            help="send the applicants' outcome emails through the configured mailer "
            "(by default they are discarded)",
        )
        parser.add_argument(
            "--seed", type=int, help="seed for names' NIKs and looks, to repeat a run"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "demo_data is for local installs; production mode refuses it."
            )
        self.rng = random.Random(options["seed"])  # noqa: S311 - demo data, not secrets
        self._check_budget()
        reviewer = self._reviewer(options["reviewer"])
        mail = (
            {}
            if options["send_emails"]
            else {
                "MAILERS": {
                    "default": {
                        "BACKEND": "django.core.mail.backends.dummy.EmailBackend",
                        "OPTIONS": {},
                    }
                }
            }
        )
        quiet = options["verbosity"] < 2
        # The demo NIKs begin with 99, a province that does not exist.
        with (
            override_settings(**mail, **DEMO_LIMITS, NIK_STRUCTURE_CHECK="warn"),
            _quiet_loggers(quiet),
        ):
            made = self._make_everything(reviewer)
        self._report(made, reviewer)

    # Preconditions ----------------------------------------------------------------

    def _check_budget(self) -> None:
        for nik, needed in NIK_BUDGET.items():
            left = attempts_left_for_nik(nik, browser=DEMO_BROWSER)
            if left < needed:
                raise CommandError(
                    f"The sandbox NIK {nik} has {left} of its daily attempts left "
                    f"and this run needs {needed} (ATTEMPTS_PER_NIK_PER_DAY). Run it "
                    "again once its earlier attempts are a day old, or on a fresh "
                    "database."
                )

    def _reviewer(self, username: str) -> User:
        users = get_user_model()
        if (
            username == "reviewer"
            and not users.objects.filter(username=username).exists()
        ):
            call_command("demo_reviewer", stdout=self.stdout)
        user = users.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}.")
        if not user.has_perm(reviews.DECIDE_PERMISSION):
            raise CommandError(
                f"{username!r} may not decide reviews: add them to the "
                "'Compliance reviewers' group."
            )
        return user

    # The flow --------------------------------------------------------------------

    def _make_everything(self, reviewer: User) -> list[Attempt]:
        people = self._verified_people()
        made: list[Attempt] = []
        with _sandbox() as url, _provider(url):
            self._say("Verified applicants...")
            made += [self._submit(person) for person in people]
            self._say("Applicants the sandbox does not verify...")
            made += [
                self._submit(self._person(name, nik))
                for name, nik in zip(
                    NOT_VERIFIED_NAMES, NOT_VERIFIED_NIKS.values(), strict=True
                )
            ]
            run_due_tasks()
            made += self._review_cases(people, reviewer)
        with (
            _sandbox(failure_rate=1, failure_status=503) as url,
            _provider(url),
        ):
            self._say("An applicant whose check fails (provider answering 503)...")
            made.append(self._submit(self._person("DEMO EKO PRASETYO")))
            run_due_tasks()
        for attempt in made:
            attempt.refresh_from_db()
        return made

    def _review_cases(self, people: list[Person], reviewer: User) -> list[Attempt]:
        andi, sari, bayu, dewi, rudi = people
        self._say("Applicants whose email or phone belongs to another NIK...")
        joko = self._person("DEMO JOKO SUSANTO", PHONE_SHARED_NIK, phone=sari.phone)
        joko_first = self._submit(joko)
        run_due_tasks()
        reviews.decide(
            attempt=joko_first,
            reviewer=reviewer,
            decision="rejected",
            reason="contact_of_another_person",
            note="The number is registered to DEMO SARI WULANDARI (verified). The "
            "applicant could not explain why he uses it.",
            applicant_message="The mobile number you gave belongs to someone else. "
            "Please apply again with your own number.",
        )
        joko_again = self._submit(
            Person(joko.name, joko.nik, joko.birth_date, joko.email, rudi.phone)
        )
        run_due_tasks()
        reviews.decide(
            attempt=joko_again,
            reviewer=reviewer,
            decision="approved",
            reason="contact_reassigned",
            note="New number was DEMO RUDI HARTONO's until last year; Rudi confirmed "
            "by phone that he gave it up.",
            applicant_message="Thank you for applying again with your own number.",
        )
        fitri = self._submit(
            self._person("DEMO FITRI HANDAYANI", EMAIL_SHARED_NIK, email=andi.email)
        )
        rina = self._submit(
            self._person(
                "DEMO RINA KURNIAWATI",
                BOTH_SHARED_NIK,
                email=bayu.email,
                phone=dewi.phone,
            )
        )
        run_due_tasks()
        reviews.take_case(attempt=rina, reviewer=reviewer)
        return [joko_first, joko_again, fitri, rina]

    def _verified_people(self) -> list[Person]:
        return [self._person(name) for name in VERIFIED_NAMES]

    def _person(
        self, name: str, nik: str | None = None, *, email: str = "", phone: str = ""
    ) -> Person:
        handle = name.removeprefix("DEMO ").split()[0].lower()
        return Person(
            name=name,
            nik=nik or demo_nik(self.rng),
            birth_date=date(self.rng.randint(1960, 2004), self.rng.randint(1, 12), 1),
            email=email or f"{handle}.{self.rng.randint(100, 999)}@example.com",
            phone=phone or f"628120{self.rng.randint(0, 9_999_999):07d}",
        )

    def _submit(self, person: Person) -> Attempt:
        look = Look.pick(self.rng)
        ktp = ktp_jpeg(
            look,
            nik=person.nik,
            name=person.name,
            birth=f"{person.birth_date:%d-%m-%Y}",
        )
        form = RegistrationForm(
            {
                "identityId": person.nik,
                "fullName": person.name,
                "birthDate": person.birth_date.isoformat(),
                "emailAddress": person.email,
                "phoneNumber": person.phone,
                "consent": "on",
                "submission": str(uuid.uuid4()),
                # The review step's confirmations: a demo NIK's encoded date is
                # not the birth date, and a drawn face is no face to a detector.
                "confirmBirthDate": "on",
                "acceptPhotoWarnings": "on",
            },
            {
                "faceImage": SimpleUploadedFile("selfie.jpg", selfie_jpeg(look)),
                "identityImage": SimpleUploadedFile("ktp.jpg", ktp),
            },
            browser=DEMO_BROWSER,
            confirming=True,
        )
        if not form.is_valid():
            raise CommandError(f"The demo form was refused: {form.errors.as_text()}")
        attempt, _ = form.submit(language="id")
        return attempt

    # Output ------------------------------------------------------------------------

    def _say(self, message: str) -> None:
        self.stdout.write(message)

    def _report(self, made: list[Attempt], reviewer: User) -> None:
        counts = Counter(attempt.status for attempt in made)
        self.stdout.write(self.style.SUCCESS(f"Made {len(made)} demo attempts:"))
        for value, label in Attempt.Status.choices:
            if counts[value]:
                self.stdout.write(f"  {label}: {counts[value]}")
        self.stdout.write(
            f"Log in at {settings.SITE_URL}/admin/ as {reviewer.get_username()!r} and "
            "open the review queue."
        )


VERIFIED_NAMES = (
    "DEMO ANDI PRATAMA",
    "DEMO SARI WULANDARI",
    "DEMO BAYU NUGROHO",
    "DEMO DEWI LESTARI",
    "DEMO RUDI HARTONO",
)
NOT_VERIFIED_NAMES = (
    "DEMO AGUS SALIM",
    "DEMO MAYA SARI",
    "DEMO HENDRA WIJAYA",
    "DEMO LINA MARLINA",
    "DEMO YUSUF HAKIM",
    "DEMO INDAH PERMATA",
)


@contextmanager
def _sandbox(**faults: Any) -> Iterator[str]:
    """The sandbox served over HTTP on a free local port, for the block's length,
    with the given faults; yields its base URL."""
    # Imported here: the sandbox is a local tool that production never loads.
    from verification.sandbox.answers import Sandbox
    from verification.sandbox.faults import Faults
    from verification.sandbox.server import make_server

    sandbox = Sandbox(api_key=settings.SANDBOX_API_KEY, faults=Faults(**faults))
    server = make_server("127.0.0.1", 0, sandbox)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base_url("127.0.0.1", server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def _provider(url: str) -> Iterator[None]:
    # Changing KREDIBEL_* settings makes get_client() build a new client for them.
    # Retries without waiting, so that a failing provider is given up on in one go.
    with override_settings(
        KREDIBEL_BASE_URL=url,
        KREDIBEL_API_KEY=settings.SANDBOX_API_KEY,
        VERIFY_RETRY_BASE_SECONDS=0,
        VERIFY_UNKNOWN_DELAY_SECONDS=0,
        # Fewer tries than the circuit breaker allows failures: the failing
        # provider fails its attempt instead of holding it queued.
        VERIFY_MAX_TRIES=3,
    ):
        yield


def run_due_tasks() -> None:
    """Everything due, through the real worker, in this process."""
    call_command("worker", "--batch", verbosity=0)


@contextmanager
def _quiet_loggers(quiet: bool) -> Iterator[None]:
    held = CHATTY_LOGGERS if quiet else {}
    loggers = {name: logging.getLogger(name) for name in held}
    levels = {name: logger.level for name, logger in loggers.items()}
    for name, logger in loggers.items():
        logger.setLevel(held[name])
    try:
        yield
    finally:
        for name, logger in loggers.items():
            logger.setLevel(levels[name])
