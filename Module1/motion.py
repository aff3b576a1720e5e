"""Pure landmark motion for the weight-free predictor: mouth shaping, blinks, head pose.

All points are iBUG-68 (x, y) pixels of the 512×512 aligned photo, x right, y down.
Displacements are scaled by the face size (:func:`face_size`, the distance between the
eye centres) or by the mouth width, so they behave the same at any face scale.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from common import ibug68
from common.ibug68 import inner_lip_gap  # re-exported (was defined here)

__all__ = [
    "face_size",
    "mouth_frame",
    "inner_lip_gap",
    "mouth_shape",
    "blink_track",
    "apply_blinks",
    "head_pose_track",
    "apply_head_pose",
    "head_pivot",
    "POSE_LIMITS",
]

_INNER_UP, _INNER_LO = ibug68.INNER_LIP_UPPER, ibug68.INNER_LIP_LOWER
_LID_UP, _LID_LO = ibug68.EYELID_UPPER, ibug68.EYELID_LOWER

# How much each point follows the lower-lip drop (face-down direction).
_LOWER_FOLLOW = {
    # outer lower lip
    55: 0.6, 56: 0.85, 57: 0.9, 58: 0.85, 59: 0.6,
    # corners
    48: 0.35, 54: 0.35, 60: 0.35, 64: 0.35,
    # chin and jaw: the jaw rotates, so the drop fades towards the ears
    8: 0.64, 7: 0.6, 9: 0.6, 6: 0.5, 10: 0.5, 5: 0.38, 11: 0.38, 4: 0.25, 12: 0.25,
    3: 0.12, 13: 0.12, 2: 0.04, 14: 0.04,
}
# How much each point follows the upper-lip rise.
_UPPER_FOLLOW = {49: 0.6, 50: 0.8, 51: 0.85, 52: 0.8, 53: 0.6}
# Opening of the side inner-lip pairs (61↔67, 63↔65) relative to the centre pair (62↔66).
_INNER_SIDE = np.array([0.95, 1.0, 0.95])
_MOUTH = np.arange(ibug68.N_POINTS)[ibug68.MOUTH]
_OUTER_UPPER = np.array([49, 50, 51, 52, 53])
_OUTER_LOWER = np.array([55, 56, 57, 58, 59])

# Fraction of the mouth width: inner-lip gap added at open=1 (of which the upper lip takes _UPPER_SHARE).
OPEN_GAIN = 0.35
_UPPER_SHARE = 0.15
SPREAD_GAIN = 0.08   # width change at spread=±1
ROUND_GAIN = 0.2     # width loss at round=1
POUT_GAIN = 0.03     # outer lips thicken when rounded

# Hard bounds of head_pose_track at activity 1: roll (deg), tx, ty (fractions of the eye distance),
# scale delta. The face box is ~2.5× the eye distance, so tx/ty are ~1.5 % / ~1.2 % of the face.
POSE_LIMITS = np.array([2.5, 0.04, 0.03, 0.01])


def _check(points: np.ndarray, name: str = "points") -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[-2:] != (68, 2):
        raise ValueError(f"{name} must have shape (..., 68, 2); got {arr.shape}")
    return arr


def face_size(source: np.ndarray) -> float:
    """Distance between the eye centres (means of 36–41 and 42–47) of a (68, 2) shape, in pixels."""
    s = _check(source, "source")
    return float(np.linalg.norm(s[ibug68.LEFT_EYE].mean(0) - s[ibug68.RIGHT_EYE].mean(0)))


def mouth_frame(source: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Mouth-local frame of a (68, 2) shape: ``(centre (2,), x_axis (2,), y_axis (2,), width)``.

    ``x_axis`` runs from corner 48 to corner 54, ``y_axis`` is perpendicular towards the chin.
    ``width`` is the corner distance, kept within 0.6–1.3× the face size (robust to odd detections).
    """
    s = _check(source, "source")
    c48, c54 = s[48], s[54]
    x = c54 - c48
    w = float(np.linalg.norm(x))
    x = x / w if w > 1e-6 else np.array([1.0, 0.0])
    y = np.array([-x[1], x[0]])  # +90° in a y-down frame points down
    if np.dot(s[8] - s[33], y) < 0:  # make sure it points to the chin
        y = -y
    fs = face_size(s)
    if fs > 1e-6:
        w = float(np.clip(w, 0.6 * fs, 1.3 * fs))
    centre = 0.5 * (c48 + c54)
    return centre, x, y, w


