"""Single-thread CPU time of the weight-free ``classic`` renderer, against the prototype's targets.

    python bench/bench_classic.py [--frames 300] [--repeats 3] [--styles drawing cartoon] [--sizes 256 512]

Input: ``examples/astronaut.jpg`` aligned by ``pipeline.align`` and the first ``--frames`` frames
of the ``procedural`` predictor on ``examples/speech.wav`` (25 fps, tiled), with head motion
("moving") and without (``head_motion=0``, "still"). OpenCV runs on one thread and the clock is
the thread's CPU time (other processes still compete for the caches: prefer an idle machine). Per
size, style and head: the mean time per frame of ``render`` (warp, inner mouth, strokes), best of
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


def inputs(frames: int, head_motion: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(aligned photo, its landmarks, (frames, 68, 2) targets from the procedural predictor)."""
    from common.media import decode_audio
    from Module1 import PREDICTORS, Module1Config
    from pipeline.align import align_photo, load_photo

    aligned = align_photo(load_photo(REPO / "examples" / "astronaut.jpg"))
    audio = decode_audio(REPO / "examples" / "speech.wav", 16000)
    predictor = PREDICTORS.get("procedural")(Module1Config(quiet=True, head_motion=head_motion))
    seq = predictor.predict(audio, aligned.landmarks, FPS)
    reps = -(-frames // len(seq))
    return aligned.image, aligned.landmarks, np.concatenate([seq.points] * reps)[:frames]


def frame_ms(renderer, points: np.ndarray) -> float:
    """Mean thread-CPU milliseconds per frame of ``renderer.render_points`` (the fit on the sequence included).

    A mean, not a median: the renderer batches per-frame geometry over blocks of frames, so the
    first frame of each block carries the block's share.
    """
    t0 = time.thread_time()
    n = sum(1 for _ in renderer.render_points(points))
    return (time.thread_time() - t0) / n * 1e3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--styles", nargs="+", default=["drawing", "cartoon"], choices=["drawing", "cartoon"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[256, 512], choices=[256, 512])
    args = ap.parse_args(argv)

    import cv2

    from Module2.config import RenderConfig
    from Module2.renderers.classic import ClassicRenderer
    from Module2.stylize import line_drawing

    cv2.setNumThreads(1)
    photo, lm, moving = inputs(args.frames)
    still = inputs(args.frames, head_motion=0.0)[2]
    print(f"{'what':<36}{'ms':>9}{'target':>9}")
    for size in args.sizes:
        for style in args.styles:
            for head, points in (("moving", moving), ("still", still)):
                r = ClassicRenderer(RenderConfig(style=style, size=size, quiet=True))
                r.prepare(photo, lm)
                best = min(frame_ms(r, points) for _ in range(args.repeats))
                print(f"{f'render, per frame, {size} {style} {head}':<36}{best:>9.2f}{TARGET_MS[size]:>9.1f}")
    best = float("inf")
    for _ in range(args.repeats):
        t0 = time.thread_time()
        line_drawing(photo, lm, 512)
        best = min(best, time.thread_time() - t0)
    print(f"{'line drawing, once, 512':<36}{best * 1e3:>9.1f}{DRAWING_TARGET_MS:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
