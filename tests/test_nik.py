from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from onboarding.nik import (
    PROVINCE_CODES,
    birth_date_matches,
    encoded_birth_date,
    normalise_nik,
    structure_errors,
)
from verification.models import mask_nik

# Jakarta Pusat, Gambir; born 15 August 1990; serial 0001.
MAN = "3171011508900001"
# The same, for a woman: the day is 15 + 40.
WOMAN = "3171015508900001"
SANDBOX_TEST_NIKS = [f"123456789011111{n}" for n in range(1, 10)]
TODAY = date(2026, 6, 1)


def nik(
    *, province: str = "31", date_digits: str = "150890", serial: str = "0001"
) -> str:
    return f"{province}7101{date_digits}{serial}"


def in_digits(ascii_digits: str, zero: int) -> str:
    """`ascii_digits` written with the digits of another script, whose zero is the
    code point `zero` (0x0660 Arabic-Indic, 0xFF10 full-width...)."""
    return "".join(chr(zero + int(digit)) for digit in ascii_digits)


def codes(errors: list[ValidationError]) -> list[str | None]:
    return [error.code for error in errors]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(MAN, id="plain"),
        pytest.param("3171 0115 0890 0001", id="spaces"),
        pytest.param("3171-0115-0890-0001", id="dashes"),
        pytest.param("  3171011508900001\n", id="surrounding-whitespace"),
        pytest.param("3171\u00a00115\u00a00890\u00a00001", id="non-breaking-spaces"),
        pytest.param(
            "3171\u20090115\u202f0890\u30000001", id="thin-and-ideographic-spaces"
        ),
        pytest.param("3171\u201301150890\u20140001", id="en-and-em-dashes"),
        pytest.param("3171\u221201150890\u22120001", id="minus-signs"),
    ],
)
def test_it_accepts_a_nik_and_strips_spaces_and_dashes(raw: str) -> None:
    assert normalise_nik(raw) == MAN


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        pytest.param("317101150890001", "nik_wrong_length", id="fifteen-digits"),
        pytest.param("31710115089000011", "nik_wrong_length", id="seventeen-digits"),
        pytest.param("", "nik_wrong_length", id="empty"),
        pytest.param("  -  ", "nik_wrong_length", id="only-separators"),
        pytest.param(
            in_digits(MAN, 0x0660), "nik_not_digits", id="arabic-indic-digits"
        ),
        pytest.param(in_digits(MAN, 0x06F0), "nik_not_digits", id="persian-digits"),
        pytest.param(in_digits(MAN, 0xFF10), "nik_not_digits", id="full-width-digits"),
        pytest.param(
            MAN[:15] + in_digits(MAN[15], 0xFF10),
            "nik_not_digits",
            id="one-full-width-digit",
        ),
        pytest.param(in_digits(MAN, 0x0966), "nik_not_digits", id="devanagari-digits"),
        pytest.param("31710115089000²1", "nik_not_digits", id="superscript-digit"),
        pytest.param("3171O11508900001", "nik_not_digits", id="letter-o-for-zero"),
        pytest.param("3171.0115.0890.0001", "nik_not_digits", id="dots"),
        pytest.param("3171\u200b011508900001", "nik_not_digits", id="zero-width-space"),
        pytest.param("NIK 3171011508900001", "nik_not_digits", id="label"),
    ],
)
def test_it_refuses_a_nik_that_is_not_sixteen_ascii_digits(raw: str, code: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        normalise_nik(raw)

    assert excinfo.value.code == code


def test_it_tells_how_many_digits_were_entered() -> None:
    # Read in English, whatever language an earlier test left active.
    with translation.override("en"):
        with pytest.raises(ValidationError) as excinfo:
            normalise_nik("3171 0115 0890 001")
        messages = excinfo.value.messages

    assert messages == ["Your NIK must have exactly 16 digits. You entered 15."]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(MAN, id="man"),
        pytest.param(WOMAN, id="woman"),
        pytest.param(nik(date_digits="010190"), id="first-day-of-the-year"),
        pytest.param(nik(date_digits="311299"), id="last-day-of-the-year"),
        pytest.param(nik(date_digits="410190"), id="woman-born-on-the-1st"),
        pytest.param(nik(date_digits="711290"), id="woman-born-on-the-31st"),
        pytest.param(nik(date_digits="290296"), id="29-february-of-a-leap-year"),
        pytest.param(nik(date_digits="290200"), id="29-february-2000"),
        pytest.param(nik(date_digits="690296"), id="woman-born-29-february"),
        pytest.param(nik(date_digits="010126"), id="born-this-year"),
        pytest.param(nik(date_digits="020626"), id="after-today-so-born-in-1926"),
        pytest.param(nik(serial="9999"), id="serial-9999"),
        pytest.param(nik(province="96"), id="papua-barat-daya"),
        pytest.param(nik(province="65"), id="kalimantan-utara"),
    ],
)
def test_it_finds_nothing_wrong_with_a_well_formed_nik(value: str) -> None:
    assert structure_errors(value, today=TODAY) == []