def mouth_shape(
    source: np.ndarray,
    open_: np.ndarray,
    spread: np.ndarray | None = None,
    round_: np.ndarray | None = None,
    min_gap: float = 1.0,
    closed_rest: bool = True,
) -> np.ndarray:
    """Shape the mouth and jaw of ``source`` per frame.

    Args:
        source: (68, 2) shape of the photo.
        open_: (T,) opening in [0, 1]. With ``closed_rest`` the centre inner-lip gap (62↔66) is
            ``max(min_gap, open × OPEN_GAIN × mouth width)``: 0 closes the lips even when the
            photo's mouth is open (a closed-mouth photo comes back unchanged, up to ``min_gap``).
            Without it, the photo's own gap is the rest gap and ``open`` adds to it.
        spread: (T,) in [-1, 1]; ±1 changes the mouth width by ±``SPREAD_GAIN``.
        round_: (T,) in [0, 1]; 1 narrows the mouth by ``ROUND_GAIN`` and pouts the lips.
        min_gap: the inner lips are kept at least this many pixels apart.

    Returns:
        float32 (T, 68, 2); only the mouth and the lower jaw (points 2–14) move. The lower lip
        takes 85 % of a gap change and the upper lip 15 %; outer lips, corners and jaw follow.
    """
    s = _check(source, "source")
    o = np.clip(np.asarray(open_, dtype=np.float64).reshape(-1), 0.0, None)
    T = o.size
    sp = np.zeros(T) if spread is None else np.clip(np.asarray(spread, np.float64).reshape(-1), -1, 1)
    rd = np.zeros(T) if round_ is None else np.clip(np.asarray(round_, np.float64).reshape(-1), 0, 1)
    if sp.size != T or rd.size != T:
        raise ValueError(f"open, spread and round must have the same length; got {T}, {sp.size}, {rd.size}")
    centre, ax, ay, w = mouth_frame(s)

    # Work in mouth-local coordinates (u along the mouth, v towards the chin).
    rel = s - centre
    u0, v0 = rel @ ax, rel @ ay
    u = np.broadcast_to(u0, (T, 68)).copy()
    v = np.broadcast_to(v0, (T, 68)).copy()

    # Gap change per inner-lip pair (T, 3), split between the lower and the upper lip.
    gap0 = v0[_INNER_LO] - v0[_INNER_UP]
    added = o[:, None] * OPEN_GAIN * w * _INNER_SIDE[None, :]
    change = np.maximum(added, min_gap) - gap0[None, :] if closed_rest else added
    v[:, _INNER_LO] += (1.0 - _UPPER_SHARE) * change
    v[:, _INNER_UP] -= _UPPER_SHARE * change
    lower = (1.0 - _UPPER_SHARE) * change[:, 1]
    upper = _UPPER_SHARE * change[:, 1]
    for i, f in _LOWER_FOLLOW.items():
        v[:, i] += f * lower
    for i, f in _UPPER_FOLLOW.items():
        v[:, i] -= f * upper

    # Width: spread widens, rounding narrows (inner lips a little more, for a rounder hole).
    scale = 1.0 + SPREAD_GAIN * sp - ROUND_GAIN * rd
    u[:, _MOUTH] *= scale[:, None]
    u[:, 60:68] *= (1.0 - 0.1 * rd)[:, None]
    pout = POUT_GAIN * w * rd
    v[:, _OUTER_UPPER] -= pout[:, None]
    v[:, _OUTER_LOWER] += pout[:, None]

    # Keep the inner lips apart (and the lower lip below the upper one).
    gap = v[:, _INNER_LO] - v[:, _INNER_UP]
    v[:, _INNER_LO] += np.maximum(min_gap - gap, 0.0)

    out = centre + u[..., None] * ax + v[..., None] * ay
    return out.astype(np.float32)


