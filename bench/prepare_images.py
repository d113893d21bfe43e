"""Benchmark photo preparation on a 12-megapixel phone JPEG.

    uv run python bench/prepare_images.py [--runs 30]

Generates a 4000x3000 JPEG of about 4 MB that compresses like a phone photo (the
fixture portrait, gradients and sensor-like noise) stored sideways with EXIF
orientation 6, as phones held upright save it. Times `prepare_selfie` and
`prepare_identity` against the naive pipeline (full decode, `exif_transpose`,
LANCZOS resize to the same output size, encode) in the same run, interleaved so that
both see the same machine load, and measures each one's peak memory in a forked
process.

Exits 1 when a preparation's median exceeds TARGET_MEDIAN_MS or is less than
TARGET_SPEEDUP times faster than the naive pipeline.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageOps, features

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from onboarding import images

TARGET_MEDIAN_MS = 70.0
TARGET_SPEEDUP = 2.0
SIZE = (4000, 3000)
TARGET_FILE_BYTES = 4_000_000
FACE_PORTRAIT = Path(__file__).resolve().parents[1] / "tests/fixtures/face-portrait.png"


def phone_jpeg() -> bytes:
    """A 4000x3000 JPEG near 4 MB with EXIF orientation 6."""
    width, height = SIZE
    with Image.open(FACE_PORTRAIT) as portrait:
        face = portrait.convert("RGB")
    scaled = face.resize((width, width), Image.Resampling.BICUBIC)
    top = (width - height) // 2
    picture = scaled.crop((0, top, width, top + height))
    # Lighting falls off across the frame, as it does in a room.
    light = Image.linear_gradient("L").rotate(-60).resize(SIZE).convert("RGB")
    picture = ImageChops.multiply(
        picture, ImageOps.invert(light).point(lambda v: 128 + v // 2)
    )
    grain = Image.merge("RGB", [Image.effect_noise(SIZE, 48) for _ in range(3)])
    picture = Image.blend(picture, grain, 0.12)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "BenchCam"
    best = b""
    for quality in range(85, 99):
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality, exif=exif)
        best = buffer.getvalue()
        if len(best) >= TARGET_FILE_BYTES:
            break
    return best


def png_screenshot(*, transparent: bool) -> bytes:
    """A 1080x2400 phone screenshot saved as RGBA PNG: text on a light page, with a
    transparent status bar and a half-transparent badge, or fully opaque."""
    size = (1080, 2400)
    shot = Image.new("RGBA", size, (245, 245, 250, 255))
    draw = ImageDraw.Draw(shot)
    for top in range(140, size[1], 44):
        draw.text((24, top), f"Pesan {top:04d}: 0812 3456 7890", fill=(20, 20, 20, 255))
    with Image.open(FACE_PORTRAIT) as portrait:
        shot.paste(portrait.convert("RGBA").resize((900, 900)), (90, 700))
    if transparent:
        draw.rectangle((0, 0, size[0], 120), fill=(0, 0, 0, 0))
        draw.ellipse((300, 1700, 800, 2200), fill=(200, 50, 50, 128))
    buffer = io.BytesIO()
    shot.save(buffer, "PNG")
    return buffer.getvalue()


def _to_rgb_before(im: Image.Image) -> Image.Image:
    """How PNGs with an alpha channel were flattened before: two full-size copies,
    and a composite even when every pixel is opaque."""
    rgba = im.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def _scaled_first(data: bytes) -> None:
    """The other order: scale the RGBA pixels, then composite the small image
    (Pillow premultiplies the alpha at full size before it scales)."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        small = im.convert("RGBA").resize((576, 1280), Image.Resampling.BILINEAR)
    flat = Image.new("RGB", small.size, (255, 255, 255))
    flat.paste(small, mask=small)


def _flattened_first(data: bytes) -> None:
    """The order we use, for the same steps: flatten at full size, then scale."""
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        flat = images._to_rgb(im)
    flat.resize((576, 1280), Image.Resampling.BILINEAR)


def png_report(runs: int) -> None:
    """prepare_selfie on screenshots with our flattening and the previous one,
    interleaved in the same run."""
    ours = images._to_rgb
    print()
    header = f"{'1080x2400 RGBA screenshot':<34} {'now ms':>8} {'before ms':>10}"
    print(f"{header} {'ratio':>6}")
    for transparent in (True, False):
        data = png_screenshot(transparent=transparent)
        now: list[float] = []
        before: list[float] = []
        scaled: list[float] = []
        flattened: list[float] = []
        for _ in range(runs):
            for flatten, into in ((ours, now), (_to_rgb_before, before)):
                images._to_rgb = flatten
                started = time.perf_counter()
                images.prepare_selfie(data)
                into.append((time.perf_counter() - started) * 1000)
            for order, into in ((_scaled_first, scaled), (_flattened_first, flattened)):
                started = time.perf_counter()
                order(data)
                into.append((time.perf_counter() - started) * 1000)
        images._to_rgb = ours
        label = "with transparency" if transparent else "opaque alpha channel"
        a, b = statistics.median(now), statistics.median(before)
        print(f"{label:<34} {a:>8.1f} {b:>10.1f} {b / a:>5.2f}x")
        if transparent:
            first, then = statistics.median(flattened), statistics.median(scaled)
            print(
                f"  decode, flatten, scale: {first:.1f} ms; decode, scale, flatten: "
                f"{then:.1f} ms ({then / first:.2f}x)"
            )


