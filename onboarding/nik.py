"""NIK (Nomor Induk Kependudukan) rules: the sixteen-digit number printed on a KTP.

A NIK reads ``PP KK CC DDMMYY SSSS``:

- ``PP`` province, ``KK`` regency or city, ``CC`` district (kecamatan) of first
  registration;
- ``DDMMYY`` the holder's birth date, with 40 added to the day for women;
- ``SSSS`` a serial number, never ``0000``.

`normalise_nik` decides whether the input is a NIK at all (sixteen ASCII digits) and
always blocks. `structure_errors` checks the meaning of the digits; whether those
errors block or only warn is the form's decision: the provider's sandbox documents
test NIKs such as ``1234567890111111`` whose encoded date (day 78) is not a real one.

Error codes (``ValidationError.code``):

- ``nik_not_digits``: something other than the digits 0-9, spaces and dashes.
- ``nik_wrong_length``: not exactly sixteen digits.
- ``nik_unknown_province``: digits 1-2 are no Indonesian province code.
- ``nik_invalid_birth_date``: digits 7-12 are no real birth date.
- ``nik_zero_serial``: digits 13-16 are ``0000``.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Final

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from onboarding.validators import MAX_AGE_YEARS, years_before

NIK_LENGTH: Final = 16

# Dukcapil province codes (Kepmendagri 100.1.1-6117/2022, 38 provinces). A NIK keeps
# the code of the province where it was first issued, so the list must also hold
# codes that have since been renumbered: before the 2022 splits of Papua, 91 was Papua
# Barat and 94 Papua; both codes remain in use (now 91 Papua and 94 Papua Tengah), so
# every code 91-96 is accepted whichever province it names today.
PROVINCE_CODES: Final[dict[str, str]] = {
    "11": "Aceh",
    "12": "Sumatera Utara",
    "13": "Sumatera Barat",
    "14": "Riau",
    "15": "Jambi",
    "16": "Sumatera Selatan",
    "17": "Bengkulu",
    "18": "Lampung",
    "19": "Kepulauan Bangka Belitung",
    "21": "Kepulauan Riau",
    "31": "DKI Jakarta",
    "32": "Jawa Barat",
    "33": "Jawa Tengah",
    "34": "DI Yogyakarta",
    "35": "Jawa Timur",
    "36": "Banten",
    "51": "Bali",
    "52": "Nusa Tenggara Barat",
    "53": "Nusa Tenggara Timur",
    "61": "Kalimantan Barat",
    "62": "Kalimantan Tengah",
    "63": "Kalimantan Selatan",
    "64": "Kalimantan Timur",
    "65": "Kalimantan Utara",
    "71": "Sulawesi Utara",
    "72": "Sulawesi Tengah",
    "73": "Sulawesi Selatan",
    "74": "Sulawesi Tenggara",
    "75": "Gorontalo",
    "76": "Sulawesi Barat",
    "81": "Maluku",
    "82": "Maluku Utara",
    "91": "Papua",
    "92": "Papua Barat",
    "93": "Papua Selatan",
    "94": "Papua Tengah",
    "95": "Papua Pegunungan",
    "96": "Papua Barat Daya",
}

# Women's NIKs carry the day of birth plus 40.
FEMALE_DAY_OFFSET: Final = 40

_ASCII_DIGITS: Final = frozenset("0123456789")
# U+2212 MINUS SIGN is a maths symbol, not a dash, but keyboards and OCR apps produce
# it where a hyphen was meant.
_EXTRA_SEPARATORS: Final = frozenset("\u2212")

MESSAGES: Final = {
    "nik_not_digits": _("Your NIK may contain only the digits 0 to 9."),
    "nik_wrong_length": _(
        "Your NIK must have exactly 16 digits. You entered %(count)d."
    ),
    "nik_unknown_province": _(
        "The first two digits of your NIK do not match any Indonesian province. "
        "Please check your NIK against your KTP."
    ),
    "nik_invalid_birth_date": _(
        "Digits 7 to 12 of your NIK should be a date of birth, but they are not a "
        "real date. Please check your NIK against your KTP."
    ),
    "nik_zero_serial": _(
        "The last four digits of your NIK cannot be 0000. "
        "Please check your NIK against your KTP."
    ),
}


def normalise_nik(raw: str) -> str:
    """Return the NIK in `raw` as sixteen ASCII digits.

    Spaces of any kind (including non-breaking and other Unicode spaces) and dashes
    are removed first. Digits from other scripts (Arabic-Indic, full-width...) are
    refused rather than converted: the provider wants ASCII and an applicant who
    types them has most likely pasted something that is not their NIK.

    Raises ValidationError with code ``nik_not_digits`` or ``nik_wrong_length``.
    """
    compact = "".join(ch for ch in raw if not _is_separator(ch))
    if not set(compact) <= _ASCII_DIGITS:
        raise ValidationError(MESSAGES["nik_not_digits"], code="nik_not_digits")
    if len(compact) != NIK_LENGTH:
        raise ValidationError(
            MESSAGES["nik_wrong_length"],
            code="nik_wrong_length",
            params={"count": len(compact)},
        )
    return compact


def structure_errors(nik: str, *, today: date | None = None) -> list[ValidationError]:
    """Return what is wrong with the meaning of a normalised NIK; empty when nothing.

    Checks the province code, the encoded birth date (a real calendar date, women's
    day + 40, that some century makes neither in the future nor more than
    `MAX_AGE_YEARS` before `today`) and the serial number. `today` defaults to the
    current date in the project's time zone.

    `nik` must be the output of `normalise_nik`; anything else raises ValueError.
    """
    _require_normalised(nik)
    today = today or timezone.localdate()
    errors: list[ValidationError] = []
    if nik[:2] not in PROVINCE_CODES:
        errors.append(
            ValidationError(
                MESSAGES["nik_unknown_province"], code="nik_unknown_province"
            )
        )
    if not _plausible_birth_dates(nik, today=today):
        errors.append(
            ValidationError(
                MESSAGES["nik_invalid_birth_date"], code="nik_invalid_birth_date"
            )
        )
    if nik[12:] == "0000":
        errors.append(
            ValidationError(MESSAGES["nik_zero_serial"], code="nik_zero_serial")
        )
    return errors


def encoded_birth_date(nik: str) -> tuple[int, int, int] | None:
    """Return (day, month, two-digit year) encoded in a normalised NIK.

    The day is the real day of the month (40 already taken off for women). None when
    digits 7-12 are no calendar date in either the 1900s or the 2000s (day 0, day 32,
    month 13, 30 February, 29 February of a year that was never a leap year...).
    Raises ValueError when `nik` is not sixteen ASCII digits.
    """
    _require_normalised(nik)
    encoded_day, month, year = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    day = (
        encoded_day - FEMALE_DAY_OFFSET
        if encoded_day > FEMALE_DAY_OFFSET
        else encoded_day
    )
    if not any(_is_date(century + year, month, day) for century in (1900, 2000)):
        return None
    return day, month, year


def birth_date_matches(nik: str, birth_date: date) -> bool:
    """Whether the birth date typed by the applicant agrees with the one in the NIK.

    Compares day, month and the year modulo 100 (the NIK does not encode the
    century). True when the NIK carries no valid date: there is nothing to compare,
    and `structure_errors` reports that problem. A mismatch is for the form to
    raise as a question to the applicant, never a refusal on its own.
    Raises ValueError when `nik` is not sixteen ASCII digits.
    """
    encoded = encoded_birth_date(nik)
    if encoded is None:
        return True
    return encoded == (birth_date.day, birth_date.month, birth_date.year % 100)


def _is_separator(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) == "Pd" or ch in _EXTRA_SEPARATORS


def _require_normalised(nik: str) -> None:
    if len(nik) != NIK_LENGTH or not set(nik) <= _ASCII_DIGITS:
        raise ValueError("expected a NIK normalised by normalise_nik()")


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _plausible_birth_dates(nik: str, *, today: date) -> list[date]:
    """Birth dates the NIK can stand for, neither after `today` nor more than
    MAX_AGE_YEARS before it (the bound the birth date field applies)."""
    encoded = encoded_birth_date(nik)
    if encoded is None:
        return []
    day, month, year = encoded
    oldest = years_before(today, MAX_AGE_YEARS)
    candidates = []
    for century in range(oldest.year // 100 * 100, today.year + 1, 100):
        if _is_date(century + year, month, day):
            born = date(century + year, month, day)
            if oldest <= born <= today:
                candidates.append(born)
    return candidates
