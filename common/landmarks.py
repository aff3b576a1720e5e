"""The stage interface: a sequence of 68-point landmarks and its per-frame text files.

Coordinates are (x, y) pixels of the 512×512 aligned photo, x right, y down, in
iBUG-68 order. Files are ``%05d.txt`` with 68 lines ``"x y"``, the files the original passes from Module1 to Module2.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .ibug68 import N_POINTS

__all__ = ["LandmarkSequence", "write_landmark_file", "read_landmark_file", "check_points", "resample_points"]



def check_points(points: np.ndarray, name: str = "points") -> np.ndarray:
    """Validate a ``(..., 68, 2)`` array of finite coordinates and return it as float32."""
    arr = np.asarray(points, dtype=np.float32)
    if arr.ndim < 2 or arr.shape[-2:] != (N_POINTS, 2):
        raise ValueError(f"{name} must have shape (..., 68, 2); got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    return arr


def write_landmark_file(path: str | os.PathLike, points: np.ndarray) -> None:
    """Write one frame's 68 points as ``"x y"`` lines (the original's format)."""
    pts = check_points(points)
    text = "".join(f"{float(x)} {float(y)}\n" for x, y in pts.astype(np.float64))
    Path(path).write_text(text)


def read_landmark_file(path: str | os.PathLike) -> np.ndarray:
    """Read a ``"x y"`` landmark file into a (68, 2) float32 array."""
    try:
        arr = np.loadtxt(path, dtype=np.float32, ndmin=2)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read landmark file {path}: {exc}") from None
    if arr.shape != (N_POINTS, 2):
        raise ValueError(f"landmark file {path} must hold 68 lines of 'x y'; got shape {arr.shape}")
    return arr


def resample_points(points: np.ndarray, src_fps: float, n: int, fps: float) -> np.ndarray:
    """Linearly interpolate (T, ...) frames sampled at ``src_fps`` onto ``n`` frames at ``fps``.

    Frame k of the result is at time k/fps; times past the last source frame hold it.
    """
    pts = np.asarray(points, np.float64)
    flat = pts.reshape(pts.shape[0], -1)
    t_old = np.arange(flat.shape[0]) / src_fps
    t_new = np.arange(n) / fps
    out = np.empty((n, flat.shape[1]), np.float64)
    for j in range(flat.shape[1]):
        out[:, j] = np.interp(t_new, t_old, flat[:, j])
    return out.reshape((n,) + pts.shape[1:])


@dataclass(frozen=True)
class LandmarkSequence:
    """Per-frame landmarks of a talking face.

    Attributes:
        points: float32 (T, 68, 2) target landmarks per output frame.
        fps: frames per second of ``points``.
        source: float32 (68, 2) landmarks of the still photo.
    """

    points: np.ndarray
    fps: float
    source: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", check_points(self.points, "points"))
        object.__setattr__(self, "source", check_points(self.source, "source"))
        if self.points.ndim != 3:
            raise ValueError(f"points must have shape (T, 68, 2); got {self.points.shape}")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive; got {self.fps}")

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self) / self.fps

    def save_frames(self, directory: str | os.PathLike) -> list[Path]:
        """Write ``%05d.txt`` per frame and ``ori.txt`` (the source) into ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        write_landmark_file(d / "ori.txt", self.source)
        paths = []
        for i, pts in enumerate(self.points):
            p = d / f"{i:05d}.txt"
            write_landmark_file(p, pts)
            paths.append(p)
        return paths

    @classmethod
    def load_frames(cls, directory: str | os.PathLike, fps: float) -> LandmarkSequence:
        """Read a directory written by :meth:`save_frames`."""
        d = Path(directory)
        frames = sorted(p for p in d.glob("[0-9][0-9][0-9][0-9][0-9].txt"))
        if not frames:
            raise ValueError(f"no %05d.txt landmark files in {d}")
        pts = np.stack([read_landmark_file(p) for p in frames])
        return cls(points=pts, fps=fps, source=read_landmark_file(d / "ori.txt"))

    def resample(self, fps: float, n_frames: int | None = None) -> LandmarkSequence:
        """Linearly resample to ``fps``; ``n_frames`` defaults to round(T·fps/self.fps) (same duration)."""
        n = n_frames if n_frames is not None else max(1, int(round(len(self) * fps / self.fps)))
        pts = resample_points(self.points, self.fps, n, fps).astype(np.float32)
        return LandmarkSequence(pts, fps, self.source)