def blink_track(
    T: int,
    fps: float,
    rng: np.random.Generator,
    interval: tuple[float, float] = (2.5, 6.0),
    duration: tuple[float, float] = (0.15, 0.25),
    no_blink_s: float = 0.5,
    half_blink_p: float = 0.15,
) -> np.ndarray:
    """Eye closure per frame: float32 (T,) in [0, 1] (1 = lids meet).

    Blink onsets are spaced uniformly within ``interval`` seconds, the first one after
    ``no_blink_s`` (within ``interval[0]``–``interval[1]`` of the start, clipped to
    ``no_blink_s``). A blink closes fast (~35 % of its duration), holds briefly, and opens
    slower; the frame nearest its peak always reaches the full amplitude, so a blink is
    never lost between frames. With probability ``half_blink_p`` a blink is a half blink (0.5).
    """
    T = int(T)
    out = np.zeros(T, dtype=np.float64)
    if T == 0:
        return out.astype(np.float32)
    total = T / fps
    t_frames = (np.arange(T) + 0.5) / fps
    start = max(no_blink_s, rng.uniform(0.4, 1.0) * rng.uniform(*interval))
    onset = start
    while onset < total:
        d = rng.uniform(*duration)
        amp = 0.5 if rng.random() < half_blink_p else 1.0
        close_d, hold_d = 0.35 * d, 0.15 * d
        open_d = d - close_d - hold_d
        x = t_frames - onset
        c = np.zeros(T)
        rising = (x >= 0) & (x < close_d)
        c[rising] = _smoothstep(x[rising] / close_d)
        c[(x >= close_d) & (x < close_d + hold_d)] = 1.0
        falling = (x >= close_d + hold_d) & (x < d)
        c[falling] = _smoothstep(1.0 - (x[falling] - close_d - hold_d) / open_d)
        peak = onset + close_d + 0.5 * hold_d
        k = int(np.clip(np.floor(peak * fps), 0, T - 1))
        if (k + 0.5) / fps >= no_blink_s:
            c[k] = 1.0
        out = np.maximum(out, amp * c)
        onset += rng.uniform(*interval)
    out[t_frames < no_blink_s] = 0.0
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def apply_blinks(points: np.ndarray, closure: np.ndarray, lower_rise: float = 0.15, min_gap: float = 1.0) -> np.ndarray:
    """Close the eyelids by ``closure``.

    Args:
        points: (T, 68, 2) or (68, 2) shapes (broadcast against ``closure``).
        closure: (T,) in [0, 1]; at 1 the upper-lid points (37, 38, 43, 44) land on the lower
            lid, which itself rises by ``lower_rise`` of the eye opening. The lids stay
            ``min_gap`` pixels apart so that no triangle collapses.

    Returns:
        float32 (T, 68, 2).
    """
    p = _check(points)
    c = np.clip(np.asarray(closure, dtype=np.float64).reshape(-1), 0.0, 1.0)
    if p.ndim == 2:
        p = np.broadcast_to(p, (c.size, 68, 2))
    if p.shape[0] != c.size:
        raise ValueError(f"points have {p.shape[0]} frames but closure has {c.size}")
    out = p.copy()
    up, lo = p[:, _LID_UP], p[:, _LID_LO]
    opening = up - lo  # (T, 4, 2) from lower to upper lid
    dist = np.linalg.norm(opening, axis=-1, keepdims=True)
    unit = opening / np.maximum(dist, 1e-9)
    meet_lo = lo + lower_rise * opening
    # Upper lid stops min_gap above the risen lower lid (never below its own rest position).
    meet_up = meet_lo + unit * np.minimum(min_gap, dist * (1.0 - lower_rise))
    cc = c[:, None, None]
    out[:, _LID_UP] = up + cc * (meet_up - up)
    out[:, _LID_LO] = lo + cc * (meet_lo - lo)
    return out.astype(np.float32)