@pytest.mark.parametrize(
    ("value", "code"),
    [
        pytest.param(nik(province="99"), "nik_unknown_province", id="province-99"),
        pytest.param(nik(province="00"), "nik_unknown_province", id="province-00"),
        pytest.param(nik(province="20"), "nik_unknown_province", id="province-20"),
        pytest.param(nik(province="37"), "nik_unknown_province", id="province-37"),
        pytest.param(nik(province="97"), "nik_unknown_province", id="province-97"),
        pytest.param(nik(date_digits="000190"), "nik_invalid_birth_date", id="day-0"),
        pytest.param(nik(date_digits="320190"), "nik_invalid_birth_date", id="day-32"),
        pytest.param(
            nik(date_digits="400190"), "nik_invalid_birth_date", id="day-40-neither"
        ),
        pytest.param(
            nik(date_digits="720190"), "nik_invalid_birth_date", id="woman-day-72"
        ),
        pytest.param(nik(date_digits="991290"), "nik_invalid_birth_date", id="day-99"),
        pytest.param(
            nik(date_digits="151390"), "nik_invalid_birth_date", id="month-13"
        ),
        pytest.param(nik(date_digits="150090"), "nik_invalid_birth_date", id="month-0"),
        pytest.param(
            nik(date_digits="300290"), "nik_invalid_birth_date", id="30-february"
        ),
        pytest.param(
            nik(date_digits="700290"), "nik_invalid_birth_date", id="woman-30-february"
        ),
        pytest.param(
            nik(date_digits="290297"), "nik_invalid_birth_date", id="29-february-1997"
        ),
        pytest.param(
            nik(date_digits="310490"), "nik_invalid_birth_date", id="31-april"
        ),
        pytest.param(nik(serial="0000"), "nik_zero_serial", id="serial-0000"),
    ],
)
def test_it_reports_a_nik_whose_digits_mean_nothing(value: str, code: str) -> None:
    assert codes(structure_errors(value, today=TODAY)) == [code]


def test_it_reports_every_structural_problem_at_once() -> None:
    value = nik(province="00", date_digits="320190", serial="0000")

    assert codes(structure_errors(value, today=TODAY)) == [
        "nik_unknown_province",
        "nik_invalid_birth_date",
        "nik_zero_serial",
    ]


def test_it_refuses_29_february_00_when_only_1900_could_be_meant() -> None:
    value = nik(date_digits="290200")

    assert codes(structure_errors(value, today=date(1999, 12, 31))) == [
        "nik_invalid_birth_date"
    ]


@pytest.mark.parametrize("value", SANDBOX_TEST_NIKS)
def test_it_flags_the_sandbox_test_niks_as_structurally_invalid(value: str) -> None:
    assert normalise_nik(value) == value
    assert codes(structure_errors(value, today=TODAY)) == ["nik_invalid_birth_date"]


def test_it_knows_every_indonesian_province_code() -> None:
    expected = [
        *range(11, 20),
        21,
        *range(31, 37),
        *range(51, 54),
        *range(61, 66),
        *range(71, 77),
        81,
        82,
        *range(91, 97),
    ]

    assert sorted(int(code) for code in PROVINCE_CODES) == expected
    assert len(PROVINCE_CODES) == 38


def test_it_uses_the_current_date_when_none_is_given() -> None:
    assert structure_errors(MAN) == []


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        pytest.param(MAN, (15, 8, 90), id="man"),
        pytest.param(WOMAN, (15, 8, 90), id="woman-day-plus-40"),
        pytest.param(nik(date_digits="410105"), (1, 1, 5), id="woman-born-2005"),
        pytest.param(nik(date_digits="320190"), None, id="no-real-date"),
        pytest.param(nik(date_digits="720190"), None, id="woman-day-72"),
        pytest.param(SANDBOX_TEST_NIKS[0], None, id="sandbox"),
    ],
)
def test_it_reads_the_birth_date_encoded_in_a_nik(
    value: str, encoded: tuple[int, int, int] | None
) -> None:
    assert encoded_birth_date(value) == encoded


@pytest.mark.parametrize(
    ("value", "birth_date", "matches"),
    [
        pytest.param(MAN, date(1990, 8, 15), True, id="man-same-date"),
        pytest.param(WOMAN, date(1990, 8, 15), True, id="woman-same-date"),
        pytest.param(MAN, date(1890, 8, 15), True, id="other-century-not-encoded"),
        pytest.param(MAN, date(1990, 8, 16), False, id="man-other-day"),
        pytest.param(WOMAN, date(1990, 8, 14), False, id="woman-other-day"),
        pytest.param(WOMAN, date(1990, 8, 25), False, id="woman-day-without-the-40"),
        pytest.param(MAN, date(1990, 9, 15), False, id="other-month"),
        pytest.param(MAN, date(1991, 8, 15), False, id="other-year"),
        pytest.param(
            nik(date_digits="050890"), date(1990, 5, 8), False, id="day-month-swapped"
        ),
        pytest.param(
            nik(date_digits="320190"), date(1990, 1, 1), True, id="nik-without-a-date"
        ),
    ],
)
def test_it_compares_the_typed_birth_date_with_the_one_in_the_nik(
    value: str, birth_date: date, matches: bool
) -> None:
    assert birth_date_matches(value, birth_date) is matches


@pytest.mark.parametrize(
    "function",
    [structure_errors, encoded_birth_date],
    ids=["structure_errors", "encoded_birth_date"],
)
def test_its_nik_readers_refuse_a_value_that_was_not_normalised(
    function: Callable[[str], object],
) -> None:
    with pytest.raises(ValueError, match="normalise_nik"):
        function("3171 0115 0890 0001")


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        pytest.param(MAN, "317101******0001", id="nik"),
        pytest.param("1234567890111111", "123456******1111", id="sandbox-nik"),
        pytest.param("12345", "*****", id="too-short-masked-whole"),
        pytest.param("3171 0115 0890 0001", "*******************", id="not-normalised"),
    ],
)
def test_it_masks_a_nik_for_lists_and_logs(value: str, masked: str) -> None:
    assert mask_nik(value) == masked
