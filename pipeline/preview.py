"""The landmark preview: coloured 68-point plots, one per frame."""
from __future__ import annotations

import cv2
import numpy as np

__all__ = ["draw_landmarks", "LANDMARK_GROUPS"]

# (first, last, closed, BGR-free RGB colour) of each iBUG-68 feature curve.
LANDMARK_GROUPS: tuple[tuple[int, int, bool, tuple[int, int, int]], ...] = (
    (0, 16, False, (90, 90, 90)),      # jaw
    (17, 21, False, (200, 120, 0)),    # right brow
    (22, 26, False, (200, 120, 0)),    # left brow
    (27, 30, False, (0, 140, 200)),    # nose bridge
    (31, 35, False, (0, 140, 200)),    # nose base
    (36, 41, True, (0, 160, 60)),      # right eye
    (42, 47, True, (0, 160, 60)),      # left eye
    (48, 59, True, (210, 30, 60)),     # outer lips
    (60, 67, True, (150, 0, 150)),     # inner lips
)


def draw_landmarks(points: np.ndarray, size: int = 512, scale: float = 1.0) -> np.ndarray:
    """Plot (68, 2) landmarks (x, y pixels) as coloured curves on white; returns (size, size, 3) RGB uint8."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape != (68, 2):
        raise ValueError(f"points must have shape (68, 2); got {pts.shape}")
    canvas = np.full((size, size, 3), 255, np.uint8)
    fixed = np.round(pts * scale * 16).astype(np.int32)  # 4 fractional bits: sub-pixel lines
    for first, last, closed, colour in LANDMARK_GROUPS:
        cv2.polylines(canvas, [fixed[first:last + 1]], closed, colour, 2, cv2.LINE_AA, shift=4)
    for x, y in fixed:
        cv2.circle(canvas, (int(x), int(y)), 2 * 16, (0, 0, 0), -1, cv2.LINE_AA, shift=4)
    return canvas
