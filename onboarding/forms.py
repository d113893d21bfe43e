"""The registration form: the applicant's data, checked before any money is spent.

Field names are the provider's. Every `clean_<field>` returns the normalised value
that will be stored and sent. Photos are prepared for the provider and checked for
quality as they arrive, and kept as PendingPhoto rows, so an error in another field
never costs a retake.

One form serves every step: the form page, the review step (`confirming=True`: the
birth-date and photo-warning confirmations are asked for there) and a "fix and send
again" (`retryOf`: which fields to fix comes from the earlier attempt).
`RegistrationForm.submit` stores the attempt.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from contextlib import suppress
from functools import cached_property
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from onboarding import images, nik, quality, validators
from onboarding.models import CODE_DIGITS, CodeCheck, EmailCode, PendingPhoto
from onboarding.privacy import PRIVACY_NOTICE_VERSION
from verification.integrations.models import VerificationSession
from verification.kredibel import FACE_IMAGE_LIMITS, IDENTITY_IMAGE_LIMITS
from verification.lookups import address_digest
from verification.models import Attempt, ReviewDecision
from verification.submission import (
    attempts_left_for_nik,
    attempts_sent_today,
    sends_left_from,
    submit_attempt,
)

PHOTO_ACCEPT = "image/jpeg,image/png"

KTP_FIELDS = ["identityId", "fullName", "birthDate"]
CONTACT_FIELDS = ["emailAddress", "phoneNumber"]
PHOTO_FIELDS = ["faceImage", "identityImage"]
FORM_ORDER = KTP_FIELDS + CONTACT_FIELDS + PHOTO_FIELDS
# Fields a visitor can send without their meaning anything on the review step.
CONFIRMATIONS = {"confirmBirthDate", "acceptPhotoWarnings"}

# The provider's rejectFields, mapped to the form fields that fix them.
FIELDS_TO_FIX = {
    "identityId": "identityId",
    "fullName": "fullName",
    "birthDate": "birthDate",
    "faceImage": "faceImage",
    "liveness_check": "faceImage",
    "identityImage": "identityImage",
}


class RegistrationForm(forms.Form):
    identityId = forms.CharField(
        label=_("NIK"),
        max_length=40,
        help_text=_("The 16-digit number on your KTP."),
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    fullName = forms.CharField(
        label=_("Full name"),
        max_length=200,
        help_text=_("Exactly as printed on your KTP."),
        widget=forms.TextInput(
            attrs={"autocomplete": "name", "autocapitalize": "characters"}
        ),
    )
    birthDate = forms.DateField(
        label=_("Date of birth"),
        help_text=_("As printed on your KTP."),
        input_formats=["%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y"],
        widget=forms.DateInput(
            attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"
        ),
        error_messages={
            "invalid": _("Enter a real date, for example 17-08-1990."),
        },
    )
    emailAddress = forms.CharField(
        label=_("Email address"),
        max_length=320,
        help_text=_("We send the result of the check here."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    phoneNumber = forms.CharField(
        label=_("Mobile number"),
        max_length=30,
        help_text=_("An Indonesian mobile number, for example 0812 3456 7890."),
        widget=forms.TextInput(
            attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}
        ),
    )
    faceImage = forms.FileField(
        label=_("Selfie"),
        required=False,
        widget=forms.FileInput(attrs={"accept": PHOTO_ACCEPT, "capture": "user"}),
    )
    identityImage = forms.FileField(
        label=_("Photo of your KTP"),
        required=False,
        widget=forms.FileInput(
            attrs={"accept": PHOTO_ACCEPT, "capture": "environment"}
        ),
    )
    # Tokens of photos already received (see PendingPhoto).
    facePhoto = forms.CharField(required=False, widget=forms.HiddenInput)
    identityPhoto = forms.CharField(required=False, widget=forms.HiddenInput)
    consent = forms.BooleanField(
        label=_("I have read the privacy notice and agree that my data and photos "
                "are used to verify my identity for an electronic certificate."),
        error_messages={
            "required": _("Please agree to the privacy notice to continue."),
        },
    )  # fmt: skip
    confirmBirthDate = forms.BooleanField(
        label=_("I have checked: my date of birth is correct as entered."),
        required=False,
    )
    acceptPhotoWarnings = forms.BooleanField(
        label=_("I have looked at my photos: send them as they are."),
        required=False,
    )
    submission = forms.UUIDField(widget=forms.HiddenInput)
    retryOf = forms.UUIDField(required=False, widget=forms.HiddenInput)
    # The integrator's verification session the form was opened from.
    session = forms.UUIDField(required=False, widget=forms.HiddenInput)

    PHOTO_FIELDS = {"face": "faceImage", "identity": "identityImage"}

    def __init__(
        self,
        *args: Any,
        browser: str,
        client_address: str = "",
        visible_attempts: Collection[str] = (),
        open_sessions: Collection[str] = (),
        confirming: bool = False,
        **kwargs: Any,
    ) -> None:
        """`browser`: the session's random browser id (whose photos these are);
        `client_address`: the request's (verification.clients), which the limit on
        sends per address and the bound on its photos count; `visible_attempts`:
        codes of the attempts this browser may see (a `retryOf` must be one);
        `open_sessions`: codes of the integrators' sessions whose URL this browser
        opened (a `session` must be one); `confirming`: the review step's send,
        where the confirmations count."""
        super().__init__(*args, **kwargs)
        self.browser = browser
        self.client_address = client_address
        # The keyed digest the address's photos are bound by (never the address).
        self.client = client_digest(client_address)
        self.visible_attempts = {str(code) for code in visible_attempts}
        self.open_sessions = {str(code) for code in open_sessions}
        self.confirming = confirming
        self.photos: dict[str, PendingPhoto] = {}
        self.nik_warnings: list[str] = []
        self.birth_date_mismatch = False
        self.order_fields(KTP_FIELDS)

    @classmethod
    def correcting(
        cls, attempt: Attempt, *, browser: str, **kwargs: Any
    ) -> RegistrationForm:
        """The form for a "fix and send again" of `attempt`: filled in with what it
        sent (photos that need no change are kept as new pending photos), unless
        the form is on another device than the attempt came from, where it shows
        nothing of it."""
        initial: dict[str, Any] = {"retryOf": attempt.code}
        if attempt.browser == browser:
            fix = fields_to_fix(attempt)
            initial.update(
                identityId=attempt.applicant.nik,
                fullName=attempt.full_name,
                birthDate=attempt.birth_date,
                emailAddress=attempt.email_address,
                phoneNumber=attempt.phone_number,
                consent=attempt.consent_version == PRIVACY_NOTICE_VERSION,
            )
            for kind, field, image in (
                ("face", "faceImage", attempt.face_image),
                ("identity", "identityImage", attempt.identity_image),
            ):
                if field not in fix:
                    with image.open("rb") as f, suppress(ValidationError):
                        # Past the address's bound the photo is asked for again.
                        photo = PendingPhoto.keep(
                            browser=browser,
                            kind=kind,
                            data=f.read(),
                            client=client_digest(kwargs.get("client_address", "")),
                        )
                        initial[f"{kind}Photo"] = photo.token
        return cls.blank(browser=browser, initial=initial, **kwargs)

    @classmethod
    def blank(
        cls, *, browser: str, initial: dict | None = None, **kwargs: Any
    ) -> RegistrationForm:
        """A form to fill in (nothing checked yet), with a new submission id."""
        initial = {"submission": uuid.uuid4(), **(initial or {})}
        return cls(initial=initial, browser=browser, **kwargs)

    # Which fields to fix ----------------------------------------------------------

    @cached_property
    def retry_of(self) -> Attempt | None:
        """The earlier attempt this form corrects, if this browser may see it."""
        value = self.data.get("retryOf") if self.is_bound else None
        value = value or self.initial.get("retryOf")
        if not value or str(value) not in self.visible_attempts:
            return None
        try:
            return Attempt.objects.select_related("applicant").get(code=value)
        except (Attempt.DoesNotExist, ValidationError):
            return None

    @cached_property
    def api_session(self) -> VerificationSession | None:
        """The integrator's session this form sends into: for a "fix and send
        again", the one of the attempt it corrects (it stays within it); otherwise
        the one the form was opened from, if this browser opened its URL."""
        if self.retry_of is not None:
            return VerificationSession.objects.filter(attempt=self.retry_of).first()
        value = self.data.get("session") if self.is_bound else None
        value = value or self.initial.get("session")
        if not value or str(value) not in self.open_sessions:
            return None
        try:
            return VerificationSession.objects.filter(code=value).first()
        except ValidationError:
            return None

    @property
    def elsewhere(self) -> bool:
        """A correction opened on another device than the attempt was sent from."""
        retry_of = self.retry_of
        return retry_of is not None and retry_of.browser != self.browser

    def fields_to_fix(self) -> list[str]:
        """The fields the applicant is asked for, in form order: every one for a
        new application (or when the earlier attempt names nothing the form can
        ask for), otherwise what the provider or the reviewer rejected."""
        fix = fields_to_fix(self.retry_of) if self.retry_of else set()
        if not fix or self.elsewhere:
            return list(FORM_ORDER)
        return [name for name in FORM_ORDER if name in fix]

    # Text fields ------------------------------------------------------------------

    def clean_identityId(self) -> str:
        value = nik.normalise_nik(self.cleaned_data["identityId"])
        problems = nik.structure_errors(value)
        if problems and settings.NIK_STRUCTURE_CHECK == "block":
            raise ValidationError(problems)
        self.nik_warnings = [
            message for error in problems for message in error.messages
        ]
        return value

    def clean_fullName(self) -> str:
        return validators.normalise_full_name(self.cleaned_data["fullName"])

    def clean_birthDate(self):
        return validators.validate_birth_date(self.cleaned_data["birthDate"])

    def clean_emailAddress(self) -> str:
        return validators.normalise_email(self.cleaned_data["emailAddress"])

    def clean_phoneNumber(self) -> str:
        return validators.normalise_phone(self.cleaned_data["phoneNumber"])

    # Photos -----------------------------------------------------------------------

    def clean_faceImage(self) -> PendingPhoto:
        return self._clean_photo("face", images.prepare_selfie)

    def clean_identityImage(self) -> PendingPhoto:
        return self._clean_photo("identity", images.prepare_identity)

    def _clean_photo(
        self, kind: str, prepare: Callable[[Any], images.PreparedImage]
    ) -> PendingPhoto:
        upload = self.cleaned_data[self.PHOTO_FIELDS[kind]]
        if upload:
            prepared = prepare(upload)
            photo = PendingPhoto.keep(
                browser=self.browser,
                kind=kind,
                data=prepared.data,
                warnings=prepared.warnings,
                client=self.client,
            )
        else:
            token = self.data.get(f"{kind}Photo", "")
            found = PendingPhoto.find(token, browser=self.browser, kind=kind)
            if found is None:
                raise ValidationError(
                    self.missing_photo_messages[kind], code="required"
                )
            photo = found
        self.photos[kind] = photo
        return photo

    missing_photo_messages = {
        "face": _("Take a selfie, or choose a photo of your face."),
        "identity": _("Take a photo of your KTP, or choose one."),
    }

    # The whole form ---------------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        value, birth_date = cleaned.get("identityId"), cleaned.get("birthDate")
        if value and birth_date:
            self.birth_date_mismatch = not nik.birth_date_matches(value, birth_date)
        if value:
            self._check_limits(value)
        if self.confirming:
            self._check_confirmations(cleaned)
        return cleaned

    def _check_confirmations(self, cleaned: dict[str, Any]) -> None:
        if self.birth_date_mismatch and not cleaned.get("confirmBirthDate"):
            self.add_error(
                "confirmBirthDate",
                ValidationError(
                    _("Please check your date of birth and tick the box to confirm "
                      "it."),
                    code="confirm_birth_date",
                ),
            )  # fmt: skip
        if self.photo_warnings() and not cleaned.get("acceptPhotoWarnings"):
            self.add_error(
                "acceptPhotoWarnings",
                ValidationError(
                    _("Please take the photo again, or tick the box to send it as "
                      "it is."),
                    code="accept_photo_warnings",
                ),
            )  # fmt: skip

    def only_confirmations_missing(self) -> bool:
        """Whether everything is right but a confirmation the review step asks
        for: the review step is shown again, not the form."""
        return bool(self.errors) and set(self.errors) <= CONFIRMATIONS

    def photo_warnings(self) -> list[str]:
        """The quality warnings of the photos received, selfie first."""
        return [
            code
            for kind in self.PHOTO_FIELDS
            if kind in self.photos
            for code in self.photos[kind].warnings
        ]

    def photo_warning_messages(self) -> dict[str, list[str]]:
        """The quality warnings to show beside each photo field, by field name."""
        return {
            field: [
                str(quality.WARNINGS[code])
                for code in (self.photos[kind].warnings if kind in self.photos else [])
            ]
            for kind, field in self.PHOTO_FIELDS.items()
        }

    def keep_only_photo_errors(self) -> None:
        """Drop every error but a refused photo's: for a form shown again without
        being sent (in another language), where nothing is wrong yet but a photo
        that was sent and cannot be used."""
        for name in list(self.errors):
            refused = name in PHOTO_FIELDS and not self.has_error(name, "required")
            if not refused:
                del self.errors[name]

    # Sending ----------------------------------------------------------------------

    def submit(self, *, language: str) -> tuple[Attempt, bool]:
        """Store the attempt and queue its verification (see
        verification.submission.submit_attempt); returns (attempt, created). The pending
        photos it used are deleted once the attempt holds them. Call on a valid
        form; raises LimitReached when a limit on sends is reached (the NIK from
        this browser; AddressLimitReached: the client address), SessionClosed
        when the integrator's session takes no new attempt now."""
        data = self.cleaned_data
        attempt, created = submit_attempt(
            nik=data["identityId"],
            full_name=data["fullName"],
            birth_date=data["birthDate"],
            email_address=data["emailAddress"],
            phone_number=data["phoneNumber"],
            # Read once the attempt's row is in, not before (see submit_attempt).
            face_image=self.photos["face"].read,
            identity_image=self.photos["identity"].read,
            consent_version=PRIVACY_NOTICE_VERSION,
            language=language,
            submission=data["submission"],
            browser=self.browser,
            client_address=self.client_address,
            birth_date_confirmed=self.birth_date_mismatch,
            retry_of=self.retry_of,
            photo_warnings=self.photo_warnings(),
            session=self.api_session,
        )
        if created:
            for photo in self.photos.values():
                photo.discard()
        return attempt, created

    def _check_limits(self, value: str) -> None:
        """The limits on sends, checked before the review step and again when the
        attempt is stored. None of their messages says anything about what anybody
        else sent, nor when a NIK was used."""
        if sends_left_from(self.client_address) <= 0:
            raise ValidationError(
                _("Many applications have been sent from your network in the last "
                  "hour. Each check costs money, so no more can be sent from it for "
                  "now. Please try again later, at the latest in an hour: what you "
                  "entered is kept on this page."),
                code="address_limit",
            )  # fmt: skip
        sent_today = attempts_sent_today(browser=self.browser)
        if sent_today >= settings.ATTEMPTS_PER_SESSION:
            raise ValidationError(
                _("You have sent %(count)d applications from this browser today. "
                  "Each check costs money, so no more can be sent from here today."),
                code="session_limit",
                params={"count": sent_today},
            )  # fmt: skip
        if attempts_left_for_nik(value, browser=self.browser) <= 0:
            self.add_error(
                "identityId",
                ValidationError(
                    _("You have sent this NIK %(count)d times from this browser in "
                      "the last 24 hours. Each check costs money, so it cannot be "
                      "sent again from here for now."),
                    code="nik_limit",
                    params={"count": settings.ATTEMPTS_PER_NIK_PER_DAY},
                ),
            )  # fmt: skip

    def photo_tokens(self) -> dict[str, str]:
        """The tokens of photos received so far (this request's, or kept from an
        earlier one and still valid for this browser), by hidden field name."""
        source = self.data if self.is_bound else self.initial
        tokens = {}
        for kind in self.PHOTO_FIELDS:
            photo = self.photos.get(kind) or PendingPhoto.find(
                str(source.get(f"{kind}Photo") or ""), browser=self.browser, kind=kind
            )
            if photo:
                self.photos[kind] = photo
                tokens[f"{kind}Photo"] = photo.token
        return tokens

    def with_photo_tokens(self) -> RegistrationForm:
        """Put the tokens of photos received so far into the bound data (dropping
        any that are not valid), so that the form shown again keeps them."""
        tokens = self.photo_tokens()
        if self.is_bound:
            data = QueryDict(mutable=True)
            data.update(self.data)
            for kind in self.PHOTO_FIELDS:
                data[f"{kind}Photo"] = tokens.get(f"{kind}Photo", "")
            self.data = data
        return self

    def values(self) -> dict[str, str]:
        """The normalised text values, for the review step's hidden fields."""
        data = self.cleaned_data
        return {
            "identityId": data["identityId"],
            "fullName": data["fullName"],
            "birthDate": data["birthDate"].isoformat(),
            "emailAddress": data["emailAddress"],
            "phoneNumber": data["phoneNumber"],
        }