def head_pose_track(
    T: int,
    fps: float,
    rng: np.random.Generator,
    activity: np.ndarray | None = None,
    amount: float = 1.0,
    n_waves: int = 4,
    band_hz: tuple[float, float] = (0.07, 0.8),
) -> np.ndarray:
    """Smooth, band-limited head pose per frame.

    Each channel is a sum of ``n_waves`` sinusoids with random frequencies in ``band_hz``
    and random phases, normalised so that its peak can never exceed its limit. Motion is
    60 % at rest and grows to 100 % with ``activity`` (speech, smoothed over ~0.4 s).

    Args:
        T, fps: frame count and rate.
        rng: the random generator (seeded by the caller).
        activity: optional (T,) in [0, 1] (e.g. voice activity).
        amount: overall multiplier (0 = still head).

    Returns:
        float32 (T, 4): roll (degrees, positive = clockwise on screen), tx, ty (fractions of the
        face size), scale delta (0.01 = 1 % larger); ``|pose| <= POSE_LIMITS * amount``.
    """
    T = int(T)
    t = np.arange(T) / fps
    pose = np.zeros((T, 4))
    for ch in range(4):
        freqs = rng.uniform(*band_hz, size=n_waves)
        phases = rng.uniform(0.0, 2.0 * np.pi, size=n_waves)
        amps = rng.uniform(0.5, 1.0, size=n_waves) / (1.0 + freqs)  # slower waves carry more
        amps /= amps.sum()
        pose[:, ch] = (amps[None, :] * np.sin(2 * np.pi * freqs[None, :] * t[:, None] + phases)).sum(1)
    if activity is None or T == 0:
        gain = np.full(T, 0.6)
    else:
        a = np.clip(np.asarray(activity, np.float64).reshape(-1), 0, 1)
        if a.size != T:
            raise ValueError(f"activity must have {T} values; got {a.size}")
        a = ndimage.gaussian_filter1d(a, max(0.4 * fps, 1e-3), mode="nearest")
        gain = 0.6 + 0.4 * a
    pose *= gain[:, None] * POSE_LIMITS[None, :] * float(amount)
    return pose.astype(np.float32)


def head_pivot(source: np.ndarray) -> np.ndarray:
    """Pivot of the head motion: (2,) a point on the neck, 0.3 face sizes below the chin (point 8)."""
    s = _check(source, "source")
    _, _, ay, _ = mouth_frame(s)
    return (s[8] + 0.3 * face_size(s) * ay).astype(np.float64)


def apply_head_pose(points: np.ndarray, pose: np.ndarray, centre: np.ndarray, size: float) -> np.ndarray:
    """Move shapes rigidly: rotate by roll and scale about ``centre``, then translate.

    Args:
        points: (T, 68, 2) or (68, 2) shapes.
        pose: (T, 4) from :func:`head_pose_track` (roll deg, tx, ty, scale delta).
        centre: (2,) pivot in pixels (e.g. :func:`head_pivot`).
        size: face size in pixels; tx/ty are fractions of it.

    Returns:
        float32 (T, 68, 2).
    """
    p = _check(points)
    q = np.asarray(pose, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] != 4:
        raise ValueError(f"pose must have shape (T, 4); got {q.shape}")
    if p.ndim == 2:
        p = np.broadcast_to(p, (q.shape[0], 68, 2))
    if p.shape[0] != q.shape[0]:
        raise ValueError(f"points have {p.shape[0]} frames but pose has {q.shape[0]}")
    th = np.deg2rad(q[:, 0])
    cos, sin = np.cos(th), np.sin(th)
    k = 1.0 + q[:, 3]
    c = np.asarray(centre, dtype=np.float64).reshape(1, 1, 2)
    rel = p - c
    x = k[:, None] * (cos[:, None] * rel[..., 0] - sin[:, None] * rel[..., 1])
    y = k[:, None] * (sin[:, None] * rel[..., 0] + cos[:, None] * rel[..., 1])
    out = np.stack([x, y], -1) + c + (q[:, None, 1:3] * size)
    return out.astype(np.float32)
