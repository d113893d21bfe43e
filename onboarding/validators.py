"""Normalising validators for the applicant's text fields (the NIK is in `nik.py`).

Each ``normalise_*`` function returns the value in the form the provider expects and
raises ValidationError for anything it cannot turn into one; `validate_birth_date`
returns the date unchanged. They know nothing of models or forms: a form's
``clean_<field>`` calls them.

Error codes (``ValidationError.code``):

- ``name_hidden_character``: a control or invisible character (zero-width space,
  joiners, bidirectional overrides, soft hyphen, byte order mark...).
- ``name_combining_marks``: more than two nonspacing combining marks (accents) on
  one letter once the name is in NFC, or a mark on no letter at all: a real name
  needs at most two (Vietnamese "ệ" typed decomposed); a pile of them hides or
  garbles text.
- ``name_digits``: the name contains digits.
- ``name_invalid_character``: any other character that is not a letter, a space or
  one of ``. , ' -``.
- ``name_no_letters``: only punctuation.
- ``name_too_short`` / ``name_too_long``: fewer than 2 or more than 100 characters.
- ``birth_date_in_future`` / ``birth_date_too_old``: after today, or more than 120
  years before it.
- ``email_too_long`` / ``email_invalid``.
- ``email_mixed_script``: a label of the domain mixes letters of Latin with
  Cyrillic or Greek (``budi@ex\u0430mple.id``, a Cyrillic "a" among Latin
  letters): an address made to look like another one.
- ``phone_invalid_character``: letters or symbols other than ``+ ( ) . -`` and spaces.
- ``phone_too_short`` / ``phone_too_long`` / ``phone_invalid``: not a possible
  number, or not one in use.
- ``phone_not_indonesian``: a number from another country.
- ``phone_not_mobile``: an Indonesian landline or other non-mobile number.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Final

import idna
import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

NAME_MIN_LENGTH: Final = 2
NAME_MAX_LENGTH: Final = 100
NAME_PUNCTUATION: Final = frozenset(".,'- ")
MAX_AGE_YEARS: Final = 120
EMAIL_MAX_LENGTH: Final = 254
# Combining marks one letter may carry once the name is in NFC.
NAME_MAX_MARKS_PER_LETTER: Final = 2
# Scripts whose letters look alike; a domain label mixing two of them passes itself
# off as another domain.
_LOOKALIKE_SCRIPTS: Final = frozenset({"LATIN", "CYRILLIC", "GREEK"})

# Phones (iOS "smart punctuation") and word processors turn the apostrophe of names
# like "D'Souza" into typographic quotes, and hyphens into Unicode hyphens; these are
# read as the ASCII characters the KTP prints rather than refused.
_NAME_LOOKALIKES: Final = str.maketrans(
    {
        "\u2018": "'",  # LEFT SINGLE QUOTATION MARK
        "\u2019": "'",  # RIGHT SINGLE QUOTATION MARK
        "\u02bc": "'",  # MODIFIER LETTER APOSTROPHE
        "\u2010": "-",  # HYPHEN
        "\u2011": "-",  # NON-BREAKING HYPHEN
    }
)
# Whitespace that may separate words: spaces of every width (category Zs), tabs and
# line breaks from pasting. Other control characters are refused, not collapsed.
_NAME_LINE_SPACES: Final = frozenset("\t\n\r\u2028\u2029")
# Characters Unicode files as letters (Lo) although they render as nothing; they are
# used to make names look blank or to hide text.
_INVISIBLE_LETTERS: Final = frozenset("\u115f\u1160\u3164\uffa0")

# Indonesian mobile numbers as the provider wants them: country code, no plus.
PHONE_REGION: Final = "ID"
_PHONE_ALLOWED: Final = re.compile(r"\+?[0-9 ().-]+")
_PHONE_MOBILE_TYPES: Final = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)

MESSAGES: Final = {
    "name_hidden_character": _(
        "Your name contains an invisible or control character, often left over from "
        "copying and pasting. Please type your name again."
    ),
    "name_combining_marks": _(
        "Your name has more accent marks on one letter than a name can have. "
        "Please type your name as it is printed on your KTP."
    ),
    "name_digits": _("Your name cannot contain digits."),
    "name_invalid_character": _(
        "Your name may contain only letters, spaces and the characters . , ' -"
    ),
    "name_no_letters": _("Your name must contain letters."),
    "name_too_short": _("Your name must have at least %(min)d characters."),
    "name_too_long": _(
        "Your name can have at most %(max)d characters. Please write it as it is "
        "printed on your KTP."
    ),
    "birth_date_in_future": _("Your birth date cannot be in the future."),
    "birth_date_too_old": _(
        "Please check your birth date: it is more than %(years)d years ago."
    ),
    "email_too_long": _("Your email address can have at most %(max)d characters."),
    "email_mixed_script": _(
        "The part of this email address after the @ mixes letters of different "
        "alphabets (such as a Cyrillic or Greek letter among Latin ones), so it is "
        "not the address it looks like. Please type it again."
    ),
    "email_invalid": _(
        "This is not a valid email address. Please check it (for example "
        "nama@contoh.com)."
    ),
    "phone_invalid_character": _(
        "Your phone number may contain only digits, spaces, dashes, dots, brackets "
        "and a + at the start."
    ),
    "phone_too_short": _("This phone number is too short. Please check it."),
    "phone_too_long": _("This phone number is too long. Please check it."),
    "phone_invalid": _(
        "This is not a valid Indonesian mobile number. Please check it "
        "(for example 0812 3456 7890)."
    ),
    "phone_not_indonesian": _(
        "Please enter an Indonesian mobile number (starting with 08 or +62 8)."
    ),
    "phone_not_mobile": _(
        "This looks like a landline number. Please enter your mobile number "
        "(starting with 08 or +62 8)."
    ),
}


def normalise_full_name(raw: str) -> str:
    """Return the name as the provider compares it with the KTP: NFC, single spaces,
    upper case ("José  da silva" -> "JOSÉ DA SILVA").

    Letters of any script (with their combining marks), spaces and ``. , ' -`` are
    allowed; typographic apostrophes and hyphens count as the ASCII ones. Invisible
    and control characters are refused rather than dropped, because the applicant
    cannot see what would be sent. Length is counted in characters after
    normalisation.

    Raises ValidationError with the ``name_*`` codes listed in the module docstring.
    """
    name = unicodedata.normalize("NFC", raw).translate(_NAME_LOOKALIKES)
    name = "".join(" " if _is_name_space(ch) else ch for ch in name)
    name = re.sub(" {2,}", " ", name).strip()
    _check_name_characters(name)
    # Upper-casing can decompose characters (U+01F0 "ǰ" becomes "J" + combining caron)
    # and lengthen the text ("ß" becomes "SS"), so normalise and measure afterwards.
    name = unicodedata.normalize("NFC", name.upper())
    if not any(unicodedata.category(ch).startswith("L") for ch in name):
        raise ValidationError(MESSAGES["name_no_letters"], code="name_no_letters")
    if len(name) < NAME_MIN_LENGTH:
        raise ValidationError(
            MESSAGES["name_too_short"],
            code="name_too_short",
            params={"min": NAME_MIN_LENGTH},
        )
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            MESSAGES["name_too_long"],
            code="name_too_long",
            params={"max": NAME_MAX_LENGTH},
        )
    return name


def validate_birth_date(value: date, *, today: date | None = None) -> date:
    """Return `value` when it is neither after `today` nor more than 120 years before.

    The oldest accepted date is the same day 120 years earlier (28 February when
    `today` is 29 February and that year had none). `today` defaults to the current
    date in the project's time zone. A datetime is reduced to its date.

    Raises ValidationError with code ``birth_date_in_future`` or
    ``birth_date_too_old``.
    """
    if isinstance(value, datetime):
        value = value.date()
    today = today or timezone.localdate()
    if value > today:
        raise ValidationError(
            MESSAGES["birth_date_in_future"], code="birth_date_in_future"
        )
    if value < years_before(today, MAX_AGE_YEARS):
        raise ValidationError(
            MESSAGES["birth_date_too_old"],
            code="birth_date_too_old",
            params={"years": MAX_AGE_YEARS},
        )
    return value


def normalise_email(raw: str) -> str:
    """Return the address stripped, with its domain in lower case and, for an
    internationalised domain, in its ASCII (IDNA, "xn--") form, so that one
    mailbox is always written the same way ("Budi@Bücher.ID" and
    "Budi@xn--bcher-kva.id" are both "Budi@xn--bcher-kva.id").

    The local part is kept as typed: RFC 5321 lets a mail server treat it as case
    sensitive. Validity is Django's `EmailValidator` (the rules of `EmailField`;
    it takes only ASCII in the local part), IDNA 2008 with the UTS #46 mapping for
    the domain, and at most 254 characters (the longest address SMTP can carry). A
    domain label that mixes Latin letters with Cyrillic or Greek ones is refused.

    Raises ValidationError with code ``email_too_long``, ``email_invalid`` or
    ``email_mixed_script``.
    """
    email = raw.strip()
    if len(email) > EMAIL_MAX_LENGTH:
        raise ValidationError(
            MESSAGES["email_too_long"],
            code="email_too_long",
            params={"max": EMAIL_MAX_LENGTH},
        )
    EmailValidator(message=MESSAGES["email_invalid"], code="email_invalid")(email)
    local, _at, domain = email.rpartition("@")
    if any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in domain):
        # IDNA would drop a zero-width space; the applicant never typed it.
        raise ValidationError(MESSAGES["email_invalid"], code="email_invalid")
    labels = domain.split(".")
    try:
        unicode_labels = [idna.decode(label, uts46=True) for label in labels]
    except idna.IDNAError:
        raise ValidationError(MESSAGES["email_invalid"], code="email_invalid") from None
    if any(_mixes_lookalike_scripts(label) for label in unicode_labels):
        raise ValidationError(MESSAGES["email_mixed_script"], code="email_mixed_script")
    try:
        ascii_domain = idna.encode(".".join(unicode_labels), uts46=True).decode()
    except idna.IDNAError:
        raise ValidationError(MESSAGES["email_invalid"], code="email_invalid") from None
    email = f"{local}@{ascii_domain.lower()}"
    if len(email) > EMAIL_MAX_LENGTH:
        raise ValidationError(
            MESSAGES["email_too_long"],
            code="email_too_long",
            params={"max": EMAIL_MAX_LENGTH},
        )
    return email


def _mixes_lookalike_scripts(label: str) -> bool:
    scripts = {
        unicodedata.name(ch, "").partition(" ")[0]
        for ch in label
        if unicodedata.category(ch).startswith("L")
    }
    return len(scripts & _LOOKALIKE_SCRIPTS) > 1


def normalise_phone(raw: str) -> str:
    """Return an Indonesian mobile number in E.164 without the plus: ``628...``.

    Accepts the ways Indonesians write one: ``0812...``, ``+62 812...``,
    ``62 812...``, ``0062 812...``, grouped with spaces, dashes, dots or brackets.
    Only ASCII digits: letters are refused (the phonenumbers library would read
    them as a keypad's vanity letters) and so are other scripts' digits.

    Raises ValidationError with the ``phone_*`` codes listed in the module docstring.
    """
    text = raw.strip()
    if not _PHONE_ALLOWED.fullmatch(text):
        raise ValidationError(
            MESSAGES["phone_invalid_character"], code="phone_invalid_character"
        )
    digits = re.sub(r"[^0-9]", "", text)
    # "0062" is the international prefix written in full; "62 8..." without a plus
    # is the country code written as people see it on forms. Both mean "+62".
    if digits.startswith("0062"):
        text = "+" + digits[2:]
    elif digits.startswith("62") and not text.startswith("+"):
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.TOO_SHORT_NSN:
            raise ValidationError(
                MESSAGES["phone_too_short"], code="phone_too_short"
            ) from None
        if exc.error_type == phonenumbers.NumberParseException.TOO_LONG:
            raise ValidationError(
                MESSAGES["phone_too_long"], code="phone_too_long"
            ) from None
        raise ValidationError(MESSAGES["phone_invalid"], code="phone_invalid") from None
    if phonenumbers.region_code_for_number(number) != PHONE_REGION:
        raise ValidationError(
            MESSAGES["phone_not_indonesian"], code="phone_not_indonesian"
        )
    # Length is judged against the lengths of Indonesian mobile numbers (9-12 digits
    # after the country code), so that "0812 345" is reported as too short rather
    # than as a possible local landline.
    match phonenumbers.is_possible_number_for_type_with_reason(
        number, phonenumbers.PhoneNumberType.MOBILE
    ):
        case phonenumbers.ValidationResult.TOO_SHORT:
            raise ValidationError(MESSAGES["phone_too_short"], code="phone_too_short")
        case phonenumbers.ValidationResult.TOO_LONG:
            raise ValidationError(MESSAGES["phone_too_long"], code="phone_too_long")
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(MESSAGES["phone_invalid"], code="phone_invalid")
    if phonenumbers.number_type(number) not in _PHONE_MOBILE_TYPES:
        raise ValidationError(MESSAGES["phone_not_mobile"], code="phone_not_mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier; 28 February for a 29 February that
    the earlier year does not have."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _is_name_space(ch: str) -> bool:
    return ch in _NAME_LINE_SPACES or unicodedata.category(ch) == "Zs"


def _check_name_characters(name: str) -> None:
    """Refuse characters that a KTP name cannot hold, the most specific code first."""
    categories = [unicodedata.category(ch) for ch in name]
    if any(
        cat in {"Cc", "Cf"} or ch in _INVISIBLE_LETTERS
        for ch, cat in zip(name, categories, strict=True)
    ):
        raise ValidationError(
            MESSAGES["name_hidden_character"], code="name_hidden_character"
        )
    # Marks stacked on one letter: the nonspacing ones (accents, which pile up
    # invisibly); spacing vowel signs (Devanagari and others) are letters' parts.
    run = stacked = 0
    for index, cat in enumerate(categories):
        if cat[0] != "M":
            run = stacked = 0
            continue
        run += 1
        stacked += cat in ("Mn", "Me")
        on_letter = index >= run and categories[index - run][0] == "L"
        if stacked > NAME_MAX_MARKS_PER_LETTER or not on_letter:
            raise ValidationError(
                MESSAGES["name_combining_marks"], code="name_combining_marks"
            )
    if any(cat == "Nd" for cat in categories) or any(ch.isdigit() for ch in name):
        raise ValidationError(MESSAGES["name_digits"], code="name_digits")
    for ch, cat in zip(name, categories, strict=True):
        if not (cat[0] in "LM" or ch in NAME_PUNCTUATION):
            raise ValidationError(
                MESSAGES["name_invalid_character"], code="name_invalid_character"
            )