def naive(
    output_size: tuple[int, int], *, crop_to_portrait: bool
) -> Callable[[bytes], bytes]:
    """The straightforward pipeline producing the same output size as ours."""

    def prepare(data: bytes) -> bytes:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            upright = ImageOps.exif_transpose(im)
        if crop_to_portrait:
            width = upright.height * 3 // 4
            left = (upright.width - width) // 2
            upright = upright.crop((left, 0, left + width, upright.height))
        small = upright.resize(output_size, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        small.save(buffer, "JPEG", quality=images.JPEG_QUALITY)
        return buffer.getvalue()

    return prepare


def candidates(data: bytes) -> dict[str, Callable[[bytes], object]]:
    """Our pipelines and the naive ones, which produce the same output sizes."""
    selfie = images.prepare_selfie(data)
    identity = images.prepare_identity(data)
    return {
        "prepare_selfie": images.prepare_selfie,
        "naive selfie": naive((selfie.width, selfie.height), crop_to_portrait=True),
        "prepare_identity": images.prepare_identity,
        "naive identity": naive(
            (identity.width, identity.height), crop_to_portrait=False
        ),
    }


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        match = re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def peak_memory_mib(name: str, path: Path) -> float:
    """Peak resident memory added by one call of candidate `name` on the file at
    `path`, measured in a fresh interpreter: a process that has already run the
    pipelines keeps freed memory for reuse and would show almost nothing."""
    result = subprocess.run(
        [sys.executable, __file__, "--peak-memory", name, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout) / 1024


def _measure_in_this_process(name: str, path: Path) -> None:
    """Print the KiB that one call of `name` adds to this process's peak."""
    data = path.read_bytes()
    function = candidates(data)[name]
    # Load Pillow's plugins and codecs on a small photo first: they are not what
    # one preparation costs.
    small = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 120, 150)).save(small, "JPEG")
    with contextlib.suppress(Exception):
        function(small.getvalue())
    try:
        # Resets the peak (VmHWM) to the current resident size.
        Path("/proc/self/clear_refs").write_text("5")
        before = _status_kib("VmRSS")
        function(data)
        peak = _status_kib("VmHWM")
    except OSError:
        before = _status_kib("VmRSS")
        function(data)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(peak - before)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warm-up", type=int, default=3)
    parser.add_argument(
        "--peak-memory", nargs=2, metavar=("NAME", "PATH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()

    if args.peak_memory:
        name, path = args.peak_memory
        _measure_in_this_process(name, Path(path))
        return 0

    data = phone_jpeg()
    selfie = images.prepare_selfie(data)
    identity = images.prepare_identity(data)
    pipelines = candidates(data)
    timings: dict[str, list[float]] = {name: [] for name in pipelines}
    for run in range(args.warm_up + args.runs):
        for name, function in pipelines.items():
            started = time.perf_counter()
            function(data)
            elapsed = (time.perf_counter() - started) * 1000
            if run >= args.warm_up:
                timings[name].append(elapsed)

    print(
        f"Input: {SIZE[0]}x{SIZE[1]} JPEG, {len(data):,} bytes, EXIF orientation 6; "
        f"{args.runs} runs after {args.warm_up} warm-up"
    )
    print(
        f"Python {platform.python_version()}, Pillow {Image.__version__}, "
        f"libjpeg-turbo {features.version('libjpeg_turbo')}, {os.cpu_count()} CPUs"
    )
    print(
        f"Outputs: selfie {selfie.width}x{selfie.height} {len(selfie.data):,} bytes, "
        f"KTP {identity.width}x{identity.height} {len(identity.data):,} bytes"
    )
    print()
    print(f"{'pipeline':<18} {'median ms':>10} {'p95 ms':>8} {'peak MiB':>9}")
    medians: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "phone.jpg"
        path.write_bytes(data)
        memory = {name: peak_memory_mib(name, path) for name in pipelines}
    for name, values in timings.items():
        medians[name] = statistics.median(values)
        print(
            f"{name:<18} {medians[name]:>10.1f} {percentile(values, 0.95):>8.1f} "
            f"{memory[name]:>9.1f}"
        )
    print()
    failures = []
    for kind in ("selfie", "identity"):
        ours = medians[f"prepare_{kind}"]
        speedup = medians[f"naive {kind}"] / ours
        print(f"{kind}: {speedup:.1f}x faster than naive")
        if ours > TARGET_MEDIAN_MS:
            failures.append(
                f"prepare_{kind} median {ours:.1f} ms > {TARGET_MEDIAN_MS} ms"
            )
        if speedup < TARGET_SPEEDUP:
            failures.append(
                f"prepare_{kind} only {speedup:.1f}x faster (< {TARGET_SPEEDUP}x)"
            )
    png_report(max(5, args.runs // 3))
    print()
    for failure in failures:
        print(f"MISSED: {failure}")
    if not failures:
        print(f"OK: medians <= {TARGET_MEDIAN_MS} ms and >= {TARGET_SPEEDUP}x faster")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
