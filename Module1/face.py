"""Face geometry of the neural predictor: photo normalisation and landmark post-processing.

Pure functions on NumPy arrays. Landmarks are iBUG-68; ``(68, 3)`` arrays hold (x, y, z);
flattened rows of 204 values are ``x0, y0, z0, x1, …``. "Pixel" coordinates are those of the
512×512 aligned photo (x right, y down); "normalised" coordinates are Module1's frame
(face width 1.6, centred between points 0 and 16, both axes flipped).
"""
from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter

from common.ibug68 import signed_area  # re-exported (was defined here)

__all__ = [
    "tweak_lips_eyes",
    "norm_input_face",
    "denorm_face",
    "close_pose_mouth",
    "calibrate_content",
    "signed_area",
    "fix_inverted_lips",
    "fix_nose_top",
    "blink_times",
    "add_naive_eye",
    "smooth_face",
    "savgol_safe",
]

_EYE_PAIRS = ((37, 41), (38, 40), (43, 47), (44, 46))
_EYELIDS = [37, 38, 40, 41, 43, 44, 46, 47]


def tweak_lips_eyes(points: np.ndarray) -> np.ndarray:
    """The original's manual tweak (thinner lips, wider eyes) on (68, ≥2) pixel landmarks; returns a copy.

    Rows 49–53 y += 1; rows 55–59 y −= 1; rows 37, 38, 43, 44 y −= 2; rows 40, 41, 46, 47 y += 2.
    """
    p = np.array(points, dtype=np.float64, copy=True)
    if p.ndim != 2 or p.shape[0] != 68 or p.shape[1] < 2:
        raise ValueError(f"points must have shape (68, 2|3); got {p.shape}")
    p[49:54, 1] += 1
    p[55:60, 1] -= 1
    p[[37, 38, 43, 44], 1] -= 2
    p[[40, 41, 46, 47], 1] += 2
    return p


def norm_input_face(points: np.ndarray, std_face: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Module1's ``norm_input_face``: pixel (68, 2|3) landmarks → normalised (68, 3), ``scale``, ``shift``.

    ``scale = 1.6/(x0 − x16)`` (negative for an upright face), ``shift = −(p0 + p16)/2`` (x, y);
    ``xy ← −(xy + shift)·scale``; ``z ← 0.1·z`` of ``std_face`` (68, 3) (any input z is replaced).
    """
    p = np.asarray(points, np.float64)
    if p.shape[0] != 68 or p.ndim != 2:
        raise ValueError(f"points must have shape (68, 2|3); got {p.shape}")
    width = p[0, 0] - p[16, 0]
    if width == 0:
        raise ValueError("landmarks 0 and 16 have the same x: cannot normalise the face")
    scale = 1.6 / width
    shift = -0.5 * (p[0, :2] + p[16, :2])
    out = np.zeros((68, 3), np.float64)
    out[:, :2] = -((p[:, :2] + shift) * scale)
    out[:, 2] = np.asarray(std_face, np.float64).reshape(68, 3)[:, 2] * 0.1
    return out, float(scale), shift


def denorm_face(fl: np.ndarray, scale: float, shift: np.ndarray) -> np.ndarray:
    """Inverse of :func:`norm_input_face` on (..., 68, 3): ``xy ← −xy/scale − shift`` (z unchanged)."""
    out = np.array(fl, dtype=np.float64, copy=True)
    out[..., :2] = -out[..., :2] / scale - np.asarray(shift, np.float64)
    return out


def close_pose_mouth(disp: np.ndarray, ratio: float = 0.99) -> np.ndarray:
    """Pull the speaker branch's lips together: (B, 204) displacements → copy (same float dtype).

    Outer upper 49–53 and outer lower 59…55 (reversed) move to their pairwise mean by ``ratio``;
    inner 61–63 and 67…65 likewise.
    """
    d = np.array(disp, copy=True).reshape(-1, 68, 3)
    lo_out = [59, 58, 57, 56, 55]
    lo_in = [67, 66, 65]
    m = 0.5 * d[:, 49:54] + 0.5 * d[:, lo_out]
    d[:, 49:54] = m * ratio + d[:, 49:54] * (1 - ratio)
    d[:, lo_out] = m * ratio + d[:, lo_out] * (1 - ratio)
    m = 0.5 * (d[:, 61:64] + d[:, lo_in])
    d[:, 61:64] = m * ratio + d[:, 61:64] * (1 - ratio)
    d[:, lo_in] = m * ratio + d[:, lo_in] * (1 - ratio)
    return d.reshape(-1, 204)


def calibrate_content(pred: np.ndarray, amp_lip_x: float = 2.0, amp_lip_y: float = 2.0, ratio: float = 0.5) -> np.ndarray:
    """Content-branch calibration on (B, 204): subtract from each column the mean of its lowest
    ``int(B·ratio)`` values, then scale mouth x (cols 144, 147, …) and mouth y (145, 148, …).

    Column by column with ``argpartition`` and a 1-D mean in the input's dtype, as the original: the
    order in which the float32 values are summed decides the last bit.
    """
    p = np.array(pred, copy=True)
    k = int(p.shape[0] * ratio)
    if 0 < k < p.shape[0]:
        for i in range(p.shape[1]):
            col = p[:, i]
            p[:, i] = col - np.mean(col[np.argpartition(col, k)[:k]])
    elif k > 0:
        p -= p.mean(axis=0, keepdims=True)
    p[:, 48 * 3 :: 3] *= amp_lip_x
    p[:, 48 * 3 + 1 :: 3] *= amp_lip_y
    return p


def fix_inverted_lips(fls: np.ndarray) -> np.ndarray:
    """Per frame of (B, 204) normalised landmarks: when the inner-lip polygon 60–67 has negative
    signed area, merge 65↔63, 66↔62, 67↔61 to their means and move the outer lips (y only) to keep
    the previous frame's offset from the inner lips. Frames are processed in order (copy returned,
    same float dtype: the original repairs its float32 array in place)."""
    f = np.array(fls, copy=True).reshape(-1, 68, 3)
    for j in range(f.shape[0]):
        if signed_area(f[j, 60:68, :2]) >= 0:
            continue
        for a, b in ((65, 63), (66, 62), (67, 61)):
            m = 0.5 * (f[j, b] + f[j, a])
            f[j, a] = m
            f[j, b] = m
        p = max(j - 1, 0)
        f[j, 55:59, 1] = f[j, 64:68, 1] + f[p, 55:59, 1] - f[p, 64:68, 1]
        f[j, 59, 1] = f[j, 60, 1] + f[p, 59, 1] - f[p, 60, 1]
        f[j, 49:54, 1] = f[j, 60:65, 1] + f[p, 49:54, 1] - f[p, 60:65, 1]
    return f.reshape(-1, 204)


def fix_nose_top(fls: np.ndarray) -> np.ndarray:
    """Point 27 ← 2·p28 − p29 on (T, 204) (copy, same dtype)."""
    f = np.array(fls, copy=True)
    f[:, 27 * 3 : 28 * 3] = 2 * f[:, 28 * 3 : 29 * 3] - f[:, 29 * 3 : 30 * 3]
    return f


def savgol_safe(x: np.ndarray, window: int, order: int = 3) -> np.ndarray:
    """``savgol_filter(x, window, order, axis=0)`` with the window shrunk to the largest odd ≤ len(x);
    returned unchanged when that is not larger than ``order`` (too short to smooth). Float32 input is
    filtered in float32, as scipy does for the original."""
    n = x.shape[0]
    w = min(window, n if n % 2 == 1 else n - 1)
    if w <= order:
        return np.array(x, copy=True)
    return savgol_filter(x, w, order, axis=0)


def blink_times(n_frames: int, rng: np.random.RandomState, first: int = 30, k2: int = 15) -> list[int]:
    """The original's blink schedule: 30, then steps of 60 + randint(30, 90) while ``t < T−1−15``."""
    times = [first]
    t = first
    while t < n_frames - 1 - k2:
        t += 60 + int(rng.randint(30, 90))
        if t < n_frames - 1 - k2:
            times.append(t)
    return times


