"""A synthetic iBUG-68 face for the Module1 tests (a helper module, not tests)."""
from __future__ import annotations

import numpy as np


def synthetic_face(scale: float = 1.0, centre=(256.0, 256.0), gap: float = 2.0, roll_deg: float = 0.0) -> np.ndarray:
    """A plausible iBUG-68 face: eye centres 100·scale px apart, mouth 90·scale px wide, inner lips ``gap`` px apart."""
    s = scale
    pts = np.zeros((68, 2))
    th = np.linspace(np.pi, 0.0, 17)
    pts[0:17] = np.c_[95 * s * np.cos(th), 130 * s * np.sin(th) - 10 * s]
    pts[17:22] = np.c_[np.linspace(-85, -20, 5) * s, (-60 - 8 * np.sin(np.linspace(0, np.pi, 5))) * s]
    pts[22:27] = np.c_[np.linspace(20, 85, 5) * s, (-60 - 8 * np.sin(np.linspace(0, np.pi, 5))) * s]
    pts[27:31] = np.c_[np.zeros(4), np.linspace(-35, 25, 4) * s]
    pts[31:36] = np.c_[np.linspace(-18, 18, 5) * s, np.full(5, 35 * s)]
    w, h = 18 * s, 7 * s
    eye = np.array([[-w, 0], [-w / 3, -h], [w / 3, -h], [w, 0], [w / 3, h], [-w / 3, h]])
    pts[36:42] = eye + [-50 * s, -35 * s]
    pts[42:48] = eye + [50 * s, -35 * s]
    mw, uh, lh, my = 45 * s, 10 * s, 12 * s, 70 * s
    pts[48:60] = np.array([
        [-mw, 0], [-2 * mw / 3, -uh], [-mw / 3, -1.1 * uh], [0, -0.9 * uh], [mw / 3, -1.1 * uh], [2 * mw / 3, -uh],
        [mw, 0], [2 * mw / 3, lh], [mw / 3, 1.1 * lh], [0, 1.2 * lh], [-mw / 3, 1.1 * lh], [-2 * mw / 3, lh],
    ]) + [0, my]
    g = gap / 2
    pts[60:68] = np.array([
        [-0.85 * mw, 0], [-mw / 3, -g], [0, -g], [mw / 3, -g], [0.85 * mw, 0], [mw / 3, g], [0, g], [-mw / 3, g],
    ]) + [0, my]
    a = np.deg2rad(roll_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (pts @ rot.T + np.asarray(centre)).astype(np.float32)
