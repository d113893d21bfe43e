"""Photo quality checks: find a photo the provider would reject before paying for it.

The provider's byte minimum stands in for detail, and a dim or blurred photo that
reaches it only by being re-encoded at a high quality is still rejected, after the
call is charged. These checks look at the photo itself instead.

Every check reads a small grey copy of the photo as it arrived: upright, cropped as it
will be sent, scaled down so that its long side is at most `LONG_SIDE` pixels, and
never scaled up (a capture smaller than the provider's minimum is judged as taken,
not after it has been enlarged). Sharpness depends on the scale it is measured at, so
measuring every photo at the same size makes one threshold fit every camera.

Refusals: the photo cannot be used, the applicant takes it again.

- ``too_dark``: the average brightness is under `DARK_MEAN` (0-255).
- ``overexposed``: more than `CLIPPED_MAX_SHARE` of the pixels are burnt out white,
  or the average brightness is over `BRIGHT_MEAN`.
- ``blurred``: `sharpness` (the variance of the Laplacian of the grey copy after a
  3x3 binomial smoothing, which keeps sensor noise from passing for detail) is under
  `SELFIE_BLUR_MIN` or `IDENTITY_BLUR_MIN` (a card's printed edges give far more
  than a face does).

Warnings: the check can be wrong, so the applicant sees it, may send the photo
anyway, and that choice is recorded on the attempt for reviewers.

- ``no_face`` (selfie): no frontal face at least `FACE_MIN_SHARE` of the photo's
  width was found (a KTP in the selfie slot shows a face, but a small one).
- ``several_faces`` (selfie): more than one was found.
- ``glare`` (KTP): more than `GLARE_MAX_SHARE` of the pixels are burnt out white,
  where a reflection hides the printed text.

The face detector is OpenCV's Haar cascade for frontal faces, which the
opencv-python-headless wheel ships (in `cv2/data/`): nothing is downloaded
at run time. The figures on the test corpus and the cost per photo are in the README.

Nothing here logs: the photos are identity data.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import cv2
import numpy as np
from django.utils.translation import gettext_lazy as _
from PIL import Image

LONG_SIDE: Final = 512
DARK_MEAN: Final = 45.0
BRIGHT_MEAN: Final = 225.0
CLIPPED_LEVEL: Final = 250
CLIPPED_MAX_SHARE: Final = 0.25
SELFIE_BLUR_MIN: Final = 9.0
IDENTITY_BLUR_MIN: Final = 25.0
GLARE_MAX_SHARE: Final = 0.02
FACE_MIN_SHARE: Final = 0.18
# The live preview's "bring your face closer" hint (the browser has no face
# detector): under this share of skin-coloured pixels inside the oval guide. A hint
# only; nothing is refused for it.
FACE_MIN_SKIN_SHARE: Final = 0.3
# The cascade's own window is 24 pixels: a face of FACE_MIN_SHARE of a 384-pixel
# wide copy is about 70 pixels, well above it.
_CASCADE: Final = Path(cv2.__file__).parent / "data/haarcascade_frontalface_alt2.xml"
_FACE_SCALE_STEP: Final = 1.2
_FACE_NEIGHBOURS: Final = 4

REFUSALS: Final = ("too_dark", "overexposed", "blurred")
SELFIE_WARNINGS: Final = ("no_face", "several_faces")
IDENTITY_WARNINGS: Final = ("glare",)

MESSAGES: Final = {
    "too_dark": _(
        "This photo is too dark for the check. Please take it again in good light, "
        "with the light in front of you."
    ),
    "overexposed": _(
        "This photo is too bright: parts of it are white. Please take it again away "
        "from direct sunlight or a lamp shining into the camera."
    ),
    "blurred": _(
        "This photo is blurred. Please hold the camera still and take it again, "
        "close enough for the camera to focus."
    ),
}

# What a reviewer and the applicant read about a warning.
WARNINGS: Final = {
    "no_face": _("No face could be found in the selfie."),
    "several_faces": _("More than one face was found in the selfie."),
    "glare": _("Part of the KTP photo is white with glare."),
}


@dataclass(frozen=True, slots=True)
class Measures:
    """What the checks read from one photo."""

    brightness: float
    clipped_share: float
    sharpness: float


@dataclass(frozen=True, slots=True)
class Findings:
    """The checks' verdict: a refusal code (or None) and warning codes. The
    warnings may still be being worked out (the face detector runs in a thread of
    its own, beside the photo's encoding): `warnings` waits for them."""

    refusal: str | None
    pending: Future[tuple[str, ...]] | tuple[str, ...]

    @property
    def warnings(self) -> tuple[str, ...]:
        if isinstance(self.pending, Future):
            return self.pending.result()
        return self.pending


def grey_copy(picture: Image.Image) -> np.ndarray:
    """`picture` as 8-bit grey, its long side brought down to LONG_SIDE."""
    grey = picture.convert("L")
    factor = LONG_SIDE / max(grey.size)
    if factor < 1:
        size = (max(1, round(grey.width * factor)), max(1, round(grey.height * factor)))
        grey = grey.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(grey)


def measure(grey: np.ndarray) -> Measures:
    smooth = cv2.GaussianBlur(grey, (3, 3), 0)
    laplacian = cv2.Laplacian(smooth, cv2.CV_32F, ksize=1)
    return Measures(
        brightness=float(grey.mean()),
        clipped_share=float(np.count_nonzero(grey >= CLIPPED_LEVEL)) / grey.size,
        sharpness=float(laplacian.var()),
    )


def refusal(measures: Measures, *, blur_min: float) -> str | None:
    """The first refusal that applies, or None."""
    if measures.brightness < DARK_MEAN:
        return "too_dark"
    if measures.clipped_share > CLIPPED_MAX_SHARE or measures.brightness > BRIGHT_MEAN:
        return "overexposed"
    if measures.sharpness < blur_min:
        return "blurred"
    return None


def assess_selfie(grey: np.ndarray) -> Findings:
    """The refusal at once; the face warnings from the detector, which starts in
    the background (`Findings.warnings` waits for it)."""
    found = refusal(measure(grey), blur_min=SELFIE_BLUR_MIN)
    if found:
        return Findings(found, ())
    return Findings(None, _background.submit(face_warnings, grey))


def face_warnings(grey: np.ndarray) -> tuple[str, ...]:
    faces = count_faces(grey)
    return ("no_face",) if faces == 0 else ("several_faces",) if faces > 1 else ()


def assess_identity(grey: np.ndarray) -> Findings:
    measures = measure(grey)
    found = refusal(measures, blur_min=IDENTITY_BLUR_MIN)
    if found:
        return Findings(found, ())
    glare = measures.clipped_share > GLARE_MAX_SHARE
    return Findings(None, ("glare",) if glare else ())


_local = threading.local()
# The face detector (about 10 ms a selfie) runs here while the request's thread
# encodes the photo: both release the GIL, so it adds next to nothing to the time
# the applicant waits. Two threads: a form brings one selfie, a server many forms.
_background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="face-detector")


