"""The registration form: the applicant's data, checked before any money is spent.

Field names are the provider's. Every `clean_<field>` returns the normalised value
that will be stored and sent. Photos are prepared for the provider as they arrive and
kept as PendingPhoto rows, so an error in another field never costs a retake.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from onboarding import images, nik, validators
from onboarding.models import PendingPhoto
from verification.submission import attempts_left_for_nik

PHOTO_ACCEPT = "image/jpeg,image/png"

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
    submission = forms.UUIDField(widget=forms.HiddenInput)
    retryOf = forms.UUIDField(required=False, widget=forms.HiddenInput)

    PHOTO_FIELDS = {"face": "faceImage", "identity": "identityImage"}

    def __init__(self, *args, browser: str, attempts_in_session: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.browser = browser
        self.attempts_in_session = attempts_in_session
        self.photos: dict[str, PendingPhoto] = {}
        self.nik_warnings: list[str] = []
        self.birth_date_mismatch = False
        self.order_fields(["identityId", "fullName", "birthDate"])

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

    def clean_faceImage(self):
        return self._clean_photo("face", images.prepare_selfie)

    def clean_identityImage(self):
        return self._clean_photo("identity", images.prepare_identity)

    def _clean_photo(self, kind: str, prepare) -> PendingPhoto:
        upload = self.cleaned_data[self.PHOTO_FIELDS[kind]]
        if upload:
            prepared = prepare(upload)
            photo = PendingPhoto.keep(
                browser=self.browser, kind=kind, data=prepared.data
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

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        value, birth_date = cleaned.get("identityId"), cleaned.get("birthDate")
        if value and birth_date:
            self.birth_date_mismatch = not nik.birth_date_matches(value, birth_date)
        if value:
            self._check_limits(value)
        return cleaned

    def _check_limits(self, value: str) -> None:
        if self.attempts_in_session >= settings.ATTEMPTS_PER_SESSION:
            raise ValidationError(
                _("You have sent %(count)d applications from this browser. Each check "
                  "costs money, so no more can be sent from here today."),
                code="session_limit",
                params={"count": self.attempts_in_session},
            )  # fmt: skip
        left, next_at = attempts_left_for_nik(value)
        if left <= 0:
            self.add_error(
                "identityId",
                ValidationError(
                    _("This NIK has been checked %(count)d times in the last 24 hours. "
                      "Each check costs money, so please try again after %(time)s."),
                    code="nik_limit",
                    params={
                        "count": settings.ATTEMPTS_PER_NIK_PER_DAY,
                        "time": formats.date_format(
                            timezone.localtime(next_at), "DATETIME_FORMAT"
                        ),
                    },
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
        "camera_denied": str(
            _("The camera is not allowed for this page. You can choose a photo from "
              "your device instead, or continue on your phone.")
        ),
        "camera_missing": str(
            _("No camera was found. You can choose a photo from your device instead, "
              "or continue on your phone.")
        ),
        "camera_failed": str(
            _("The camera could not be started. You can choose a photo from your "
              "device instead, or continue on your phone.")
        ),
        "photo_unreadable": str(
            _("This file is not a photo we can read. "
              "Please choose a JPEG or PNG photo.")
        ),
        "sending": str(_("Sending…")),
    }  # fmt: skip
