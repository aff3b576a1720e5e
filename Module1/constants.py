"""The original's small constant files (they do not ship with the released checkpoints).

``Module1Config.module1_constants`` (default: the checkpoints folder) must hold:
``STD_FACE_LANDMARKS.txt`` (68×3 mean face), ``MEAN_STD_AUTOVC_RETRAIN_MEL_AU.txt`` (80 means then 80
stds of the audio feature), ``ANCHOR_T_SHAPE_9.txt`` and ``obama_emb.txt`` (256-d AutoVC target speaker).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common import CheckpointError

__all__ = ["CONSTANT_FILES", "Constants", "missing_constant", "load_constants"]

#: file name → expected number of values
CONSTANT_FILES: dict[str, int] = {
    "STD_FACE_LANDMARKS.txt": 204,
    "MEAN_STD_AUTOVC_RETRAIN_MEL_AU.txt": 160,
    "ANCHOR_T_SHAPE_9.txt": 27,
    "obama_emb.txt": 256,
}


@dataclass(frozen=True)
class Constants:
    """The constant arrays (float64).

    Attributes:
        std_face: (68, 3) mean face. mel_mean, mel_std: (80,) feature standardisation.
        anchor_t_shape: (9, 3). target_emb: (256,) AutoVC target speaker embedding.
    """

    std_face: np.ndarray
    mel_mean: np.ndarray
    mel_std: np.ndarray
    anchor_t_shape: np.ndarray
    target_emb: np.ndarray


def missing_constant(folder: str | os.PathLike) -> str | None:
    """Path of the first constant file missing from ``folder`` (``None`` when all are there)."""
    folder = Path(folder)
    for name in CONSTANT_FILES:
        if not (folder / name).is_file():
            return str(folder / name)
    return None


def _read(folder: Path, name: str) -> np.ndarray:
    path = folder / name
    if not path.is_file():
        raise CheckpointError(
            f"Module1 constant file missing: {path} (pass --module1_constants <folder with {', '.join(CONSTANT_FILES)}>)"
        )
    try:
        arr = np.loadtxt(path, dtype=np.float64).reshape(-1)
    except ValueError as exc:
        raise CheckpointError(f"cannot read Module1 constant file {path}: {exc}") from None
    if arr.size != CONSTANT_FILES[name]:
        raise CheckpointError(f"Module1 constant file {path} holds {arr.size} numbers; expected {CONSTANT_FILES[name]}")
    return arr


def load_constants(folder: str | os.PathLike) -> Constants:
    """Read the four files from ``folder``; a missing or malformed one raises :class:`CheckpointError` naming it."""
    folder = Path(folder)
    mel = _read(folder, "MEAN_STD_AUTOVC_RETRAIN_MEL_AU.txt")
    return Constants(
        std_face=_read(folder, "STD_FACE_LANDMARKS.txt").reshape(68, 3),
        mel_mean=mel[:80],
        mel_std=mel[80:],
        anchor_t_shape=_read(folder, "ANCHOR_T_SHAPE_9.txt").reshape(9, 3),
        target_emb=_read(folder, "obama_emb.txt"),
    )
