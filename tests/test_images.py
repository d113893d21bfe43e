from __future__ import annotations

import dataclasses
import io
import random
from collections.abc import Callable
from functools import cache
from typing import IO

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageCms, ImageDraw, ImageFont

from onboarding import images
from onboarding.images import PreparedImage, prepare_identity, prepare_selfie
from tests.photos import (
    BLUE,
    GPS_IFD,
    RED,
    encode,
    jpeg_markers,
    mean_colour,
    phone_jpeg,
    png_header_only,
    scene,
)

Prepare = Callable[[bytes | IO[bytes]], PreparedImage]

SELFIE = pytest.param(prepare_selfie, id="selfie")
IDENTITY = pytest.param(prepare_identity, id="ktp")
BOTH = [SELFIE, IDENTITY]

# Segments a prepared JPEG may hold: start of image, JFIF header, quantisation and
# Huffman tables, baseline frame, start of scan. Anything else (APP1 EXIF/XMP, APP2
# ICC, APP13 IPTC, COM comments, progressive frames) must not survive.
ALLOWED_MARKERS = {0xD8, 0xE0, 0xDB, 0xC4, 0xC0, 0xDA}


def assert_ready_for_provider(prepared: PreparedImage, prepare: Prepare) -> Image.Image:
    """The prepared photo meets the provider's rules with our margins; returns it
    decoded for further checks."""
    if prepare is prepare_selfie:
        min_w, min_h = images.SELFIE_MIN_SIZE
        max_bytes = images.SELFIE_TARGET_MAX_BYTES
    else:
        min_w, min_h = images.IDENTITY_MIN_SIZE
        max_bytes = images.IDENTITY_TARGET_MAX_BYTES
    assert images.TARGET_MIN_BYTES <= len(prepared.data) <= max_bytes
    assert len(prepared.data) > images.PROVIDER_MIN_BYTES
    assert set(jpeg_markers(prepared.data)) <= ALLOWED_MARKERS
    decoded = Image.open(io.BytesIO(prepared.data))
    assert decoded.format == "JPEG"
    assert decoded.mode == "RGB"
    assert decoded.size == (prepared.width, prepared.height)
    assert prepared.width >= min_w
    assert prepared.height >= min_h
    assert max(decoded.size) <= images.LONG_SIDE_CAP
    assert not decoded.getexif()
    assert "icc_profile" not in decoded.info
    return decoded


def refusal_code(prepare: Prepare, source: bytes | IO[bytes] | io.IOBase) -> str:
    with pytest.raises(ValidationError) as excinfo:
        # A raw stream stands in for an upload: preparation only calls read().
        prepare(source)  # type: ignore[arg-type]
    assert excinfo.value.messages  # a message the applicant can read
    return str(excinfo.value.code)


def assert_close(colour: tuple[float, ...], expected: tuple[int, int, int]) -> None:
    assert all(abs(a - b) < 40 for a, b in zip(colour, expected, strict=True)), colour


@cache
def twelve_megapixel_phone_photo() -> bytes:
    """4000x3000 pixels stored sideways with EXIF orientation 6, as a phone held
    upright saves them."""
    return phone_jpeg((3000, 4000), orientation=6)


@pytest.mark.parametrize("prepare", BOTH)
def test_it_prepares_a_twelve_megapixel_phone_photo_within_the_provider_limits(
    prepare: Prepare,
) -> None:
    prepared = prepare(twelve_megapixel_phone_photo())

    assert_ready_for_provider(prepared, prepare)


def test_it_scales_a_selfie_to_a_long_side_of_1280_pixels() -> None:
    prepared = prepare_selfie(phone_jpeg((1500, 2000)))

    assert (prepared.width, prepared.height) == (960, 1280)


def test_it_scales_a_ktp_photo_to_a_long_side_of_1600_pixels_keeping_its_shape() -> (
    None
):
    prepared = prepare_identity(phone_jpeg((2400, 1800)))

    assert (prepared.width, prepared.height) == (1600, 1200)


