"""What the applicant-facing form keeps between requests, before an attempt exists.

- A PendingPhoto is a prepared photo waiting for the rest of the form: kept across a
  validation error in another field, the review step, a "fix and resubmit" and a
  hand-off to a phone, so that nobody takes a selfie twice because of a typo.
- A Handoff carries a half-filled form from a desktop without a camera to a phone,
  through a signed, short-lived link.
- An EmailCode is the 6-digit code emailed to the applicant before the paid call
  (EMAIL_CODE_REQUIRED): only a form whose address was confirmed with it is sent.
  One client address (by its keyed digest) has at most EMAIL_CODES_PER_IP_PER_HOUR
  of them made in any hour, whatever addresses they go to.

All belong to one browser (a random id kept in the session). Photos are deleted once
sent; all are deleted when a day old (onboarding.tasks.purge_drafts). The photos
kept for one browser, and for one client address (by its keyed digest), are bounded
in number and bytes (DRAFTS_PER_BROWSER, DRAFT_BYTES_PER_BROWSER,
DRAFTS_PER_CLIENT_ADDRESS, DRAFT_BYTES_PER_CLIENT_ADDRESS): past a browser's bound its
oldest photos go; past an address's bound a new photo is refused. All are
encrypted at rest: the photos by the private storage, the hand-off's values (what was
typed) and the code's address by their fields; the code itself is kept only as a
keyed hash.
"""

from __future__ import annotations

import enum
import re
import secrets
import uuid
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, models, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _

from verification import tokens
from verification.fields import BlindIndexField, EncryptedCharField, EncryptedJSONField
from verification.lookups import email_digest
from verification.models import ClientAddress

HANDOFF_SALT = "onboarding.handoff"
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
DRAFT_LIFETIME = timedelta(days=1)


def new_token() -> str:
    return secrets.token_urlsafe(24)


PENDING_FOLDER = "pending"
ADDRESS_LIMIT_MESSAGE = _(
    "Too many photos have been sent from your internet connection in the last 24 "
    "hours. Please try again tomorrow."
)


def pending_photo_path(photo: PendingPhoto, filename: str) -> str:
    return f"{PENDING_FOLDER}/{photo.token}/{photo.kind}.jpg"