class EmailCodeForm(forms.Form):
    """The code emailed to the applicant (see EmailCode), checked against the
    form's newest code: `clean_code` counts the try and says what was wrong."""

    code = forms.CharField(
        label=_("Code from the email"),
        max_length=20,
        help_text=_("6 digits."),
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "spellcheck": "false",
                "size": "8",
            }
        ),
        error_messages={"required": _("Enter the 6-digit code from the email.")},
    )

    def __init__(self, *args: Any, email_code: EmailCode, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email_code = email_code

    def clean_code(self) -> str:
        value = "".join(self.cleaned_data["code"].split()).replace("-", "")
        if not (value.isascii() and value.isdigit() and len(value) == CODE_DIGITS):
            raise ValidationError(
                _("The code is 6 digits, for example 123456."), code="code_format"
            )
        result = self.email_code.try_code(value)
        if result is CodeCheck.RIGHT:
            return value
        raise code_error(result, self.email_code)


def code_error(result: CodeCheck, email_code: EmailCode) -> ValidationError:
    """What was wrong with a code the applicant typed, in their language."""
    if result is CodeCheck.WRONG and email_code.tries_left:
        left = email_code.tries_left
        return ValidationError(
            ngettext(
                "This is not the code we sent. Check the newest email from us "
                "and try again: %(count)d try left.",
                "This is not the code we sent. Check the newest email from us "
                "and try again: %(count)d tries left.",
                left,
            ),
            code="wrong_code",
            params={"count": left},
        )
    if result in (CodeCheck.WRONG, CodeCheck.USED_UP):
        return ValidationError(
            _("Too many wrong tries for this code. Ask for a new code below."),
            code="code_used_up",
        )
    if result is CodeCheck.EXPIRED:
        return ValidationError(
            _("This code has expired: a code works for %(minutes)d minutes. Ask "
              "for a new code below."),
            code="code_expired",
            params={"minutes": settings.EMAIL_CODE_MINUTES},
        )  # fmt: skip
    if email_code.state == EmailCode.State.FAILED:
        return ValidationError(
            _("We could not send the email with the code. Check the address, or "
              "ask for a new code below."),
            code="code_not_sent",
        )  # fmt: skip
    return ValidationError(
        _("The email with the code is on its way. Please wait for it, then enter "
          "the code."),
        code="code_on_its_way",
    )  # fmt: skip


def code_limit_message(email_code: EmailCode | None) -> str:
    """Why no (new) code is emailed now (EMAIL_CODES_PER_IP_PER_HOUR), in the
    applicant's language; `email_code`: the form's code for this address, if it
    has one."""
    if email_code is not None and email_code.usable():
        return str(
            _("Too many email codes have been asked for from your internet "
              "connection in the last hour, so we cannot send a new code now. The "
              "code we sent before still works; or try again later.")
        )  # fmt: skip
    return str(
        _("Too many email codes have been asked for from your internet connection "
          "in the last hour, so we cannot send another code now. Please try again "
          "later: what you entered is kept on this page.")
    )  # fmt: skip


def client_digest(client_address: str) -> str:
    """The keyed digest a client address's photos are bound by ("" for none)."""
    return address_digest(client_address) if client_address else ""


def fields_to_fix(attempt: Attempt) -> set[str]:
    """The form fields that fix what `attempt` was turned down for: the fields the
    provider rejected, or, after a reviewer's rejection, what the reason names
    (every field when it names nothing in particular). Empty when nothing is
    named."""
    if attempt.status != Attempt.Status.REJECTED:
        return {FIELDS_TO_FIX[f] for f in attempt.reject_fields if f in FIELDS_TO_FIX}
    decision = attempt.latest_decision
    reason = decision.reason if decision else ""
    if reason == ReviewDecision.Reason.CONTACT_OF_ANOTHER_PERSON:
        flagged = set(attempt.reject_fields) & set(CONTACT_FIELDS)
        return flagged or set(CONTACT_FIELDS)
    if reason == ReviewDecision.Reason.FACE_MISMATCH:
        return {"faceImage"}
    if reason == ReviewDecision.Reason.KTP_DOUBTFUL:
        return {"identityImage"}
    return set(FORM_ORDER)


def photo_settings() -> dict[str, Any]:
    """What the page's script needs to prepare photos as the server will: the
    provider's minimum sizes, the smallest live capture, the long side and
    quality the server keeps, and the live preview's hint thresholds."""
    return {
        "minSize": {
            "face": [FACE_IMAGE_LIMITS.min_width, FACE_IMAGE_LIMITS.min_height],
            "identity": [
                IDENTITY_IMAGE_LIMITS.min_width,
                IDENTITY_IMAGE_LIMITS.min_height,
            ],
        },
        "captureMinSize": {
            "face": list(images.SELFIE_CAPTURE_MIN_SIZE),
            "identity": list(images.IDENTITY_MIN_SIZE),
        },
        "longSide": {
            "face": images.SELFIE_LONG_SIDE,
            "identity": images.IDENTITY_LONG_SIDE,
        },
        "jpegQuality": images.JPEG_QUALITY / 100,
        "hints": quality.browser_hints(),
    }


def script_messages() -> dict[str, str]:
    """The messages register.js shows while the applicant types (the server's own
    words, so both say the same thing in the same language) and the camera's."""
    return {
        "nik_not_digits": str(nik.MESSAGES["nik_not_digits"]),
        "nik_wrong_length": str(nik.MESSAGES["nik_wrong_length"]),
        "name_digits": str(validators.MESSAGES["name_digits"]),
        "name_invalid_character": str(validators.MESSAGES["name_invalid_character"]),
        "email_invalid": str(validators.MESSAGES["email_invalid"]),
        "phone_invalid": str(validators.MESSAGES["phone_invalid"]),
        "phone_invalid_character": str(validators.MESSAGES["phone_invalid_character"]),
        "required": str(_("This field is required.")),
        "camera_denied": str(_("The camera is not allowed for this page.")),
        "camera_missing": str(_("No camera was found.")),
        "camera_failed": str(_("The camera could not be started.")),
        "camera_too_small": str(
            _("This camera gives pictures of %(width)d by %(height)d pixels, too "
              "small for the check: it needs a camera that gives at least "
              "%(min_width)d by %(min_height)d.")
        ),
        "ways_computer": str(
            _("You can choose a photo from this device instead, or continue on "
              "your phone.")
        ),
        "ways_phone": str(
            _("You can choose a photo instead: on a phone this opens the camera "
              "app.")
        ),
        "hint_dark": str(_("Too dark: find more light.")),
        "hint_bright": str(_("Too bright: move away from the light.")),
        "hint_blurred": str(_("Not sharp: hold still.")),
        "hint_closer": str(_("Bring your face closer.")),
        "hint_ready": str(_("Good: take the photo.")),
        "photo_unreadable": str(
            _("This file is not a photo we can read. "
              "Please choose a JPEG or PNG photo.")
        ),
        "sending": str(_("Sending…")),
    }  # fmt: skip