@pytest.mark.parametrize(
    "orientation", [2, 3, 4, 5, 6, 7, 8], ids=lambda o: f"exif-{o}"
)
@pytest.mark.parametrize("prepare", BOTH)
def test_it_turns_a_photo_upright_from_its_exif_orientation(
    prepare: Prepare, orientation: int
) -> None:
    source = phone_jpeg((1200, 1600), orientation=orientation, markers=True)

    prepared = prepare(source)

    decoded = assert_ready_for_provider(prepared, prepare)
    assert decoded.width < decoded.height
    corner = decoded.width // 10
    assert_close(mean_colour(decoded, (4, 4, corner, corner)), RED)
    right = decoded.width - 4
    assert_close(mean_colour(decoded, (right - corner, 4, right, corner)), BLUE)


def test_it_crops_a_landscape_selfie_to_a_centred_three_by_four_portrait() -> None:
    picture = scene((2000, 1500))

    prepared = prepare_selfie(encode(picture))

    decoded = assert_ready_for_provider(prepared, prepare_selfie)
    assert (prepared.width, prepared.height) == (960, 1280)
    # The centre of the source is the centre of the crop.
    source_centre = mean_colour(picture, (950, 700, 1050, 800))
    centre = mean_colour(decoded, (430, 590, 530, 690))
    assert_close(centre, tuple(round(c) for c in source_centre))  # type: ignore[arg-type]


def test_it_keeps_a_nine_by_sixteen_selfie_whole() -> None:
    prepared = prepare_selfie(phone_jpeg((1080, 1920)))

    assert (prepared.width, prepared.height) == (720, 1280)


def test_it_crops_a_selfie_narrower_than_nine_by_sixteen_to_nine_by_sixteen() -> None:
    prepared = prepare_selfie(phone_jpeg((900, 2400)))

    assert (prepared.width, prepared.height) == (720, 1280)


def test_it_does_not_crop_a_landscape_ktp_photo() -> None:
    prepared = prepare_identity(phone_jpeg((1600, 1000)))

    assert (prepared.width, prepared.height) == (1600, 1000)


@pytest.mark.parametrize("prepare", BOTH)
def test_it_never_upscales_a_photo_at_the_minimum_size(prepare: Prepare) -> None:
    size = (480, 640) if prepare is prepare_selfie else (480, 360)

    # A noisy sensor: at this size only real grain reaches the byte minimum.
    prepared = prepare(encode(scene(size, noise=0.25)))

    assert (prepared.width, prepared.height) == size


@pytest.mark.parametrize(
    "size",
    [
        pytest.param((360, 480), id="portrait-360x480"),
        pytest.param((640, 480), id="webcam-640x480"),
        pytest.param((420, 560), id="portrait-420x560"),
    ],
)
def test_it_scales_a_selfie_from_a_camera_480_pixels_high_up_to_the_minimum(
    size: tuple[int, int],
) -> None:
    prepared = prepare_selfie(encode(scene(size, noise=0.2), quality=92))

    assert_ready_for_provider(prepared, prepare_selfie)
    assert (prepared.width, prepared.height) == (480, 640)


def test_it_judges_a_small_selfie_before_scaling_it_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    judged: list[tuple[int, int]] = []
    assess = images._SELFIE.assess

    def spy(grey):
        judged.append((grey.shape[1], grey.shape[0]))
        return assess(grey)

    monkeypatch.setattr(
        images, "_SELFIE", dataclasses.replace(images._SELFIE, assess=spy)
    )

    prepare_selfie(encode(scene((640, 480), noise=0.2), quality=92))

    assert judged == [(360, 480)]


