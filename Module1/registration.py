"""Landmark geometry of MakeItTalk's training data: the normalised frame, 62.5-fps resampling, rigid
registration of the 9 "T-shape" points, the reference (most closed mouth) face.

Landmarks are iBUG-68 (T, 68, 3) arrays of (x, y, z). Pure NumPy/SciPy functions.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = [
    "T_SHAPE",
    "normalize_frames",
    "resample_to_fps",
    "fit_to_length",
    "kabsch",
    "anchor_t_shape",
    "register_frames",
    "register_to",
    "mouth_fan_area",
    "mean_face",
]

#: nose bridge and bottom, the four eye corners
T_SHAPE = [27, 28, 29, 30, 33, 36, 39, 42, 45]


def normalize_frames(points: np.ndarray) -> np.ndarray:
    """Per frame: ``p ← (p − (p36 + p45)/2) · |1/(x36 − x45)|`` on all coordinates of (T, 68, 3).

    The frame of ``STD_FACE_LANDMARKS.txt``: outer eye corners at x = ∓0.5, their midpoint at 0, y down.
    """
    p = np.asarray(points, np.float64)
    width = p[:, 36, 0] - p[:, 45, 0]
    if np.any(width == 0):
        raise ValueError("degenerate landmarks: points 36 and 45 share x")
    scale = np.abs(1.0 / width)[:, None, None]
    shift = -0.5 * (p[:, 36:37] + p[:, 45:46])
    return (p + shift) * scale


def resample_to_fps(x: np.ndarray, src_fps: float, fps: float = 62.5) -> np.ndarray:
    """Linear interpolation of (N, ...) per-frame values onto the grid 0, src/fps, 2·src/fps, … < N
    (source frame indices), ``ceil(N·fps/src)`` frames; past the last source frame the last value holds."""
    x = np.asarray(x, np.float64)
    n = x.shape[0]
    step = float(src_fps) / float(fps)
    grid = np.arange(int(math.ceil(n / step - 1e-9))) * step
    flat = x.reshape(n, -1)
    src = np.arange(n)
    out = np.stack([np.interp(grid, src, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape((grid.shape[0],) + x.shape[1:])


def fit_to_length(x: np.ndarray, n: int) -> np.ndarray:
    """Trim (N, ...) to ``n`` frames, or hold the last frame to reach ``n``."""
    x = np.asarray(x)
    if x.shape[0] >= n:
        return x[:n]
    return np.concatenate([x, np.repeat(x[-1:], n - x.shape[0], axis=0)], axis=0)


def kabsch(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rigid fit (no scale) of point set ``a`` (K, 3) onto ``b`` (K, 3): ``R``, ``t`` with ``b ≈ R a + t``.

    H = Aᶜᵀ Bᶜ, SVD H = U S Vᵀ, R = V Uᵀ; a reflection (det R < 0) flips the last row of Vᵀ.
    (MakeItTalk iterates an ICP with fixed correspondences, which converges to this single fit.)
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    h = (a - ca).T @ (b - cb)
    u, _, vt = np.linalg.svd(h)
    r = vt.T @ u.T
    if np.linalg.det(r) < 0:
        vt[-1, :] *= -1
        r = vt.T @ u.T
    return r, cb - r @ ca


def anchor_t_shape(anchor: np.ndarray) -> np.ndarray:
    """The 9-point anchor (9, 3) scaled to unit eye-corner distance and centred on points 33, 36, 45."""
    a = np.asarray(anchor, np.float64).reshape(9, 3)
    a = a / abs(a[5, 0] - a[8, 0])
    return a - a[[4, 5, 8]].mean(axis=0)


def register_frames(fls: np.ndarray, anchor9: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Register every frame of (T, 68, 3) by the rigid fit of its T-shape to ``anchor9`` (9, 3).

    Returns registered landmarks (T, 68, 3), ``[R | t]`` (T, 3, 4) and the quaternion of R (T, 4; x, y, z, w).
    """
    f = np.asarray(fls, np.float64)
    reg = np.empty_like(f)
    rt = np.empty((f.shape[0], 3, 4))
    for i in range(f.shape[0]):
        r, t = kabsch(f[i, T_SHAPE], anchor9)
        reg[i] = f[i] @ r.T + t
        rt[i, :, :3], rt[i, :, 3] = r, t
    quat = Rotation.from_matrix(rt[:, :, :3]).as_quat() if f.shape[0] else np.zeros((0, 4))
    return reg, rt, quat


def register_to(face: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``face`` (68, 3) moved rigidly so that its T-shape best fits the T-shape of ``reference`` (68, 3)."""
    f = np.asarray(face, np.float64).reshape(68, 3)
    r, t = kabsch(f[T_SHAPE], np.asarray(reference, np.float64).reshape(68, 3)[T_SHAPE])
    return f @ r.T + t


def mouth_fan_area(face: np.ndarray) -> float:
    """Sum of the unsigned areas of the triangles (60, k, k+1), k = 61…66, of the inner lip (x, y)."""
    p = np.asarray(face, np.float64).reshape(68, -1)[60:68, :2]
    v1 = p[1:-1] - p[0]
    v2 = p[2:] - p[0]
    return float(np.sum(0.5 * np.abs(v1[:, 0] * v2[:, 1] - v1[:, 1] * v2[:, 0])))


def mean_face(clips: list[np.ndarray]) -> np.ndarray:
    """Mean (68, 3) of the frames of every clip (each (T, 204) or (T, 68, 3)), re-normalised."""
    allf = np.concatenate([np.asarray(c, np.float64).reshape(-1, 68, 3) for c in clips], axis=0)
    return normalize_frames(allf.mean(axis=0, keepdims=True))[0]