def add_naive_eye(fl: np.ndarray, rng: np.random.RandomState | None = None, times: list[int] | None = None) -> np.ndarray:
    """Module1's ``add_naive_eye`` on (T, 68, 3): slightly closed eyelids and blinks (copy returned).

    Every frame: each eyelid pair (a, b) ← (0.95a+0.05b, 0.05a+0.95b). At each blink time t both
    become 0.25a+0.75b; frames t−9…t−1 and t+1…t+14 interpolate the eyelid points towards/away from
    it. ``times`` defaults to :func:`blink_times` with ``rng``; a blink whose 25-frame span does not
    fit in the sequence is skipped (the original needs T ≥ 46).
    """
    f = np.array(fl, dtype=np.float64, copy=True)
    T = f.shape[0]
    for a, b in _EYE_PAIRS:
        fa, fb = f[:, a].copy(), f[:, b].copy()
        f[:, a] = 0.95 * fa + 0.05 * fb
        f[:, b] = 0.05 * fa + 0.95 * fb
    if times is None:
        times = blink_times(T, rng if rng is not None else np.random.RandomState(0))
    k1, k2 = 10, 15
    for t in times:
        if t - k1 < 0 or t + k2 >= T:
            continue
        for a, b in _EYE_PAIRS:
            closed = 0.25 * f[t, a] + 0.75 * f[t, b]
            f[t, a] = closed
            f[t, b] = closed
        for t0 in range(t - k1 + 1, t):
            r = (t - t0) / k1
            f[t0, _EYELIDS] = r * f[t - k1, _EYELIDS] + (1 - r) * f[t, _EYELIDS]
        for t0 in range(t + 1, t + k2):
            r = (t + k2 - 1 - t0) / k2
            f[t0, _EYELIDS] = r * f[t, _EYELIDS] + (1 - r) * f[t + k2, _EYELIDS]
    return f


def smooth_face(fl: np.ndarray) -> np.ndarray:
    """Savitzky–Golay over time on (T, 68, 3): points 0–47 window 15, mouth 48–67 window 5, order 3."""
    f = np.asarray(fl, np.float64).reshape(-1, 204)
    out = np.empty_like(f)
    out[:, :144] = savgol_safe(f[:, :144], 15, 3)
    out[:, 144:] = savgol_safe(f[:, 144:], 5, 3)
    return out.reshape(-1, 68, 3)