@pytest.mark.parametrize(
    ("prepare", "size"),
    [
        pytest.param(prepare_selfie, (359, 480), id="selfie-too-narrow"),
        pytest.param(prepare_selfie, (360, 479), id="selfie-too-short"),
        pytest.param(prepare_selfie, (640, 360), id="selfie-from-a-360p-camera"),
        pytest.param(prepare_identity, (479, 360), id="ktp-too-narrow"),
        pytest.param(prepare_identity, (480, 359), id="ktp-too-short"),
        pytest.param(prepare_selfie, (120, 160), id="selfie-thumbnail"),
    ],
)
def test_it_refuses_a_photo_below_the_minimum_size(
    prepare: Prepare, size: tuple[int, int]
) -> None:
    assert refusal_code(prepare, phone_jpeg(size)) == "too_small"


def test_it_checks_the_minimum_size_after_turning_the_photo_upright() -> None:
    # Stored as 640x480 landscape, shown as a 480x640 portrait.
    source = encode(scene((480, 640), noise=0.25), orientation=6)

    prepared = prepare_selfie(source)

    assert (prepared.width, prepared.height) == (480, 640)


def test_it_removes_gps_location_and_every_other_metadata() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = encode(
        scene((1200, 1600)),
        orientation=1,
        gps=True,
        icc_profile=icc,
        comment=b"Taken at Jl. Medan Merdeka",
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>',
    )
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(GPS_IFD)

    prepared = prepare_selfie(source)

    decoded = assert_ready_for_provider(prepared, prepare_selfie)
    assert not decoded.getexif().get_ifd(GPS_IFD)
    assert "exif" not in decoded.info
    assert "xmp" not in decoded.info
    assert "comment" not in decoded.info
    assert b"Merdeka" not in prepared.data
    assert b"TestCam" not in prepared.data


def test_it_writes_a_baseline_not_a_progressive_jpeg() -> None:
    source = encode(scene((1200, 1600)), progressive=True)

    prepared = prepare_selfie(source)

    markers = jpeg_markers(prepared.data)
    assert 0xC0 in markers
    assert 0xC2 not in markers


@pytest.mark.parametrize("prepare", BOTH)
def test_it_converts_a_cmyk_jpeg_to_rgb(prepare: Prepare) -> None:
    picture = scene((1200, 1600), markers=True)
    source = encode(picture.convert("CMYK"))

    prepared = prepare(source)

    decoded = assert_ready_for_provider(prepared, prepare)
    assert_close(mean_colour(decoded, (4, 4, 60, 60)), RED)


def test_it_puts_a_transparent_png_on_white() -> None:
    picture = scene((1200, 1600)).convert("RGBA")
    picture.paste((0, 0, 0, 0), (0, 0, 300, 300))  # transparent black top-left

    prepared = prepare_selfie(encode(picture, "PNG"))

    decoded = assert_ready_for_provider(prepared, prepare_selfie)
    assert_close(mean_colour(decoded, (4, 4, 200, 200)), (255, 255, 255))


def test_it_scales_a_sixteen_bit_png_instead_of_clipping_it_to_white() -> None:
    grey = scene((1200, 1600)).convert("L")
    sixteen_bit = grey.convert("I").point(lambda v: v * 257).convert("I;16")
    source = encode(sixteen_bit, "PNG")
    assert Image.open(io.BytesIO(source)).mode.startswith("I")

    prepared = prepare_identity(source)

    decoded = assert_ready_for_provider(prepared, prepare_identity)
    expected = mean_colour(grey, (0, 0, grey.width, grey.height))[0]
    assert (
        abs(mean_colour(decoded, (0, 0, decoded.width, decoded.height))[0] - expected)
        < 8
    )


@pytest.mark.parametrize(
    "mode", ["L", "P", "1", "LA"], ids=["grayscale", "palette", "bilevel", "grey-alpha"]
)
def test_it_converts_other_png_modes_to_rgb(mode: str) -> None:
    picture = scene((1200, 1600)).convert(mode)

    prepared = prepare_identity(encode(picture, "PNG"))

    assert_ready_for_provider(prepared, prepare_identity)


