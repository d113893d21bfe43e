"""Drawn photos for demo data: a simple face for a selfie, a card marked DEMO for a
KTP. Obviously not anyone's identity, yet shaped like the real thing (portrait 3:4
selfie, ID-1 card) and noisy like a camera photo, so that after
`onboarding.images.prepare_*` they meet the provider's sizes (at least 100 KB,
480x640 and 480x360 pixels)."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageDraw, ImageFont

SELFIE_SIZE = (960, 1280)
KTP_SIZE = (1280, 807)  # ID-1, 85.60 x 53.98 mm
NOISE = 0.16

SKIN = [(241, 194, 160), (224, 172, 135), (198, 134, 96), (161, 102, 70)]
HAIR = [(30, 24, 20), (55, 40, 30), (20, 20, 25)]
SHIRTS = [(52, 101, 164), (164, 52, 74), (60, 140, 90), (90, 90, 90), (200, 160, 40)]
BACKDROPS = [(226, 232, 240), (240, 236, 226), (220, 236, 228), (236, 226, 236)]


@dataclass(frozen=True)
class Look:
    """One demo person's colours, the same on their selfie and their KTP."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    shirt: tuple[int, int, int]
    backdrop: tuple[int, int, int]

    @classmethod
    def pick(cls, rng: random.Random) -> Look:
        return cls(
            rng.choice(SKIN),
            rng.choice(HAIR),
            rng.choice(SHIRTS),
            rng.choice(BACKDROPS),
        )


def selfie_jpeg(look: Look) -> bytes:
    """A 3:4 portrait of a drawn face, JPEG."""
    picture = Image.new("RGB", SELFIE_SIZE, look.backdrop)
    draw = ImageDraw.Draw(picture)
    width, height = SELFIE_SIZE
    draw_person(draw, (0, 0, width, height), look)
    draw.text((24, 24), "DEMO", fill=(200, 30, 30), font=_font(56))
    return _camera_jpeg(picture)


def ktp_jpeg(look: Look, *, nik: str, name: str, birth: str) -> bytes:
    """A card shaped like a KTP, printed with the demo data and DEMO across it."""
    width, height = KTP_SIZE
    card = Image.new("RGB", KTP_SIZE, (120, 170, 215))
    draw = ImageDraw.Draw(card)
    for y in range(0, height, 6):  # the card's printed background pattern
        draw.line((0, y, width, y), fill=(112, 162, 210) if y % 12 else (128, 178, 222))
    draw.text(
        (width // 2, 30), "PROVINSI DEMO", fill="black", font=_font(44), anchor="mt"
    )
    draw.text(
        (width // 2, 84), "KABUPATEN CONTOH", fill="black", font=_font(40), anchor="mt"
    )
    rows = [
        ("NIK", nik),
        ("Nama", name),
        ("Tempat/Tgl Lahir", f"CONTOH, {birth}"),
        ("Alamat", "JL. CONTOH NO. 1"),
        ("Pekerjaan", "CONTOH"),
        ("Berlaku Hingga", "SEUMUR HIDUP"),
    ]
    for line, (label, value) in enumerate(rows):
        y = 170 + line * 70
        size = 46 if label == "NIK" else 32
        draw.text((40, y), label, fill="black", font=_font(32))
        draw.text((330, y), f": {value}", fill="black", font=_font(size))
    portrait = Image.new("RGB", (290, 390), look.backdrop)
    draw_person(ImageDraw.Draw(portrait), (0, 0, *portrait.size), look)
    card.paste(portrait, (930, 170))
    draw.rectangle((930, 170, 1220, 560), outline="black", width=3)
    stamp = Image.new("RGBA", KTP_SIZE, (0, 0, 0, 0))
    ImageDraw.Draw(stamp).text(
        (width // 2, height // 2),
        "DEMO",
        fill=(220, 20, 20, 110),
        font=_font(300),
        anchor="mm",
    )
    card = Image.alpha_composite(
        card.convert("RGBA"), stamp.rotate(18, center=(width // 2, height // 2))
    ).convert("RGB")
    return _camera_jpeg(card)


def draw_person(
    draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], look: Look
) -> None:
    """Head and shoulders filling `box`, facing the camera."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top

    def at(x: float, y: float) -> tuple[float, float]:
        return left + x * width, top + y * height

    draw.ellipse((*at(0.08, 0.74), *at(0.92, 1.35)), fill=look.shirt)
    draw.rectangle((*at(0.42, 0.55), *at(0.58, 0.78)), fill=look.skin)
    draw.ellipse((*at(0.27, 0.2), *at(0.73, 0.64)), fill=look.skin)
    draw.chord((*at(0.25, 0.15), *at(0.75, 0.5)), 180, 360, fill=look.hair)
    for x in (0.4, 0.6):
        draw.ellipse((*at(x - 0.045, 0.38), *at(x + 0.045, 0.43)), fill="white")
        draw.ellipse((*at(x - 0.018, 0.385), *at(x + 0.018, 0.425)), fill=look.hair)
        draw.line((*at(x - 0.05, 0.35), *at(x + 0.05, 0.345)), fill=look.hair, width=5)
    draw.line(
        (*at(0.5, 0.43), *at(0.48, 0.5), *at(0.52, 0.5)), fill=(120, 80, 60), width=4
    )
    draw.arc((*at(0.41, 0.5), *at(0.59, 0.57)), 20, 160, fill=(150, 60, 60), width=6)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _camera_jpeg(picture: Image.Image) -> bytes:
    noisy = Image.blend(picture, _grain(picture.size), NOISE)
    buffer = io.BytesIO()
    noisy.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@cache
def _grain(size: tuple[int, int]) -> Image.Image:
    """Sensor-like colour noise: a clean drawing compresses far below the
    provider's 100 KB minimum, which a real photo never does. Made once per size;
    the drawings under it differ."""
    return Image.merge("RGB", [Image.effect_noise(size, 48) for _ in range(3)])
