from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError

from onboarding.validators import (
    normalise_email,
    normalise_full_name,
    normalise_phone,
    validate_birth_date,
)


def refusal_code(function: Callable[[str], object], raw: str) -> str | None:
    with pytest.raises(ValidationError) as excinfo:
        function(raw)
    assert excinfo.value.messages
    return excinfo.value.code


# Full names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("Budi Santoso", "BUDI SANTOSO", id="plain"),
        pytest.param("budi santoso", "BUDI SANTOSO", id="lowercase"),
        pytest.param("José da Silva", "JOSÉ DA SILVA", id="accented"),
        pytest.param("Jose\u0301", "JOSÉ", id="decomposed-accent-composed"),
        pytest.param("Ma'ruf Amin", "MA'RUF AMIN", id="apostrophe"),
        pytest.param("Ma\u2019ruf Amin", "MA'RUF AMIN", id="typographic-apostrophe"),
        pytest.param("Jean-Pierre", "JEAN-PIERRE", id="hyphen"),
        pytest.param("Jean\u2010Pierre", "JEAN-PIERRE", id="unicode-hyphen"),
        pytest.param("Muh. Ali, S.Kom", "MUH. ALI, S.KOM", id="dots-and-comma"),
        pytest.param("  Siti   Nurhaliza  ", "SITI NURHALIZA", id="double-spaces"),
        pytest.param(
            "Siti\tNurhaliza\nBinti Ali", "SITI NURHALIZA BINTI ALI", id="tab-newline"
        ),
        pytest.param("Siti\u00a0Nurhaliza", "SITI NURHALIZA", id="non-breaking-space"),
        pytest.param("Siti\u3000Nurhaliza", "SITI NURHALIZA", id="ideographic-space"),
        pytest.param("Soekarno", "SOEKARNO", id="single-name"),
        pytest.param("Al", "AL", id="two-characters"),
        pytest.param("A" * 100, "A" * 100, id="hundred-characters"),
        pytest.param("Иван Петров", "ИВАН ПЕТРОВ", id="cyrillic"),
        pytest.param("अभिषेक", "अभिषेक", id="devanagari-with-combining-marks"),
        pytest.param("Straße", "STRASSE", id="sharp-s-upper-cased"),
        pytest.param(
            "Nguye\u0302\u0323n", "NGUYỆN", id="two-decomposed-marks-composed"
        ),
        pytest.param(
            "Ngu\u0301\u0302\u0303yen",
            "NGÚ\u0302\u0303YEN",
            id="three-marks-of-which-nfc-composes-one",
        ),
        pytest.param("Thanh Tu\u031b\u0300", "THANH TỪ", id="horn-and-grave"),
    ],
)
def test_it_normalises_a_full_name(raw: str, expected: str) -> None:
    assert normalise_full_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        pytest.param("Budi 2", "name_digits", id="digit"),
        pytest.param("Budi ٢", "name_digits", id="arabic-indic-digit"),
        pytest.param("Budi \uff12", "name_digits", id="full-width-digit"),
        pytest.param("Budi 😀", "name_invalid_character", id="emoji"),
        pytest.param("Budi@Santoso", "name_invalid_character", id="at-sign"),
        pytest.param("Budi_Santoso", "name_invalid_character", id="underscore"),
        pytest.param(
            'Budi "Bud" Santoso', "name_invalid_character", id="double-quotes"
        ),
        pytest.param("<b>Budi</b>", "name_invalid_character", id="html"),
        pytest.param("Bu\u200bdi", "name_hidden_character", id="zero-width-space"),
        pytest.param("Bu\u200ddi", "name_hidden_character", id="zero-width-joiner"),
        pytest.param(
            "\u202eidub", "name_hidden_character", id="right-to-left-override"
        ),
        pytest.param("Bu\u00addi", "name_hidden_character", id="soft-hyphen"),
        pytest.param("\ufeffBudi", "name_hidden_character", id="byte-order-mark"),
        pytest.param("Bu\x00di", "name_hidden_character", id="nul"),
        pytest.param("Budi\x7f", "name_hidden_character", id="delete"),
        pytest.param("Bu\x1bdi", "name_hidden_character", id="escape"),
        pytest.param("Budi \u3164", "name_hidden_character", id="hangul-filler"),
        pytest.param(
            "A" + "\u0301" * 98 + "B", "name_combining_marks", id="98-marks-on-a"
        ),
        pytest.param(
            "Bu\u0308\u0303\u0301\u0300di", "name_combining_marks", id="4-marks"
        ),
        pytest.param(
            "Asep \u0301Sunandar", "name_combining_marks", id="mark-on-a-space"
        ),
        pytest.param("\u0301Asep", "name_combining_marks", id="mark-on-nothing"),
        pytest.param("Bu\u200edi", "name_hidden_character", id="left-to-right-mark"),
        pytest.param("Bu\u2066di", "name_hidden_character", id="bidi-isolate"),
        pytest.param("Bu\ue000di", "name_invalid_character", id="private-use"),
        pytest.param("Bu\u0378di", "name_invalid_character", id="unassigned"),
        pytest.param("B", "name_too_short", id="one-letter"),
        pytest.param("  b  ", "name_too_short", id="one-letter-in-spaces"),
        pytest.param("A" * 101, "name_too_long", id="hundred-and-one-characters"),
        pytest.param("...", "name_no_letters", id="only-dots"),
        pytest.param("", "name_no_letters", id="empty"),
    ],
)
def test_it_refuses_a_full_name(raw: str, code: str) -> None:
    assert refusal_code(normalise_full_name, raw) == code