@pytest.mark.parametrize("prepare", BOTH)
def test_it_converts_a_webp_photo_to_jpeg(prepare: Prepare) -> None:
    source = encode(scene((1200, 1600), markers=True), "WEBP", quality=90)

    prepared = prepare(source)

    decoded = assert_ready_for_provider(prepared, prepare)
    assert_close(mean_colour(decoded, (4, 4, 60, 60)), RED)


def test_it_reads_a_jpeg_with_a_multi_picture_index_as_a_jpeg() -> None:
    # Android "Ultra HDR" photos and some cameras append a second picture (gain or
    # depth map) indexed by an MPF segment; Pillow reports them as MPO.
    first = scene((1200, 1600), markers=True)
    buffer = io.BytesIO()
    first.save(buffer, "MPO", save_all=True, append_images=[first.resize((300, 400))])
    assert Image.open(io.BytesIO(buffer.getvalue())).format == "MPO"

    prepared = prepare_selfie(buffer.getvalue())

    decoded = assert_ready_for_provider(prepared, prepare_selfie)
    assert_close(mean_colour(decoded, (4, 4, 60, 60)), RED)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(b"<!DOCTYPE html><html><body>Not found</body></html>", id="html"),
        pytest.param(
            b'<svg xmlns="http://www.w3.org/2000/svg" width="480" height="640"/>',
            id="svg",
        ),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n", id="pdf"),
        pytest.param(b"", id="empty"),
        pytest.param(encode(scene((600, 800)), "GIF"), id="gif"),
        pytest.param(encode(scene((600, 800)), "BMP"), id="bmp"),
        pytest.param(encode(scene((600, 800)), "TIFF"), id="tiff"),
        pytest.param(phone_jpeg((1200, 1600))[:60_000], id="truncated-jpeg"),
        pytest.param(encode(scene((1200, 1600)), "PNG")[:80_000], id="truncated-png"),
    ],
)
@pytest.mark.parametrize("prepare", BOTH)
def test_it_refuses_a_file_that_is_not_a_photo_it_can_read(
    prepare: Prepare, source: bytes
) -> None:
    assert refusal_code(prepare, source) == "not_an_image"


def test_it_refuses_html_uploaded_under_a_jpg_name() -> None:
    upload = SimpleUploadedFile(
        "selfie.jpg", b"<html><body>hello</body></html>", content_type="image/jpeg"
    )

    assert refusal_code(prepare_selfie, upload) == "not_an_image"


@pytest.mark.parametrize(
    ("width", "height"),
    [
        pytest.param(40_000, 40_000, id="1600-megapixels"),
        pytest.param(10_000, 10_000, id="100-megapixels-over-pillow-warning"),
        pytest.param(8_000, 6_300, id="50.4-megapixels-over-our-limit"),
    ],
)
def test_it_refuses_a_decompression_bomb_from_its_header(
    width: int, height: int
) -> None:
    # The file declares its size and carries almost no pixel data: had anything
    # tried to decode it, it would be refused as unreadable, not as too large.
    code = refusal_code(prepare_selfie, png_header_only(width, height))

    assert code == "too_many_pixels"


def test_it_refuses_a_file_over_fifteen_megabytes() -> None:
    source = phone_jpeg((1200, 1600)) + b"\0" * images.MAX_INPUT_BYTES

    assert refusal_code(prepare_selfie, source) == "too_large"


class EndlessUpload(io.RawIOBase):
    """A stream that never ends, counting what was read from it."""

    def __init__(self) -> None:
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        buffer[:] = b"\xff" * len(buffer)
        self.bytes_read += len(buffer)
        return len(buffer)


def test_it_stops_reading_an_upload_as_soon_as_it_passes_fifteen_megabytes() -> None:
    stream = EndlessUpload()

    assert refusal_code(prepare_selfie, stream) == "too_large"

    assert stream.bytes_read <= images.MAX_INPUT_BYTES + images.READ_CHUNK_BYTES


