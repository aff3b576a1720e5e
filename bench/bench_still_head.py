"""Still-head frame-to-frame change of the classic renderer: only the face should move with the jaw.

For every example photo (``examples/*.jpg``, ``*.jpeg``) and speech (``examples/*.wav``), the weight-free
predictor runs with ``head_motion=0`` and the classic renderer draws every frame at 512 in both styles.
Printed, in grey levels (0–255, colour frames averaged over channels), mean |F_t − F_{t−1}| over:

* **outside mouth and eyes**: pixels outside the outer-lip and eye polygons of both frames, grown by
  12 px (the prototype's flicker metric); the chin, jaw line and cheeks that move with the jaw count;
* **outside the face**: pixels outside the convex hull of all 68 landmarks of both frames, grown by
  12 px: hair, neck, collar and background, which should not move at all with a still head.

Measured (astronaut.jpg, 512, the same lip motion; outside mouth/eyes / outside the face):

    renderer                    drawing (female12, speech)          cartoon (female12, speech)
    before the jaw anchors      1.38 / 0.69,  1.32 / 0.62           1.00 / 0.32,  0.96 / 0.29
    with them                   0.84 / 0.017, 0.82 / 0.016          0.75 / 0.024, 0.72 / 0.023

What is left outside mouth and eyes is the chin, jaw line and cheeks moving with the jaw.

Run: ``python bench/bench_still_head.py [--seconds 10]``.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from common import Audio  # noqa: E402
from common.media import decode_audio  # noqa: E402
from Module1.config import Module1Config  # noqa: E402
from Module1.predictors.procedural import ProceduralPredictor  # noqa: E402
from Module2.config import RenderConfig  # noqa: E402
from Module2.renderers.classic import ClassicRenderer  # noqa: E402
from pipeline.align import align_photo, load_photo  # noqa: E402

_GROW = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (25, 25))  # 12 px at 512
_PARTS = (range(48, 60), range(36, 42), range(42, 48))


def changes(frames: list[np.ndarray], points: np.ndarray) -> tuple[float, float]:
    """(outside mouth and eyes, outside the face) mean absolute change between consecutive frames."""
    inner, outer = [], []
    for t in range(1, len(frames)):
        parts = np.zeros(frames[t].shape[:2], np.uint8)
        hull = np.zeros_like(parts)
        for pts in (points[t], points[t - 1]):
            for idx in _PARTS:
                cv2.fillPoly(parts, [np.round(pts[list(idx)]).astype(np.int32)], 1)
            cv2.fillConvexPoly(hull, cv2.convexHull(np.round(pts).astype(np.int32)), 1)
        d = np.abs(frames[t].astype(np.float32) - frames[t - 1].astype(np.float32))
        d = d.mean(axis=2) if d.ndim == 3 else d
        inner.append(float(d[cv2.dilate(parts, _GROW) == 0].mean()))
        outer.append(float(d[cv2.dilate(hull, _GROW) == 0].mean()))
    return float(np.mean(inner)), float(np.mean(outer))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="use at most this much of each speech file")
    args = ap.parse_args()
    pred = ProceduralPredictor(Module1Config(quiet=True, head_motion=0.0))
    photos = sorted(p for p in (ROOT / "examples").iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    speech = sorted((ROOT / "examples").glob("*.wav"))
    print(f"{'photo':<16} {'speech':<14} {'style':<8} {'outside mouth/eyes':>19} {'outside the face':>17}")
    for photo in photos:
        al = align_photo(load_photo(photo))
        for wav in speech:
            decoded = decode_audio(wav, 16000)
            clip = Audio(decoded.samples[: int(args.seconds * 16000)], 16000)
            seq = pred.predict(clip, al.landmarks, 25.0)
            for style in ("drawing", "cartoon"):
                r = ClassicRenderer(RenderConfig(style=style, size=512, exp=f"formal/{style}"))
                r.prepare(al.image, al.landmarks)
                frames = list(r.render_points(seq.points))
                inner, outer = changes(frames, seq.points)
                print(f"{photo.name:<16} {wav.name:<14} {style:<8} {inner:>19.3f} {outer:>17.3f}")


if __name__ == "__main__":
    main()
