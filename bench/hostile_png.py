"""Peak memory and time for one hostile PNG, beside a normal photo, in one run.

    uv run python bench/hostile_png.py

Each photo is prepared as a selfie (onboarding.images.prepare_selfie) in a fresh
process of its own, as a web worker would; the figure is how much that process's
peak memory (ru_maxrss) grew while it prepared the photo, and how long it took.
The hostile files are a few hundred kilobytes that decode to hundreds of
megabytes: a 16-bit greyscale PNG and RGBA PNGs of 7000x7000 (49 megapixels, under
the 50-megapixel cap), refused from their header; and an RGBA PNG of 3600x3600,
just within the decoding budget, decoded. The baseline is a 12-megapixel phone
JPEG. About 10 seconds.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.memory import MEGABYTE, prepared_in_a_process  # noqa: E402
from tests.photos import phone_jpeg, png_filled  # noqa: E402


def main() -> int:
    scratch = Path(tempfile.mkdtemp(prefix="bench-hostile-png-"))
    cases = {
        "normal: 12 MP phone JPEG (4000x3000)": phone_jpeg((3000, 4000)),
        "16-bit greyscale PNG 7000x7000": png_filled(
            7000, 7000, bit_depth=16, colour_type=0
        ),
        "RGBA PNG 7000x7000": png_filled(7000, 7000, bit_depth=8, colour_type=6),
        "16-bit RGBA PNG 7000x7000": png_filled(
            7000, 7000, bit_depth=16, colour_type=6
        ),
        "RGBA PNG 3600x3600 (within the budget)": png_filled(
            3600, 3600, bit_depth=8, colour_type=6
        ),
    }
    rows = []
    for name, data in cases.items():
        seen = prepared_in_a_process(scratch, data)
        grew = seen["grew"] / MEGABYTE
        rows.append((name, len(data), seen["outcome"], grew, seen["took"]))
    base_grew, base_took = rows[0][3], rows[0][4]
    print(f"{'photo':<42} {'file':>9} {'outcome':<20} {'memory':>9} {'time':>8}")
    for name, size, outcome, grew, took in rows:
        print(
            f"{name:<42} {size / 1000:7.0f} KB {outcome:<20} {grew:6.0f} MB "
            f"{took * 1000:6.0f} ms  (x{grew / max(base_grew, 1):.1f} memory, "
            f"x{took / base_took:.2f} time of the normal photo)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
