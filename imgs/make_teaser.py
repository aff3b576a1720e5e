"""Rebuild imgs/teaser.png from the examples with the default back-ends.

    python imgs/make_teaser.py

Top row: the aligned photo and three line-drawing frames; bottom row: the landmark plot
and three cartoon frames (the same speech instants).
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common.media import decode_audio  # noqa: E402
from Module1 import PREDICTORS, Module1Config  # noqa: E402
from Module2 import RENDERERS, RenderConfig  # noqa: E402
from pipeline.align import align_photo, load_photo  # noqa: E402
from pipeline.preview import draw_landmarks  # noqa: E402

SIZE = 256


def main() -> None:
    aligned = align_photo(load_photo(REPO / "examples" / "astronaut.jpg"))
    audio = decode_audio(REPO / "examples" / "speech.wav")
    seq = PREDICTORS.get("procedural")(Module1Config(quiet=True)).predict(audio, aligned.landmarks, 25.0)
    gap = np.linalg.norm(seq.points[:, [61, 62, 63]] - seq.points[:, [67, 66, 65]], axis=-1).mean(1)
    picks = [int(np.argmin(gap[:50])), int(np.argmax(gap)), int(np.argsort(gap)[len(gap) * 3 // 4])]
    rows = []
    for style in ("drawing", "cartoon"):
        renderer = RENDERERS.get("classic")(RenderConfig(style=style, size=SIZE, quiet=True))
        renderer.prepare(aligned.image, aligned.landmarks)
        frames = [f for i, f in enumerate(renderer.render(seq)) if i in picks]
        frames = [cv2.cvtColor(f, cv2.COLOR_GRAY2RGB) if f.ndim == 2 else f for f in frames]
        first = cv2.resize(aligned.image if style == "drawing" else draw_landmarks(seq.points[picks[1]]),
                           (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        rows.append(np.concatenate([first, *frames], axis=1))
    teaser = np.concatenate(rows, axis=0)
    cv2.imwrite(str(REPO / "imgs" / "teaser.png"), cv2.cvtColor(teaser, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
