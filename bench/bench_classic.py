"""Single-thread CPU time of the weight-free ``classic`` renderer, against the prototype's targets.

    python bench/bench_classic.py [--frames 60] [--repeats 3]

Input: ``examples/astronaut.jpg`` aligned by ``pipeline.align`` and the first ``--frames`` frames
of the ``procedural`` predictor on ``examples/speech.wav`` (25 fps). OpenCV runs on one thread and
the clock is the thread's CPU time, so the numbers do not depend on other processes' load. Per
size: the median time per frame of ``render`` (warp, inner mouth, strokes), best of
``--repeats``; and the one-time line drawing of the photo at 512 (``Module2.stylize.line_drawing``).
Targets (2-core machine, from the prototype notes): 5 ms/frame at 256, 12 ms/frame at 512,
150 ms for the drawing. These timings used to be assertions in the unit tests.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_MS = {256: 5.0, 512: 12.0}
DRAWING_TARGET_MS = 150.0
FPS = 25.0


def inputs(frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(aligned photo, its landmarks, (frames, 68, 2) targets from the procedural predictor)."""
    from common.media import decode_audio
    from Module1 import PREDICTORS, Module1Config
    from pipeline.align import align_photo, load_photo

    aligned = align_photo(load_photo(REPO / "examples" / "astronaut.jpg"))
    audio = decode_audio(REPO / "examples" / "speech.wav", 16000)
    seq = PREDICTORS.get("procedural")(Module1Config(quiet=True)).predict(audio, aligned.landmarks, FPS)
    reps = -(-frames // len(seq))
    return aligned.image, aligned.landmarks, np.concatenate([seq.points] * reps)[:frames]


def median_frame_ms(renderer, points: np.ndarray) -> float:
    """Median thread-CPU milliseconds per frame yielded by ``renderer.render_points``."""
    times = []
    it = iter(renderer.render_points(points))
    while True:
        t0 = time.thread_time()
        try:
            next(it)
        except StopIteration:
            break
        times.append(time.thread_time() - t0)
    return float(np.median(times)) * 1e3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    import cv2

    from Module2.config import RenderConfig
    from Module2.renderers.classic import ClassicRenderer
    from Module2.stylize import line_drawing

    cv2.setNumThreads(1)
    photo, lm, points = inputs(args.frames)
    print(f"{'what':<28}{'ms':>9}{'target':>9}")
    for size, target in TARGET_MS.items():
        r = ClassicRenderer(RenderConfig(style="drawing", size=size, quiet=True))
        r.prepare(photo, lm)
        best = min(median_frame_ms(r, points) for _ in range(args.repeats))
        print(f"{f'render, per frame, {size}':<28}{best:>9.2f}{target:>9.1f}")
    best = float("inf")
    for _ in range(args.repeats):
        t0 = time.thread_time()
        line_drawing(photo, lm, 512)
        best = min(best, time.thread_time() - t0)
    print(f"{'line drawing, once, 512':<28}{best * 1e3:>9.1f}{DRAWING_TARGET_MS:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