# Birth dates

TODAY = date(2026, 6, 1)


@pytest.mark.parametrize(
    ("value", "today"),
    [
        pytest.param(TODAY, TODAY, id="today"),
        pytest.param(date(1990, 8, 15), TODAY, id="adult"),
        pytest.param(date(1906, 6, 1), TODAY, id="exactly-120-years-ago"),
        pytest.param(date(2000, 2, 29), TODAY, id="29-february"),
        pytest.param(
            date(1904, 2, 29), date(2024, 2, 29), id="120-years-before-29-february"
        ),
        pytest.param(
            date(1900, 2, 28),
            date(2020, 2, 29),
            id="29-february-with-no-29-february-120-years-before",
        ),
    ],
)
def test_it_accepts_a_birth_date(value: date, today: date) -> None:
    assert validate_birth_date(value, today=today) == value


@pytest.mark.parametrize(
    ("value", "today", "code"),
    [
        pytest.param(date(2026, 6, 2), TODAY, "birth_date_in_future", id="tomorrow"),
        pytest.param(
            date(2090, 1, 1), TODAY, "birth_date_in_future", id="next-century"
        ),
        pytest.param(
            date(1906, 5, 31), TODAY, "birth_date_too_old", id="120-years-and-a-day"
        ),
        pytest.param(date(1850, 1, 1), TODAY, "birth_date_too_old", id="1850"),
        pytest.param(
            date(1900, 2, 27),
            date(2020, 2, 29),
            "birth_date_too_old",
            id="day-before-boundary-on-29-february",
        ),
    ],
)
def test_it_refuses_a_birth_date(value: date, today: date, code: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        validate_birth_date(value, today=today)

    assert excinfo.value.code == code


def test_it_reduces_a_datetime_to_its_date() -> None:
    moment = datetime(1990, 8, 15, 10, 30, tzinfo=UTC)

    assert validate_birth_date(moment, today=TODAY) == date(1990, 8, 15)


def test_it_judges_birth_dates_against_the_current_date_by_default() -> None:
    assert validate_birth_date(date(1990, 8, 15)) == date(1990, 8, 15)


# Email addresses


def email_of_length(length: int) -> str:
    """A valid address of `length` characters: the longest local part (64) and
    domain labels of at most 63."""
    domain_labels = length - 64 - 1 - len(".id")
    first = min(63, domain_labels)
    second = min(63, domain_labels - first - 1)
    third = domain_labels - first - second - 2
    return f"{'a' * 64}@{'b' * first}.{'c' * second}.{'d' * third}.id"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("budi@example.com", "budi@example.com", id="plain"),
        pytest.param(
            "  budi@example.com\n", "budi@example.com", id="surrounding-whitespace"
        ),
        pytest.param(
            "Budi.Santoso@Example.CO.ID",
            "Budi.Santoso@example.co.id",
            id="domain-lowercased-local-kept",
        ),
        pytest.param("budi+ktp@GMAIL.COM", "budi+ktp@gmail.com", id="plus-address"),
        pytest.param(email_of_length(254), email_of_length(254), id="254-characters"),
        pytest.param(
            "Budi@Bücher.ID", "Budi@xn--bcher-kva.id", id="international-domain-idna"
        ),
        pytest.param(
            "budi@XN--BCHER-KVA.id", "budi@xn--bcher-kva.id", id="punycode-lowercased"
        ),
        pytest.param(
            "budi@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.id",
            "budi@example.id",
            id="full-width-letters-mapped",
        ),
        pytest.param(
            "budi@пример.рф", "budi@xn--e1afmkfd.xn--p1ai", id="all-cyrillic-domain"
        ),
    ],
)
def test_it_normalises_an_email_address(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        pytest.param("budi", "email_invalid", id="no-at-sign"),
        pytest.param("budi@", "email_invalid", id="no-domain"),
        pytest.param("@example.com", "email_invalid", id="no-local-part"),
        pytest.param("budi@example", "email_invalid", id="no-top-level-domain"),
        pytest.param("budi santoso@example.com", "email_invalid", id="space"),
        pytest.param("budi@@example.com", "email_invalid", id="two-at-signs"),
        pytest.param("budi@example..com", "email_invalid", id="empty-label"),
        pytest.param("", "email_invalid", id="empty"),
        pytest.param(email_of_length(255), "email_too_long", id="255-characters"),
        pytest.param(
            "budi@ex\u0430mple.id", "email_mixed_script", id="cyrillic-a-in-latin"
        ),
        pytest.param(
            "budi@g\u03bfogle.com", "email_mixed_script", id="greek-omicron-in-latin"
        ),
        pytest.param(
            "budi@xn--exmple-4nf.id", "email_mixed_script", id="mixed-in-punycode"
        ),
        pytest.param("budi@xn--zz.id", "email_invalid", id="broken-punycode"),
        pytest.param("budi@exa\u200bmple.id", "email_invalid", id="zero-width-space"),
        pytest.param("b\u0443di@example.id", "email_invalid", id="cyrillic-local-part"),
    ],
)
def test_it_refuses_an_email_address(raw: str, code: str) -> None:
    assert refusal_code(normalise_email, raw) == code


