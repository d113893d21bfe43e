"""The sandbox validates a request as the provider documents it: HTTP 400 with every
field's problems at once, in marshmallow's wording. Each rule is tried at its limit
and just past it, over HTTP as `runsandbox` serves it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.kredibel_payloads import (
    API_KEY,
    FACE_SIZE,
    KTP_SIZE,
    MISSING,
    b64,
    gif,
    html,
    jpeg,
    payload,
    png,
    png_claiming,
    post,
    serve_sandbox,
    svg,
)
from verification.sandbox.answers import Sandbox

FIELDS = [
    "identityId",
    "fullName",
    "birthDate",
    "emailAddress",
    "phoneNumber",
    "faceImage",
    "identityImage",
]
TEXT_FIELDS = FIELDS[:5]
IMAGE_FIELDS = ["faceImage", "identityImage"]
# Smallest valid size per image field, for tests that vary one other property.
MIN_SIZES = {"faceImage": FACE_SIZE, "identityImage": KTP_SIZE}


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with serve_sandbox(Sandbox(api_key=API_KEY)) as url:
        yield url


@pytest.fixture
def errors_for(sandbox_url):
    """POST a payload and return its field errors, asserting the documented 400
    shape; {} for an accepted payload."""

    def errors_for(**overrides: Any) -> dict[str, list[str]]:
        response = post(sandbox_url, payload(**overrides))
        assert response.headers["Content-Type"] == "application/json"
        if response.status_code == 200:
            return {}
        assert response.status_code == 400
        body = response.json()
        assert body["message"] == "Input payload validation failed."
        assert set(body) == {"errors", "message"}
        return body["errors"]

    return errors_for


def test_it_accepts_the_valid_payload(errors_for):
    assert errors_for() == {}


def test_it_reports_every_missing_field_at_once(errors_for):
    errors = errors_for(**dict.fromkeys(FIELDS, MISSING))

    assert errors == {name: ["Missing data for required field."] for name in FIELDS}
    assert list(errors) == FIELDS


def test_it_refuses_an_unknown_field(errors_for):
    assert errors_for(middleName="BIN") == {"middleName": ["Unknown field."]}


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", [1234567890123456, 12.5, True, ["a"], {"a": 1}])
def test_it_refuses_a_field_that_is_not_a_string(errors_for, field, value):
    assert errors_for(**{field: value}) == {field: ["Not a valid string."]}


@pytest.mark.parametrize("field", FIELDS)
def test_it_refuses_a_null_field(errors_for, field):
    assert errors_for(**{field: None}) == {field: ["Field may not be null."]}


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("value", ["", "   "])
def test_it_refuses_a_blank_field(errors_for, field, value):
    assert errors_for(**{field: value}) == {field: ["Field may not be blank."]}


def test_it_accepts_an_identity_id_of_16_characters(errors_for):
    assert errors_for(identityId="3171234567890123") == {}


@pytest.mark.parametrize("nik", ["317123456789012", "31712345678901234"])
def test_it_refuses_an_identity_id_of_15_or_17_characters(errors_for, nik):
    assert errors_for(identityId=nik) == {"identityId": ["Length must be 16."]}


@pytest.mark.parametrize("day", ["1990-02-28", "2000-02-29", "1990-12-31"])
def test_it_accepts_a_real_date_written_yyyy_mm_dd(errors_for, day):
    assert errors_for(birthDate=day) == {}


@pytest.mark.parametrize(
    "day", ["1990-02-30", "1991-02-29", "1990-13-01", "1990-00-10"]
)
def test_it_refuses_a_birth_date_that_is_not_a_real_date(errors_for, day):
    assert errors_for(birthDate=day) == {"birthDate": ["Not a valid date."]}


@pytest.mark.parametrize(
    "day",
    ["06-07-1990", "1990/07/06", "19900706", "1990-7-6", "1990-07-06T00:00:00"],
)
def test_it_refuses_a_birth_date_not_written_yyyy_mm_dd(errors_for, day):
    assert errors_for(birthDate=day) == {"birthDate": ["Not a valid date."]}


@pytest.mark.parametrize("field", IMAGE_FIELDS)
def test_it_refuses_an_image_with_a_data_uri_prefix(errors_for, field):
    image = "data:image/jpeg;base64," + b64(jpeg(*MIN_SIZES[field]))

    assert errors_for(**{field: image}) == {
        field: ["Must be plain base64 without a data: URI prefix."]
    }


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda text: text[:-1], id="padding missing"),
        pytest.param(lambda text: text[:100] + "\n" + text[100:], id="line break"),
        pytest.param(lambda text: text[:100] + "!" + text[101:], id="stray character"),
        pytest.param(
            lambda text: text.replace("+", "-").replace("/", "_"), id="urlsafe alphabet"
        ),
        pytest.param(lambda text: text[:100] + "é" + text[101:], id="not ASCII"),
    ],
)
@pytest.mark.parametrize("field", IMAGE_FIELDS)
def test_it_refuses_an_image_that_is_not_strict_base64(errors_for, field, mangle):
    text = b64(jpeg(*MIN_SIZES[field]) + b"\x00")  # 102401 bytes: "=" padded
    assert text.endswith("=")
    if "+" not in text and "/" not in text:
        pytest.fail("the image has no character that differs in urlsafe base64")

    assert errors_for(**{field: mangle(text)}) == {
        field: ["Not a valid base64 string."]
    }


@pytest.mark.parametrize("field", IMAGE_FIELDS)
def test_it_accepts_an_image_of_exactly_102400_bytes(errors_for, field):
    assert errors_for(**{field: b64(jpeg(*MIN_SIZES[field], size=102_400))}) == {}


@pytest.mark.parametrize("field", IMAGE_FIELDS)
def test_it_refuses_an_image_of_102399_bytes(errors_for, field):
    image = b64(jpeg(*MIN_SIZES[field], size=102_399))

    assert errors_for(**{field: image}) == {
        field: ["Image must be at least 102400 bytes."]
    }


def test_it_accepts_a_face_image_of_exactly_4000000_bytes(errors_for):
    assert errors_for(faceImage=b64(jpeg(*FACE_SIZE, size=4_000_000))) == {}


def test_it_refuses_a_face_image_of_4000001_bytes(errors_for):
    image = b64(jpeg(*FACE_SIZE, size=4_000_001))

    assert errors_for(faceImage=image) == {
        "faceImage": ["Image must be at most 4000000 bytes."]
    }


def test_it_accepts_an_identity_image_of_exactly_2000000_bytes(errors_for):
    assert errors_for(identityImage=b64(jpeg(*KTP_SIZE, size=2_000_000))) == {}


def test_it_refuses_an_identity_image_of_2000001_bytes(errors_for):
    image = b64(jpeg(*KTP_SIZE, size=2_000_001))

    assert errors_for(identityImage=image) == {
        "identityImage": ["Image must be at most 2000000 bytes."]
    }


@pytest.mark.parametrize("field", IMAGE_FIELDS)
@pytest.mark.parametrize("make", [jpeg, png], ids=["JPEG", "PNG"])
def test_it_accepts_an_image_exactly_480_pixels_wide(errors_for, field, make):
    assert errors_for(**{field: b64(make(480, MIN_SIZES[field][1]))}) == {}


@pytest.mark.parametrize("field", IMAGE_FIELDS)
@pytest.mark.parametrize("make", [jpeg, png], ids=["JPEG", "PNG"])
def test_it_refuses_an_image_479_pixels_wide(errors_for, field, make):
    image = b64(make(479, MIN_SIZES[field][1]))

    assert errors_for(**{field: image}) == {
        field: ["Image must be at least 480 pixels wide."]
    }


def test_it_accepts_a_face_image_exactly_640_pixels_high(errors_for):
    assert errors_for(faceImage=b64(jpeg(480, 640))) == {}


def test_it_refuses_a_face_image_lower_than_640_pixels(errors_for):
    assert errors_for(faceImage=b64(jpeg(480, 639))) == {
        "faceImage": ["Image must be at least 640 pixels high."]
    }


def test_it_accepts_an_identity_image_exactly_360_pixels_high(errors_for):
    assert errors_for(identityImage=b64(jpeg(480, 360))) == {}


def test_it_refuses_an_identity_image_lower_than_360_pixels(errors_for):
    assert errors_for(identityImage=b64(jpeg(480, 359))) == {
        "identityImage": ["Image must be at least 360 pixels high."]
    }


def test_it_refuses_an_image_too_narrow_and_too_low_with_both_messages(errors_for):
    assert errors_for(faceImage=b64(jpeg(400, 300))) == {
        "faceImage": [
            "Image must be at least 480 pixels wide.",
            "Image must be at least 640 pixels high.",
        ]
    }


def test_it_accepts_a_landscape_ktp_photo(errors_for):
    assert errors_for(identityImage=b64(jpeg(640, 400))) == {}


@pytest.mark.parametrize("field", IMAGE_FIELDS)
@pytest.mark.parametrize(
    "make", [gif, html, lambda: b"\x00" * 102_400], ids=["GIF", "HTML", "zeros"]
)
def test_it_refuses_bytes_that_are_not_a_jpeg_png_or_svg(errors_for, field, make):
    assert errors_for(**{field: b64(make())}) == {
        field: ["Must be a JPG, JPEG, PNG or SVG image."]
    }


def test_it_judges_the_type_by_content_not_by_a_claimed_name(errors_for):
    # A file name saying .jpg changes nothing (and is itself an unknown field).
    assert errors_for(faceImage=b64(gif()), faceImageName="selfie.jpg") == {
        "faceImage": ["Must be a JPG, JPEG, PNG or SVG image."],
        "faceImageName": ["Unknown field."],
    }


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(b"\xff\xd8\xff" + b"\x00" * 102_400, id="JPEG magic then zeros"),
        pytest.param(jpeg(*FACE_SIZE)[:2] + b"\xff\xc0\x00", id="truncated JPEG"),
        pytest.param(
            b"\x89PNG\r\n\x1a\n" + b"\x00" * 102_400, id="PNG magic then zeros"
        ),
        pytest.param(png_claiming(10_000, 10_000), id="PNG bomb warning"),
        pytest.param(png_claiming(20_000, 20_000), id="PNG bomb error"),
    ],
)
def test_it_refuses_a_broken_image_or_a_decompression_bomb(errors_for, image):
    errors = errors_for(faceImage=b64(image))

    assert errors["faceImage"][-1] == "Not a valid image."


def test_it_accepts_an_svg_with_width_and_height(errors_for):
    assert errors_for(faceImage=b64(svg("480", "640"))) == {}


def test_it_accepts_an_svg_with_only_a_view_box(errors_for):
    image = svg(None, None, view_box="0 0 480 640")

    assert errors_for(faceImage=b64(image)) == {}


def test_it_reads_svg_sizes_in_absolute_units(errors_for):
    # 5 in x 6.67 in at 96 px per inch: 480 x 640.32 px.
    assert errors_for(faceImage=b64(svg("5in", "6.67in"))) == {}
    assert errors_for(faceImage=b64(svg("4.99in", "6.67in"))) == {
        "faceImage": ["Image must be at least 480 pixels wide."]
    }


def test_it_refuses_an_svg_smaller_than_the_minimum(errors_for):
    assert errors_for(faceImage=b64(svg("479", "639"))) == {
        "faceImage": [
            "Image must be at least 480 pixels wide.",
            "Image must be at least 640 pixels high.",
        ]
    }


@pytest.mark.parametrize(
    ("width", "height", "view_box"),
    [
        pytest.param(None, None, None, id="no size at all"),
        pytest.param("100%", "100%", None, id="relative size"),
        pytest.param("480", None, None, id="width only"),
        pytest.param(None, None, "0 0 0 0", id="empty viewBox"),
    ],
)
def test_it_refuses_an_svg_whose_size_cannot_be_determined(
    errors_for, width, height, view_box
):
    image = svg(width, height, view_box=view_box)

    assert errors_for(faceImage=b64(image)) == {
        "faceImage": ["Could not determine the image's width and height."]
    }


def test_it_refuses_an_svg_that_declares_entities(errors_for):
    doctype = '<!DOCTYPE svg [<!ENTITY lol "lol">]>\n'

    assert errors_for(faceImage=b64(svg(doctype=doctype))) == {
        "faceImage": ["Not a valid image."]
    }


def test_it_collects_the_errors_of_every_field_at_once(errors_for):
    errors = errors_for(
        identityId="123",
        fullName=7,
        birthDate="06-07-1990",
        emailAddress="",
        phoneNumber=MISSING,
        faceImage=b64(jpeg(479, 640, size=102_399)),
        identityImage="data:image/png;base64,AAAA",
        extra="x",
    )

    assert errors == {
        "identityId": ["Length must be 16."],
        "fullName": ["Not a valid string."],
        "birthDate": ["Not a valid date."],
        "emailAddress": ["Field may not be blank."],
        "phoneNumber": ["Missing data for required field."],
        "faceImage": [
            "Image must be at least 102400 bytes.",
            "Image must be at least 480 pixels wide.",
        ],
        "identityImage": ["Must be plain base64 without a data: URI prefix."],
        "extra": ["Unknown field."],
    }
