"""A photo's memory budget: a small file that decodes to hundreds of megabytes (a
16-bit or transparent PNG of 7000x7000) is refused before it is decoded, and one
just within the budget is decoded in bounded memory. Measured in a process of its
own, as the web server would prepare it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from onboarding.models import PendingPhoto
from tests.applying import details
from tests.memory import MEGABYTE, prepared_in_a_process
from tests.pages import error_of, form_fields
from tests.photos import png_filled

# The server's memory for one photo, whatever the file.
PHOTO_MEMORY_BUDGET = 150 * MEGABYTE


@pytest.mark.parametrize(
    ("bit_depth", "colour_type"),
    [
        pytest.param(16, 0, id="16-bit-greyscale"),
        pytest.param(8, 6, id="rgba"),
        pytest.param(16, 6, id="16-bit-rgba"),
        pytest.param(8, 4, id="grey-and-alpha"),
    ],
)
def test_a_png_that_would_decode_to_hundreds_of_megabytes_is_refused_first(
    tmp_path, bit_depth, colour_type
):
    hostile = png_filled(7000, 7000, bit_depth=bit_depth, colour_type=colour_type)
    assert len(hostile) < 1_000_000  # a small file, under every byte limit

    seen = prepared_in_a_process(tmp_path, hostile)

    assert seen["outcome"] == "too_large_to_decode"
    assert seen["grew"] < PHOTO_MEMORY_BUDGET


@pytest.mark.parametrize(
    ("side", "bit_depth", "colour_type"),
    [
        pytest.param(3600, 8, 6, id="rgba-13-megapixels"),
        pytest.param(3400, 16, 0, id="16-bit-greyscale-11-megapixels"),
        pytest.param(4800, 8, 2, id="rgb-23-megapixels"),
    ],
)
def test_a_png_just_within_the_budget_is_decoded_in_bounded_memory(
    tmp_path, side, bit_depth, colour_type
):
    within = png_filled(side, side, bit_depth=bit_depth, colour_type=colour_type)

    seen = prepared_in_a_process(tmp_path, within)

    # Decoded and judged (this flat picture fails the quality checks, which
    # read it only once it is decoded).
    assert seen["outcome"] in ("prepared", "too_dark", "overexposed", "blurred")
    assert seen["grew"] < PHOTO_MEMORY_BUDGET


@pytest.mark.django_db
def test_the_form_says_beside_the_field_to_send_the_photo_another_way(applicant):
    hostile = png_filled(7000, 7000, bit_depth=16, colour_type=0)
    upload = SimpleUploadedFile("selfie.png", hostile, "image/png")

    response = applicant.post("/register/", details(faceImage=upload))

    assert "too large for us to process" in error_of(response, "faceImage")
    assert "send it as a JPEG" in error_of(response, "faceImage")
    assert not PendingPhoto.objects.filter(kind="face").exists()
    kept = form_fields(response.content.decode(), "data-register")
    assert kept["fullName"] == "Asep  supriyadi"
    assert PendingPhoto.objects.get(token=kept["identityPhoto"]).kind == "identity"
