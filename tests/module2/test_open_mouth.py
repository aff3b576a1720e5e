"""The open mouth as each style draws it (Module2.stylize.draw_open_mouth), on synthetic landmarks."""
from __future__ import annotations

import numpy as np
import pytest

from Module2.stylize import MOUTH_STYLES, draw_open_mouth, inner_lip_gap
from tests.module2.test_geometry import synthetic_landmarks


def opened(gap: float) -> np.ndarray:
    lm = synthetic_landmarks(512).astype(np.float32)
    lm[[65, 66, 67]] = lm[[63, 62, 61]]
    lm[[65, 66, 67], 1] += gap
    return lm


def render(style: str, gap: float) -> tuple[np.ndarray, np.ndarray]:
    lm = opened(gap)
    img = np.full((512, 512), 255, np.uint8) if style == "drawing" else np.full((512, 512, 3), (205, 160, 140), np.uint8)
    draw_open_mouth(img, lm, style)
    return img, lm


def lum(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float64) if img.ndim == 2 else img.astype(np.float64).mean(axis=2)


def column(img: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Pixels down the middle of the opening, from the upper to the lower inner lip."""
    x = int(round(lm[62, 0]))
    return img[int(np.ceil(lm[62, 1])): int(np.floor(lm[66, 1])) + 1, x]


def test_drawing_wide_open_is_ink_round_a_dark_interior_with_white_teeth():
    img, lm = render("drawing", 30.0)
    assert inner_lip_gap(lm) == pytest.approx(30.0, abs=1e-3)
    col = column(img, lm).astype(int)
    assert col[4:8].min() > 200  # the teeth band under the upper lip
    assert col[-12:-4].max() < 60  # a dark interior below it
    # Bold ink round the opening: at the corners, where no interior shows.
    corner = img[int(lm[64, 1]) - 2: int(lm[64, 1]) + 3, int(lm[64, 0]) - 2: int(lm[64, 0]) + 3]
    assert corner.min() < 60
    assert np.all(img[:200] == 255) and np.all(img[420:] == 255)  # nothing outside the mouth


def test_cartoon_wide_open_is_flat_pink_red_with_white_teeth():
    img, lm = render("cartoon", 30.0)
    col = column(img, lm).astype(int)
    assert lum(col[None])[0, 4:8].min() > 220  # white teeth
    red = col[-14:-6]
    assert np.all(red[:, 0] > red[:, 1] + 60) and np.all(red[:, 0] > red[:, 2] + 40)  # pink-red mouth
    # Flat colours: the pink-red below the teeth holds few distinct values.
    assert len({tuple(v) for v in red}) <= 4


@pytest.mark.parametrize("style", sorted(MOUTH_STYLES))
def test_small_gap_shows_the_upper_teeth(style):
    """An f or v: the lower lip up under the upper teeth; the narrow gap shows white, not a dark hole."""
    img, lm = render(style, 7.0)
    col = lum(column(img, lm)[None] if img.ndim == 2 else column(img, lm)[None])[0]
    assert col.max() > 200
    assert (col > 200).sum() >= 2


@pytest.mark.parametrize("style", sorted(MOUTH_STYLES))
def test_opening_changes_smoothly(style):
    """No popping: as the gap grows in 0.25 px steps the drawn mouth changes by small amounts only."""
    steps = []
    prev = None
    for g in np.arange(1.0, 30.0, 0.25):
        img, _ = render(style, float(g))
        cur = lum(img[220:330, 150:370])
        if prev is not None:
            steps.append(np.abs(cur - prev).mean())
        prev = cur
    steps = np.asarray(steps)
    assert steps.max() < 4.0 * np.median(steps) + 0.3, (steps.max(), np.median(steps))