class PendingPhoto(models.Model):
    class Kind(models.TextChoices):
        FACE = "face", _("Selfie")
        IDENTITY = "identity", _("KTP photo")

    token = models.CharField(max_length=64, unique=True, default=new_token)
    browser = models.CharField(max_length=64, db_index=True)
    # The keyed digest of the client address it came from (lookups.address_digest).
    client = models.CharField(max_length=64, blank=True, db_index=True)
    kind = models.CharField(max_length=10, choices=Kind)
    image = models.FileField(upload_to=pending_photo_path)
    size = models.PositiveIntegerField(default=0)
    # Codes of the quality warnings it passed with (onboarding.quality).
    warnings = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("pending photo")
        verbose_name_plural = _("pending photos")

    def __str__(self) -> str:
        return f"{self.kind} {self.token[:6]}"

    @classmethod
    def keep(
        cls,
        *,
        browser: str,
        kind: str,
        data: bytes,
        warnings: Sequence[str] = (),
        client: str = "",
    ) -> PendingPhoto:
        """Keep a prepared photo for `browser`, sent from the address whose digest
        is `client`. Makes room within the browser's bounds by deleting its oldest
        photos (never the newest of the other kind, which the form may still
        hold); raises ValidationError ``drafts_limit`` when the address has no room
        left."""
        with transaction.atomic():
            cls._check_address(client, len(data))
            cls._make_room(browser, kind, len(data))
            photo = cls(
                browser=browser,
                client=client,
                kind=kind,
                size=len(data),
                warnings=list(warnings),
            )
            photo.image.save(f"{kind}.jpg", ContentFile(data), save=False)
            photo.save()
        return photo

    @classmethod
    def kept(cls) -> models.QuerySet[PendingPhoto]:
        return cls.objects.filter(created_at__gte=timezone.now() - DRAFT_LIFETIME)

    @classmethod
    def _check_address(cls, client: str, size: int) -> None:
        if not client:
            return
        used = cls.kept().filter(client=client).aggregate(n=Count("id"), b=Sum("size"))
        if (
            used["n"] >= settings.DRAFTS_PER_CLIENT_ADDRESS
            or (used["b"] or 0) + size > settings.DRAFT_BYTES_PER_CLIENT_ADDRESS
        ):
            raise ValidationError(ADDRESS_LIMIT_MESSAGE, code="drafts_limit")

    @classmethod
    def _make_room(cls, browser: str, kind: str, size: int) -> None:
        mine = list(cls.kept().filter(browser=browser).order_by("created_at", "id"))
        newest_other = [p for p in mine if p.kind != kind][-1:]
        count = len(mine) + 1
        total = sum(p.size for p in mine) + size
        for photo in mine:
            if (
                count <= settings.DRAFTS_PER_BROWSER
                and total <= settings.DRAFT_BYTES_PER_BROWSER
            ):
                break
            if photo in newest_other:
                continue
            photo.discard()
            count -= 1
            total -= photo.size

    @classmethod
    def find(
        cls, token: str, *, browser: str, kind: str | None = None
    ) -> PendingPhoto | None:
        """The browser's own photo under `token`, if still kept; None otherwise."""
        if not TOKEN_PATTERN.fullmatch(token or "") or not browser:
            return None
        photos = cls.objects.filter(
            token=token,
            browser=browser,
            created_at__gte=timezone.now() - DRAFT_LIFETIME,
        )
        if kind:
            photos = photos.filter(kind=kind)
        return photos.first()

    def read(self) -> bytes:
        with self.image.open("rb") as f:
            return f.read()

    def discard(self) -> None:
        # The row first: a file left by a process that dies in between is an
        # orphan that purge_old removes; a row without its file would be a photo
        # the form offers and cannot read.
        name, storage = self.image.name, self.image.storage
        self.delete()
        if name:
            storage.delete(name)

    @classmethod
    def purge_old(cls) -> int:
        """Delete the photos a day old, and any folder of photos whose row is gone
        (a process that died between writing the file and its row)."""
        cutoff = timezone.now() - DRAFT_LIFETIME
        old = cls.objects.filter(created_at__lt=cutoff)
        count = 0
        for photo in old.iterator():
            photo.discard()
            count += 1
        return count + cls._purge_orphans(cutoff)

    @classmethod
    def _purge_orphans(cls, cutoff) -> int:
        storage = PendingPhoto.image.field.storage
        try:
            folders, _ = storage.listdir(PENDING_FOLDER)
        except (FileNotFoundError, NotADirectoryError):
            return 0
        kept = set(
            cls.objects.filter(token__in=folders).values_list("token", flat=True)
        )
        count = 0
        for token in folders:
            if token in kept or not TOKEN_PATTERN.fullmatch(token):
                continue
            folder = f"{PENDING_FOLDER}/{token}"
            files = [f"{folder}/{name}" for name in storage.listdir(folder)[1]]
            if any(storage.get_modified_time(path) > cutoff for path in files):
                continue
            for path in files:
                storage.delete(path)
            with suppress(OSError):
                storage.delete(folder)  # a folder on a file system only
            count += 1
        return count