# Phone numbers


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("081234567890", id="national"),
        pytest.param("0812 3456 7890", id="national-spaces"),
        pytest.param("0812-3456-7890", id="national-dashes"),
        pytest.param("0812.3456.7890", id="national-dots"),
        pytest.param("(0812) 3456-7890", id="national-brackets"),
        pytest.param("+6281234567890", id="international"),
        pytest.param("+62 812 3456 7890", id="international-spaces"),
        pytest.param("+62-812-3456-7890", id="international-dashes"),
        pytest.param("+62 (812) 3456 7890", id="international-brackets"),
        pytest.param("6281234567890", id="country-code-without-plus"),
        pytest.param("62 812 3456 7890", id="country-code-without-plus-spaces"),
        pytest.param("0062 812 3456 7890", id="double-zero-prefix"),
        pytest.param("  0812 3456 7890 ", id="surrounding-whitespace"),
    ],
)
def test_it_normalises_an_indonesian_mobile_number_to_628(raw: str) -> None:
    assert normalise_phone(raw) == "6281234567890"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("0811 1234 567", "628111234567", id="telkomsel-eleven-digits"),
        pytest.param("0857-1234-5678", "6285712345678", id="indosat"),
        pytest.param("0896 1234 5678", "6289612345678", id="tri"),
    ],
)
def test_it_accepts_mobile_numbers_of_every_length_and_operator(
    raw: str, expected: str
) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        pytest.param("021 5555 1234", "phone_not_mobile", id="jakarta-landline"),
        pytest.param(
            "+62 21 5555 1234", "phone_not_mobile", id="jakarta-landline-international"
        ),
        pytest.param("(022) 123 4567", "phone_not_mobile", id="bandung-landline"),
        pytest.param("+65 9123 4567", "phone_not_indonesian", id="singapore-mobile"),
        pytest.param("+60 12 345 6789", "phone_not_indonesian", id="malaysia-mobile"),
        pytest.param("0812", "phone_too_short", id="four-digits"),
        pytest.param("0812 345", "phone_too_short", id="seven-digits"),
        pytest.param("+62 812", "phone_too_short", id="international-too-short"),
        pytest.param("0812 3456 7890 1234", "phone_too_long", id="too-long"),
        pytest.param("0812-ABC-7890", "phone_invalid_character", id="letters"),
        pytest.param(
            "0812 3456 789O", "phone_invalid_character", id="letter-o-for-zero"
        ),
        pytest.param("0812 3456 7890 ext 2", "phone_invalid_character", id="extension"),
        pytest.param(
            "٠٨١٢٣٤٥٦٧٨٩٠", "phone_invalid_character", id="arabic-indic-digits"
        ),
        pytest.param(
            "0812+3456+7890", "phone_invalid_character", id="plus-in-the-middle"
        ),
        pytest.param("0812/3456/7890", "phone_invalid_character", id="slashes"),
    ],
)
def test_it_refuses_a_phone_number(raw: str, code: str) -> None:
    assert refusal_code(normalise_phone, raw) == code
