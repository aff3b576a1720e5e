"""The iBUG-68 landmark vocabulary shared by every stage: index groups, lip gap, polygon area, the frame.

Points are (x, y) pixels of the ``FRAME``×``FRAME`` aligned photo, x right, y down. "Right" and
"left" are the subject's (the right eye, 36–41, is on the image's left). Contiguous groups are
``slice`` objects, so ``points[..., INNER_LIPS, :]`` is a view; pairs are index arrays.

>>> import numpy as np
>>> pts = np.zeros((68, 2)); pts[list(INNER_LIP_LOWER), 1] = 4.0
>>> float(inner_lip_gap(pts))
4.0
>>> polygon_area(np.array([[0, 0], [2, 0], [2, 1], [0, 1]]))
2.0
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "N_POINTS", "FRAME",
    "JAW", "RIGHT_BROW", "LEFT_BROW", "BROWS", "NOSE_BRIDGE", "NOSE_BASE", "NOSE",
    "RIGHT_EYE", "LEFT_EYE", "EYES", "OUTER_LIPS", "INNER_LIPS", "MOUTH",
    "MOUTH_CORNERS", "INNER_LIP_UPPER", "INNER_LIP_LOWER", "EYELID_UPPER", "EYELID_LOWER",
    "inner_lip_gap", "signed_area", "polygon_area",
]

N_POINTS = 68
FRAME = 512  # side of the aligned photo (pixels): landmark files and the renderers' inputs use it

JAW = slice(0, 17)
RIGHT_BROW = slice(17, 22)
LEFT_BROW = slice(22, 27)
BROWS = slice(17, 27)
NOSE_BRIDGE = slice(27, 31)
NOSE_BASE = slice(31, 36)
NOSE = slice(27, 36)
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
EYES = slice(36, 48)
OUTER_LIPS = slice(48, 60)
INNER_LIPS = slice(60, 68)
MOUTH = slice(48, 68)

MOUTH_CORNERS = np.array([48, 54])
# Facing pairs of the inner lips (upper ↔ lower): 61↔67, 62↔66, 63↔65.
INNER_LIP_UPPER = np.array([61, 62, 63])
INNER_LIP_LOWER = np.array([67, 66, 65])
# Facing pairs of the eyelids, both eyes (upper ↔ lower): 37↔41, 38↔40, 43↔47, 44↔46.
EYELID_UPPER = np.array([37, 38, 43, 44])
EYELID_LOWER = np.array([41, 40, 47, 46])


def _points(points: np.ndarray) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-2:] != (N_POINTS, 2):
        raise ValueError(f"points must have shape (..., 68, 2); got {arr.shape}")
    return arr


def inner_lip_gap(points: np.ndarray) -> np.ndarray:
    """Mean distance of the inner-lip pairs 61↔67, 62↔66, 63↔65: shape (...,) for (..., 68, 2) points.

    A single (68, 2) shape gives a numpy float scalar (a ``float``).
    """
    p = _points(points)
    return np.linalg.norm(p[..., INNER_LIP_UPPER, :] - p[..., INNER_LIP_LOWER, :], axis=-1).mean(-1)


def signed_area(poly: np.ndarray) -> float:
    """Shoelace area of an (N, 2) polygon: positive when counter-clockwise in a y-up frame."""
    p = np.asarray(poly, np.float64)
    x, y = p[:, 0], p[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def polygon_area(poly: np.ndarray) -> float:
    """Unsigned area of an (N, 2) polygon."""
    return abs(signed_area(poly))
