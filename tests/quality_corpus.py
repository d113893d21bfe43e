"""A corpus for the photo quality checks (onboarding.quality), built from the fixture
portrait and a drawn KTP card, the same on every run (seeded noise).

Good photos vary the way ordinary ones do: the camera's size, a tighter or looser
crop, sensor noise, JPEG compression, a slightly tilted camera, light a little
dimmer or brighter. Bad ones are each aimed at one check: too dark, overexposed,
blurred, no face, a KTP in the selfie slot, two faces, glare on the KTP.

`evaluate()` runs every photo through the real preparation (`prepare_selfie`,
`prepare_identity`) and reports, per check, the good photos it refused or warned
about (false rejections) and the bad photos aimed at it that it let through.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np
from django.core.exceptions import ValidationError
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from onboarding.images import prepare_identity, prepare_selfie
from tests.photos import ktp_scene, selfie_scene

# Every check, and whether it refuses the photo or warns about it.
CHECKS = {
    "too_dark": "refuses",
    "overexposed": "refuses",
    "blurred": "refuses",
    "no_face": "warns",
    "several_faces": "warns",
    "glare": "warns",
}


@dataclass(frozen=True)
class Sample:
    name: str
    kind: str  # "face" or "identity"
    aimed_at: str | None  # the check that should catch it; None for a good photo
    data: bytes


def _noisy(picture: Image.Image, sigma: float, seed: int) -> Image.Image:
    if not sigma:
        return picture
    pixels = np.asarray(picture, dtype=np.int16)
    # Uniform noise of standard deviation `sigma` (half-width sigma * sqrt(3)): as
    # good as Gaussian grain for these checks, and far quicker to draw.
    spread = round(sigma * 3**0.5)
    noise = np.random.default_rng(seed).integers(
        -spread, spread, pixels.shape, dtype=np.int16, endpoint=True
    )
    noise += pixels
    np.clip(noise, 0, 255, out=noise)
    return Image.fromarray(noise.astype(np.uint8))


def _jpeg(picture: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _camera(picture: Image.Image, *, seed: int, sigma: float = 6.0, quality: int = 90):
    """What a camera would save: the scene with sensor noise, as a JPEG."""
    return _jpeg(_noisy(picture, sigma, seed), quality)


def _tilted(picture: Image.Image, degrees: float) -> Image.Image:
    """The camera turned a little: rotated, cropped back to the frame without
    the corners it cannot see."""
    turned = picture.rotate(degrees, Image.Resampling.BICUBIC, expand=False)
    margin = 0.08
    w, h = picture.size
    box = (
        round(w * margin),
        round(h * margin),
        round(w * (1 - margin)),
        round(h * (1 - margin)),
    )
    return turned.crop(box).resize(picture.size, Image.Resampling.BICUBIC)


def _selfie(size: tuple[int, int], **options) -> Image.Image:
    return selfie_scene(size, **options)


def _good_selfies() -> Iterator[Sample]:
    seed = 100
    for size in [
        (360, 480),
        (480, 640),
        (540, 720),
        (720, 960),
        (960, 1280),
        (1200, 1600),
        (2250, 3000),
    ]:
        seed += 1
        yield Sample(
            f"selfie {size[0]}x{size[1]}",
            "face",
            None,
            _camera(_selfie(size), seed=seed),
        )
    base = _selfie((960, 1280))
    for face_width in (0.3, 0.55, 0.7):
        seed += 1
        framed = _selfie((960, 1280), face_width=face_width)
        yield Sample(
            f"selfie, face {face_width:.0%} of the width",
            "face",
            None,
            _camera(framed, seed=seed),
        )
    for centre in ((0.4, 0.35), (0.6, 0.5)):
        seed += 1
        framed = _selfie((960, 1280), centre=centre)
        yield Sample(
            f"selfie, face off centre {centre}",
            "face",
            None,
            _camera(framed, seed=seed),
        )
    for sigma in (0.0, 12.0, 20.0):
        seed += 1
        yield Sample(
            f"selfie noise sigma {sigma:g}",
            "face",
            None,
            _camera(base, seed=seed, sigma=sigma),
        )
    for quality in (50, 70):
        seed += 1
        yield Sample(
            f"selfie JPEG quality {quality}",
            "face",
            None,
            _camera(base, seed=seed, quality=quality),
        )
    for degrees in (-8, -4, 4, 8):
        seed += 1
        yield Sample(
            f"selfie tilted {degrees:+d} degrees",
            "face",
            None,
            _camera(_tilted(base, degrees), seed=seed),
        )
    for light in (0.65, 1.2):
        seed += 1
        dimmed = ImageEnhance.Brightness(base).enhance(light)
        yield Sample(f"selfie light x{light}", "face", None, _camera(dimmed, seed=seed))
    landscape = _selfie((1280, 720), face_width=0.25)
    yield Sample(
        "selfie from a 1280x720 landscape frame",
        "face",
        None,
        _camera(landscape, seed=seed + 1),
    )


def _bad_selfies() -> Iterator[Sample]:
    base = _selfie((960, 1280))
    seed = 200
    for light in (0.12, 0.22):
        seed += 1
        dark = ImageEnhance.Brightness(base).enhance(light)
        yield Sample(
            f"selfie dark x{light}",
            "face",
            "too_dark",
            _camera(dark, seed=seed, sigma=4),
        )
    for gain in (2.4, 3.2):
        seed += 1
        bright = ImageEnhance.Brightness(base).enhance(gain)
        yield Sample(
            f"selfie overexposed x{gain}",
            "face",
            "overexposed",
            _camera(bright, seed=seed),
        )
    for radius in (6, 10, 16):
        seed += 1
        blurred = base.filter(ImageFilter.GaussianBlur(radius))
        yield Sample(
            f"selfie blurred radius {radius}",
            "face",
            "blurred",
            _camera(blurred, seed=seed),
        )
    small_blur = _selfie((480, 640)).filter(ImageFilter.GaussianBlur(5))
    yield Sample(
        "selfie 480x640 blurred radius 5",
        "face",
        "blurred",
        _camera(small_blur, seed=seed + 1),
    )
    # No face: the portrait's background, a wall, the face turned away (upside down).
    wall = Image.new("RGB", (960, 1280), (170, 160, 140))
    draw = ImageDraw.Draw(wall)
    for y in range(0, 1280, 90):
        draw.line((0, y, 960, y + 40), fill=(120, 110, 100), width=6)
    yield Sample("wall, no face", "face", "no_face", _camera(wall, seed=211))
    shelf = Image.new("RGB", (960, 1280), (90, 70, 50))
    draw = ImageDraw.Draw(shelf)
    for row in range(6):
        for book in range(14):
            shade = (40 + book * 13 % 180, 60 + row * 25, 90 + book * 7 % 120)
            x, y = 20 + book * 66, 30 + row * 210
            draw.rectangle(
                (x, y, x + 52, y + 180), fill=shade, outline=(20, 20, 20), width=3
            )
    yield Sample("bookshelf, no face", "face", "no_face", _camera(shelf, seed=212))
    yield Sample(
        "KTP in the selfie slot",
        "face",
        "no_face",
        _camera(ktp_scene((1600, 1000), noise=0), seed=214),
    )
    upright_ktp = ktp_scene((1280, 1700), noise=0)
    yield Sample(
        "KTP held upright in the selfie slot",
        "face",
        "no_face",
        _camera(upright_ktp, seed=215),
    )
    pair = Image.new("RGB", (960, 1280), (150, 146, 140))
    for left in (0, 480):
        pair.paste(_selfie((480, 1280), face_width=0.5, centre=(0.5, 0.35)), (left, 0))
    yield Sample(
        "two faces side by side", "face", "several_faces", _camera(pair, seed=216)
    )
    group = Image.new("RGB", (960, 1280), (150, 146, 140))
    group.paste(_selfie((540, 720), face_width=0.55), (0, 180))
    group.paste(_selfie((420, 560), face_width=0.6), (540, 300))
    yield Sample(
        "two faces, one further back", "face", "several_faces", _camera(group, seed=217)
    )


def _good_ktps() -> Iterator[Sample]:
    seed = 300
    for size in [(640, 400), (800, 500), (1280, 800), (1600, 1000), (3000, 1900)]:
        seed += 1
        yield Sample(
            f"KTP {size[0]}x{size[1]}",
            "identity",
            None,
            _camera(ktp_scene(size, noise=0), seed=seed),
        )
    base = ktp_scene((1600, 1000), noise=0)
    for sigma in (0.0, 14.0):
        seed += 1
        yield Sample(
            f"KTP noise sigma {sigma:g}",
            "identity",
            None,
            _camera(base, seed=seed, sigma=sigma),
        )
    for quality in (50, 70):
        seed += 1
        yield Sample(
            f"KTP JPEG quality {quality}",
            "identity",
            None,
            _camera(base, seed=seed, quality=quality),
        )
    for degrees in (-6, 6):
        seed += 1
        yield Sample(
            f"KTP tilted {degrees:+d} degrees",
            "identity",
            None,
            _camera(_tilted(base, degrees), seed=seed),
        )
    for light in (0.65, 1.2):
        seed += 1
        lit = ImageEnhance.Brightness(base).enhance(light)
        yield Sample(f"KTP light x{light}", "identity", None, _camera(lit, seed=seed))
    on_white = ktp_scene((1600, 1000), noise=0, table=(226, 224, 220))
    yield Sample(
        "KTP on a white table", "identity", None, _camera(on_white, seed=seed + 1)
    )


def _bad_ktps() -> Iterator[Sample]:
    base = ktp_scene((1600, 1000), noise=0)
    yield Sample(
        "KTP dark",
        "identity",
        "too_dark",
        _camera(ImageEnhance.Brightness(base).enhance(0.15), seed=401, sigma=4),
    )
    yield Sample(
        "KTP overexposed",
        "identity",
        "overexposed",
        _camera(ImageEnhance.Brightness(base).enhance(2.6), seed=402),
    )
    for radius in (5, 8):
        yield Sample(
            f"KTP blurred radius {radius}",
            "identity",
            "blurred",
            _camera(base.filter(ImageFilter.GaussianBlur(radius)), seed=403 + radius),
        )
    for share, name in ((0.06, "small"), (0.15, "large")):
        glared = base.copy()
        w, h = glared.size
        rx, ry = (
            (w * h * share / 3.14 * 1.6) ** 0.5,
            (w * h * share / 3.14 / 1.6) ** 0.5,
        )
        highlight = Image.new("L", glared.size, 0)
        ImageDraw.Draw(highlight).ellipse(
            (w * 0.4 - rx, h * 0.5 - ry, w * 0.4 + rx, h * 0.5 + ry), fill=255
        )
        highlight = highlight.filter(ImageFilter.GaussianBlur(6))
        glared.paste((255, 255, 255), mask=highlight)
        yield Sample(
            f"KTP with a {name} glare",
            "identity",
            "glare",
            _camera(glared, seed=410 + round(share * 100), sigma=2),
        )


@cache
def corpus() -> tuple[Sample, ...]:
    return (*_good_selfies(), *_bad_selfies(), *_good_ktps(), *_bad_ktps())


@dataclass(frozen=True)
class Verdict:
    sample: Sample
    refused: str | None  # the refusal code, or None
    warnings: tuple[str, ...]

    @property
    def flags(self) -> set[str]:
        return ({self.refused} if self.refused else set()) | set(self.warnings)


def judge(sample: Sample) -> Verdict:
    prepare = prepare_selfie if sample.kind == "face" else prepare_identity
    try:
        prepared = prepare(sample.data)
    except ValidationError as error:
        return Verdict(sample, str(error.code), ())
    return Verdict(sample, None, prepared.warnings)


@dataclass(frozen=True)
class Figures:
    check: str
    good: int  # good photos of the kind the check applies to
    false_rejections: list[str]
    bad: int  # bad photos aimed at the check
    let_through: list[str]


def evaluate(verdicts: list[Verdict] | None = None) -> list[Figures]:
    """Per check: the good photos it flagged, and the bad ones aimed at it that it
    did not flag. A good photo refused for another reason (too small, too little
    detail) is listed under that code."""
    verdicts = verdicts if verdicts is not None else [judge(s) for s in corpus()]
    codes = list(CHECKS) + sorted(
        {v.refused for v in verdicts if v.refused and v.refused not in CHECKS}
    )
    figures = []
    for code in codes:
        applies = {"no_face": "face", "several_faces": "face", "glare": "identity"}.get(
            code
        )
        good = [
            v
            for v in verdicts
            if v.sample.aimed_at is None and applies in (None, v.sample.kind)
        ]
        bad = [v for v in verdicts if v.sample.aimed_at == code]
        figures.append(
            Figures(
                check=code,
                good=len(good),
                false_rejections=[v.sample.name for v in good if code in v.flags],
                bad=len(bad),
                let_through=[v.sample.name for v in bad if code not in v.flags],
            )
        )
    return figures