class Handoff(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    values = EncryptedJSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    # The computer that made the link: it may reopen the form with it (the way back
    # from the QR code page) without using the link up.
    created_by = models.CharField(max_length=64, blank=True)
    # The phone that opened the link; only it may open it again.
    opened_by = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("hand-off to a phone")
        verbose_name_plural = _("hand-offs to a phone")

    def __str__(self) -> str:
        return str(self.code)

    def signed_token(self) -> str:
        return tokens.sign(self.code, salt=HANDOFF_SALT)

    @classmethod
    def from_signed_token(cls, token: str) -> Handoff | None:
        """The hand-off behind `token` while its draft is kept (a day); whether a
        phone may still open it is `may_open`'s answer."""
        code = tokens.read(token, salt=HANDOFF_SALT, max_age=DRAFT_LIFETIME)
        return cls.objects.filter(code=code).first() if code else None

    def may_open(self, browser: str) -> bool:
        """The computer that made it, as long as the draft is kept; otherwise one
        phone, within HANDOFF_LINK_MAX_AGE_MINUTES."""
        if browser and browser == self.created_by:
            return True
        max_age = timedelta(minutes=settings.HANDOFF_LINK_MAX_AGE_MINUTES)
        fresh = timezone.now() - self.created_at <= max_age
        return fresh and self.opened_by in ("", browser)

    def open_on(self, browser: str) -> None:
        """The first phone to open the link takes it, and the photos with it."""
        if browser == self.created_by or self.opened_by:
            return
        self.opened_by = browser
        self.save(update_fields=["opened_by"])
        photos = [self.values.get(f"{kind}Photo") for kind in ("face", "identity")]
        PendingPhoto.objects.filter(token__in=[t for t in photos if t]).update(
            browser=browser
        )

    @classmethod
    def purge_old(cls) -> int:
        cutoff = timezone.now() - DRAFT_LIFETIME
        return cls.objects.filter(created_at__lt=cutoff).delete()[0]


CODE_DIGITS = 6
CODE_SALT = "onboarding.email_code"
CODE_LIMIT_WINDOW = timedelta(hours=1)


class CodeLimitReached(Exception):
    """The client address has had EMAIL_CODES_PER_IP_PER_HOUR codes made in the
    last hour: no new code, and no email."""


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


class CodeCheck(enum.Enum):
    RIGHT = "right"
    WRONG = "wrong"
    EXPIRED = "expired"
    USED_UP = "used_up"  # too many wrong tries
    NOT_SENT = "not_sent"  # not (yet) emailed, or the email could not be sent


class EmailCode(models.Model):
    """A code emailed to the address of one form (its submission id, in one
    browser). The worker makes the code when it sends the email and keeps only its
    keyed hash; it works for EMAIL_CODE_MINUTES from then, for EMAIL_CODE_TRIES
    tries. A form's codes are numbered (`generation`): only the newest counts, so
    a new code (a resend, a changed address) invalidates the ones before it, and
    two requests that both ask for the next one make one row between them.

    Each code keeps the keyed digest of the client address that asked for it
    (`client`, never the address), by which EMAIL_CODES_PER_IP_PER_HOUR is
    counted; it goes with the row when the row is a day old."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Could not be sent")
        SUPERSEDED = "superseded", _("Not sent: a newer code followed")

    browser = models.CharField(max_length=64)
    submission = models.UUIDField()
    generation = models.PositiveIntegerField(default=1)
    email_address = EncryptedCharField(max_length=320)
    email_digest = BlindIndexField(source="email_address", digest=email_digest)
    language = models.CharField(max_length=10)
    # The keyed digest of the client address that asked (lookups.address_digest).
    client = models.CharField(max_length=64, blank=True, db_index=True)
    state = models.CharField(max_length=12, choices=State, default=State.PENDING)
    code_hash = models.CharField(max_length=64, blank=True)
    send_tries = models.PositiveSmallIntegerField(default=0)
    # Every try counts, right or wrong; a right one gives its try back.
    tries = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("email code")
        verbose_name_plural = _("email codes")
        constraints = [
            models.UniqueConstraint(
                fields=["browser", "submission", "generation"],
                name="one_email_code_per_generation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.submission} #{self.generation}"

    @classmethod
    def current(cls, *, browser: str, submission: uuid.UUID) -> EmailCode | None:
        """The form's newest code, the only one that counts."""
        codes = cls.objects.filter(browser=browser, submission=submission)
        return codes.order_by("-generation").first()

    @classmethod
    def issue(
        cls,
        *,
        browser: str,
        submission: uuid.UUID,
        email: str,
        language: str,
        client: str = "",
    ) -> EmailCode:
        """A new code for the form, to `email`, asked for from the client address
        whose keyed digest is `client` (the worker makes and sends it: call
        onboarding.tasks.send_email_code). Of two requests asking at once, one
        makes it and both get it. Raises CodeLimitReached, and makes nothing, when
        `client` has had EMAIL_CODES_PER_IP_PER_HOUR codes in the last hour: counted
        while holding the address's row (verification.models.ClientAddress, as the
        limit on sends does), so that requests at once cannot slip past it
        together. Without a `client` (not a web request) there is no limit."""
        for _attempt in range(3):
            latest = cls.current(browser=browser, submission=submission)
            generation = latest.generation + 1 if latest else 1
            try:
                with transaction.atomic():
                    now = timezone.now()
                    if client and settings.EMAIL_CODES_PER_IP_PER_HOUR:
                        ClientAddress.hold(client, now=now)
                        # Made by the other request of a double click while this
                        # one waited for the row: it counts once.
                        made = cls.objects.filter(
                            browser=browser,
                            submission=submission,
                            generation=generation,
                        ).first()
                        if made is not None:
                            if made.is_for(email):
                                return made
                            continue
                        if cls.limit_reached(client, now=now):
                            raise CodeLimitReached
                    return cls.objects.create(
                        browser=browser,
                        submission=submission,
                        generation=generation,
                        email_address=email,
                        language=language,
                        client=client,
                        created_at=now,
                    )
            except IntegrityError:
                made = cls.objects.filter(
                    browser=browser, submission=submission, generation=generation
                ).first()
                if made is not None and made.is_for(email):
                    return made
        raise IntegrityError("the form's codes keep changing")  # pragma: no cover

    @classmethod
    def limit_reached(cls, client: str, *, now: datetime | None = None) -> bool:
        """Whether the client address (by its keyed digest) has had its
        EMAIL_CODES_PER_IP_PER_HOUR codes in the last hour, resends included (0 in
        the setting: no limit)."""
        limit = settings.EMAIL_CODES_PER_IP_PER_HOUR
        if not client or not limit:
            return False
        since = (now or timezone.now()) - CODE_LIMIT_WINDOW
        return cls.objects.filter(client=client, created_at__gte=since).count() >= limit

    def is_for(self, email: str) -> bool:
        return constant_time_compare(self.email_digest, email_digest(email))

    # Times -------------------------------------------------------------------------

    @property
    def expires_at(self) -> datetime | None:
        if self.sent_at is None:
            return None
        return self.sent_at + timedelta(minutes=settings.EMAIL_CODE_MINUTES)

    @property
    def resend_at(self) -> datetime:
        """When a new code to the same address may be asked for."""
        return self.created_at + timedelta(seconds=settings.EMAIL_CODE_RESEND_SECONDS)

    def may_resend(self, now: datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.resend_at

    def expired(self, now: datetime | None = None) -> bool:
        expires_at = self.expires_at
        return expires_at is not None and (now or timezone.now()) >= expires_at

    @property
    def tries_left(self) -> int:
        return max(0, settings.EMAIL_CODE_TRIES - self.tries)

    def usable(self, now: datetime | None = None) -> bool:
        """Whether the applicant can still confirm with this code (or will, once
        it arrives)."""
        return self.state != self.State.SUPERSEDED and self.problem(now) is None

    def problem(self, now: datetime | None = None) -> CodeCheck | None:
        """Why the code can no longer confirm the address, if it cannot."""
        if self.confirmed_at is not None:
            return None
        if self.state == self.State.FAILED:
            return CodeCheck.NOT_SENT
        if self.expired(now):
            return CodeCheck.EXPIRED
        if self.tries_left <= 0:
            return CodeCheck.USED_UP
        return None

    # The code ----------------------------------------------------------------------

    def digest(self, code: str) -> str:
        return salted_hmac(
            CODE_SALT, f"{self.pk}:{code}", algorithm="sha256"
        ).hexdigest()

    def try_code(self, code: str, *, now: datetime | None = None) -> CodeCheck:
        """Whether `code` confirms the address. A try is counted in the database
        before the code is compared, so however many processes take guesses at
        once, no more than EMAIL_CODE_TRIES are compared."""
        now = now or timezone.now()
        matches = bool(self.code_hash) and constant_time_compare(
            self.digest(code), self.code_hash
        )
        if self.confirmed_at is not None:  # the same form sent twice
            return CodeCheck.RIGHT if matches else CodeCheck.WRONG
        if not self.code_hash or self.state == self.State.FAILED:
            return CodeCheck.NOT_SENT
        if self.expired(now):
            return CodeCheck.EXPIRED
        counted = EmailCode.objects.filter(
            pk=self.pk, tries__lt=settings.EMAIL_CODE_TRIES
        ).update(tries=F("tries") + 1)
        if not counted:
            self.tries = settings.EMAIL_CODE_TRIES
            return CodeCheck.USED_UP
        if matches:
            EmailCode.objects.filter(pk=self.pk).update(
                tries=F("tries") - 1, confirmed_at=now
            )
            self.refresh_from_db(fields=["tries", "confirmed_at"])
            return CodeCheck.RIGHT
        self.refresh_from_db(fields=["tries"])
        return CodeCheck.WRONG

    @classmethod
    def confirmed(cls, *, browser: str, submission: uuid.UUID, email: str) -> bool:
        """Whether the form's newest code confirmed `email`."""
        latest = cls.current(browser=browser, submission=submission)
        return bool(latest and latest.confirmed_at and latest.is_for(email))

    @classmethod
    def forget_addresses(cls, *, browser: str, submission: uuid.UUID) -> None:
        """Once the form's attempt holds the address, its codes need it no more
        (their digests still tell a second send of the form that it was
        confirmed)."""
        cls.objects.filter(browser=browser, submission=submission).update(
            email_address=""
        )

    @classmethod
    def purge_old(cls) -> int:
        cutoff = timezone.now() - DRAFT_LIFETIME
        return cls.objects.filter(created_at__lt=cutoff).delete()[0]