def test_it_reads_a_django_upload_from_its_start_even_after_form_validation() -> None:
    upload = SimpleUploadedFile("selfie.jpg", phone_jpeg((1200, 1600)))
    upload.read()  # as Django's ImageField does when it checks the file

    prepared = prepare_selfie(upload)

    assert_ready_for_provider(prepared, prepare_selfie)


@pytest.mark.parametrize("prepare", BOTH)
def test_it_raises_quality_until_a_plain_photo_reaches_the_byte_minimum(
    prepare: Prepare,
) -> None:
    # Sharp, with the faint grain of a good sensor: under 100 KB at quality 85.
    picture = scene((720, 960), noise=0.04)
    ordinary = io.BytesIO()
    picture.save(ordinary, "JPEG", quality=images.JPEG_QUALITY)
    assert len(ordinary.getvalue()) < images.TARGET_MIN_BYTES

    prepared = prepare(encode(picture, quality=97))

    assert_ready_for_provider(prepared, prepare)


def page_of_text(size: tuple[int, int]) -> Image.Image:
    """Sharp black lines of text on grey: in focus, well lit, and nearly nothing
    for a JPEG to keep."""
    page = Image.new("RGB", size, (150, 150, 150))
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=20)
    for top in range(20, size[1], 60):
        draw.text((20, top), "Lorem ipsum dolor sit amet", fill="black", font=font)
    return page


@pytest.mark.parametrize("prepare", BOTH)
def test_it_asks_for_a_better_photo_rather_than_pad_one_to_the_byte_minimum(
    prepare: Prepare,
) -> None:
    source = encode(page_of_text((600, 800)))

    assert refusal_code(prepare, source) == "too_little_detail"


def test_it_stops_raising_quality_at_95() -> None:
    tried: list[int] = []
    encode_jpeg = images._encode_jpeg

    def spy(image, quality, subsampling):
        tried.append(quality)
        return encode_jpeg(image, quality, subsampling)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(images, "_encode_jpeg", spy)
        refusal_code(prepare_selfie, encode(page_of_text((600, 800))))

    assert max(tried) == 95


@pytest.mark.parametrize("prepare", BOTH)
def test_it_refuses_a_blank_photo_as_blurred(prepare: Prepare) -> None:
    blank = Image.new("RGB", (600, 800), (128, 128, 128))

    assert refusal_code(prepare, encode(blank)) == "blurred"


def random_noise(size: tuple[int, int]) -> Image.Image:
    """Black and white pixels at random in every channel: the most bytes a JPEG of
    this size can take."""
    randomness = random.Random(20260101).randbytes(size[0] * size[1] * 3)
    return Image.frombytes(
        "RGB", size, bytes(255 if b > 127 else 0 for b in randomness)
    )


def test_it_lowers_quality_and_size_until_a_photo_is_under_the_byte_maximum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No photo reaches 1.9 MB at 1600 px and quality 85 (pure noise comes close, at
    # 1.8 MB), so a lower maximum stands in for it.
    monkeypatch.setattr(
        images, "_IDENTITY", dataclasses.replace(images._IDENTITY, max_bytes=400_000)
    )

    prepared = prepare_identity(encode(random_noise((1600, 1200)), "PNG"))

    assert images.TARGET_MIN_BYTES <= len(prepared.data) <= 400_000
    assert prepared.width >= 480
    assert prepared.height >= 360


def test_it_refuses_a_photo_it_cannot_bring_under_the_byte_maximum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        images, "_IDENTITY", dataclasses.replace(images._IDENTITY, max_bytes=90_000)
    )
    source = encode(random_noise((1600, 1200)), "PNG")

    assert refusal_code(prepare_identity, source) == "too_much_detail"


def test_the_prepared_photo_does_not_show_its_bytes_in_its_repr() -> None:
    prepared = PreparedImage(data=b"\xff\xd8 secret pixels", width=480, height=640)

    assert "secret" not in repr(prepared)
    assert repr(prepared) == "PreparedImage(width=480, height=640, warnings=())"
