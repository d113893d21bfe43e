"""Driving Debian's Chromium through Playwright, as an applicant or a reviewer would:
fake cameras playing generated feeds, pages checked with axe-core under the site's
real Content Security Policy, and what the browser complained about."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.db import connections
from PIL import Image, ImageEnhance
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.photos import selfie_scene

# Django's live server and Playwright's sync API share this process.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent.parent / "node_modules/axe-core/axe.min.js"
# Where pages load axe-core from: a path on the site's own origin that Playwright
# answers with the file, so the page's CSP (script-src 'self') allows it as it
# would any script of ours, and the journey keeps the real policy.
AXE_PATH = "/__axe-core__.js"
HEADLESS_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def write_y4m(
    path: Path,
    size: tuple[int, int],
    *,
    light: float = 1.0,
    frames: int = 2,
    seed: int = 1,
) -> Path:
    """A camera feed of a selfie (the fixture portrait, face centred and about a
    quarter of the frame's width), with a webcam's sensor noise and `light` times
    the brightness, as the YUV4MPEG2 file Chromium's fake camera plays."""
    width, height = size
    scene = selfie_scene(size, face_width=0.25, centre=(0.5, 0.42))
    if light != 1.0:
        scene = ImageEnhance.Brightness(scene).enhance(light)
    rng = np.random.default_rng(seed)
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            pixels = np.asarray(scene, dtype=np.int16)
            pixels = pixels + rng.integers(-8, 8, pixels.shape, dtype=np.int16)
            frame = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
            y, cb, cr = frame.convert("YCbCr").split()
            half = (width // 2, height // 2)
            planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
            f.write(b"FRAME\n" + planes)
    return path


@contextmanager
def chromium(*, camera_feed: Path | None = None) -> Iterator[Browser]:
    """Debian's Chromium, headless, with a fake camera playing `camera_feed` (and
    no camera at all without one)."""
    args = list(HEADLESS_ARGS)
    if camera_feed:
        args += [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_feed}",
        ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser
        finally:
            browser.close()
            # Database queries made while Playwright runs use a connection of their
            # own (Django keeps one per context); it is closed where it lives.
            connections.close_all()


@dataclass
class Complaints:
    """What the browser reported while the pages ran: script errors, and console
    errors (a script or style the CSP refused, a resource that answered 404)."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda error: self.errors.append(f"script: {error}"))
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"console: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        return page


def new_context(
    browser: Browser, base_url: str, *, language: str = "en", **options
) -> BrowserContext:
    """A browser profile reading the site in `language` ("en" or "id"), with the
    site's real CSP, able to load axe-core from the site's origin."""
    locale = {"en": "en-US", "id": "id-ID"}[language]
    context = browser.new_context(locale=locale, base_url=base_url, **options)
    context.route(
        f"**{AXE_PATH}",
        lambda route: route.fulfill(
            path=str(AXE), content_type="application/javascript"
        ),
    )
    return context


def axe_violations(page: Page, *, what: str = "") -> list[str]:
    """Every violation axe-core finds on the page as it stands (whatever its
    impact), one line each."""
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(url=AXE_PATH)
    # Only violations are gathered: the passes are most of axe's work.
    result = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        f"{what} {v['impact']} {v['id']}: {v['help']} "
        f"({', '.join(node['target'][0] for node in v['nodes'][:3])})"
        for v in result["violations"]
    ]


def assert_accessible(page: Page, what: str = "") -> None:
    problems = axe_violations(page, what=what or page.url)
    assert not problems, problems