def _detector() -> cv2.CascadeClassifier:
    # One per thread: a classifier keeps working buffers and is not safe to share
    # between threads that detect at the same time.
    detector = getattr(_local, "detector", None)
    if detector is None:
        detector = cv2.CascadeClassifier(str(_CASCADE))
        if detector.empty():
            raise RuntimeError(f"OpenCV's face cascade is missing: {_CASCADE}")
        _local.detector = detector
    return detector


def count_faces(grey: np.ndarray) -> int:
    """How many frontal faces at least FACE_MIN_SHARE of the width `grey` shows."""
    smallest = max(24, round(grey.shape[1] * FACE_MIN_SHARE))
    faces = _detector().detectMultiScale(
        cv2.equalizeHist(grey),
        scaleFactor=_FACE_SCALE_STEP,
        minNeighbors=_FACE_NEIGHBOURS,
        minSize=(smallest, smallest),
    )
    return len(faces)


def browser_hints() -> dict[str, object]:
    """The thresholds the page's script applies to the live preview, so that its
    hints and the server's refusals agree."""
    return {
        "longSide": LONG_SIDE,
        "darkMean": DARK_MEAN,
        "brightMean": BRIGHT_MEAN,
        "clippedLevel": CLIPPED_LEVEL,
        "clippedMaxShare": CLIPPED_MAX_SHARE,
        "blurMin": {"face": SELFIE_BLUR_MIN, "identity": IDENTITY_BLUR_MIN},
        "faceMinSkinShare": FACE_MIN_SKIN_SHARE,
    }
