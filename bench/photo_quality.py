"""The photo quality checks: their figures on the test corpus, and their cost.

    uv run python bench/photo_quality.py [--runs 30]

1. Runs every photo of the corpus (tests/quality_corpus.py: good photos of the
   fixture portrait and a drawn KTP under ordinary variations, bad ones each aimed
   at one check) through the real preparation, and prints per check how many good
   photos it flagged (false rejections, target 0) and how many bad photos aimed at
   it it let through.
2. Times, on the 12-megapixel phone selfie of bench/prepare_images.py, the checks
   alone (the grey copy, the measures, the face detector) and `prepare_selfie`
   with and without them, interleaved in the same run, so the ratio is what the
   checks add to a photo's preparation (the face detector runs in a thread of its
   own while the photo is encoded).

Exits 1 when a good photo is flagged or a bad one let through.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onboarding.settings")
    import django

    django.setup()
    import cv2
    from prepare_images import phone_jpeg

    from onboarding import images, quality
    from tests.quality_corpus import CHECKS, corpus, evaluate, judge

    samples = corpus()
    verdicts = [judge(sample) for sample in samples]
    figures = evaluate(verdicts)
    good = sum(1 for s in samples if s.aimed_at is None)
    print(f"Corpus: {len(samples)} photos, {good} good, {len(samples) - good} bad")
    print()
    print(f"{'check':<18} {'acts':<8} {'false rejections':>18} {'let through':>14}")
    failed = False
    for figure in figures:
        acts = CHECKS.get(figure.check, "refuses")
        print(
            f"{figure.check:<18} {acts:<8} "
            f"{len(figure.false_rejections):>9} of {figure.good:<6} "
            f"{len(figure.let_through):>6} of {figure.bad:<5}"
        )
        for name in figure.false_rejections:
            print(f"    flagged a good photo: {name}")
        for name in figure.let_through:
            print(f"    let through: {name}")
        failed |= bool(figure.false_rejections or figure.let_through)

    data = phone_jpeg()
    unchecked = dataclasses.replace(
        images._SELFIE, assess=lambda grey: quality.Findings(None, ())
    )
    with Image.open(io.BytesIO(data)) as im:
        decoded = images._decode(im, images._SELFIE)
    first = decoded.render(images.SELFIE_LONG_SIDE, images.SELFIE_MIN_SIZE)
    grey = quality.grey_copy(first)

    def with_checks() -> None:
        images.prepare_selfie(data)

    def without_checks() -> None:
        images._prepare(data, unchecked)

    timings: dict[str, list[float]] = {
        "prepare_selfie, with the checks": [],
        "prepare_selfie, without them": [],
        "grey copy (of the photo to encode)": [],
        "brightness, clipping, sharpness": [],
        "face detector": [],
    }
    steps = {
        "prepare_selfie, with the checks": with_checks,
        "prepare_selfie, without them": without_checks,
        "grey copy (of the photo to encode)": lambda: quality.grey_copy(first),
        "brightness, clipping, sharpness": lambda: quality.measure(grey),
        "face detector": lambda: quality.count_faces(grey),
    }
    for step in steps.values():
        step()  # warm up (the cascade loads once per thread)
    for _ in range(args.runs):
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            timings[name].append((time.perf_counter() - started) * 1000)
    print()
    print(
        f"Cost on a {images.SELFIE_LONG_SIDE}-pixel selfie prepared from a "
        f"12-megapixel JPEG ({args.runs} runs, OpenCV {cv2.__version__}, "
        f"{cv2.getNumThreads()} threads, {os.cpu_count()} CPUs):"
    )
    for name, values in timings.items():
        print(f"  {name:<36} median {statistics.median(values):6.1f} ms")
    ratio = statistics.median(
        timings["prepare_selfie, with the checks"]
    ) / statistics.median(timings["prepare_selfie, without them"])
    print(f"  preparation with the checks / without: {ratio:.2f}x")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
