"""Training data of the two landmark branches: the on-disk dataset format and the original windowing.

Dataset format (a folder; written by ``python -m Module1.prepare``, read by ``Module1.train_content`` and
``Module1.train_speaker``)::

    <dataset>/
      index.json          {"format": "module1-a2l/1", "fps": 62.5, "feature": "autovc" | "mel",
                           "clips": [{"name": str, "file": "clips/<name>.npz", "frames": T}, ...]}
      clips/<name>.npz    one file per talking-face clip, all at 62.5 frames/s:
                            fls  float32 (T, 204)  68 landmarks (x, y, z) per frame in Module1's normalised
                                                   frame (Module1.face.norm_input_face with one scale/shift
                                                   per clip, z = 0.1·z of STD_FACE_LANDMARKS)
                            au   float32 (T, 80)   audio feature, NOT standardised: the AutoVC-converted mel
                                                   (feature "autovc") or the front end's mel S ("mel")
                            emb  float32 (256,)    resemblyzer speaker embedding of the clip

``feature`` records whether AutoVC conversion was applied (``prepare`` falls back to the mel alone when
no AutoVC checkpoint is present). The trainers standardise ``au`` with MEAN_STD_AUTOVC_RETRAIN_MEL_AU.txt
as the original does. Windows follow the original: for a clip of T frames, window i = frames
``[i, i+18)`` for i = 0 … T−19, the target of window i is its first landmark frame ``fls[i]``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common import InputError
from common.fs import atomic_path

__all__ = ["WINDOW", "FORMAT", "Clip", "windows", "read_dataset", "write_clip", "write_index"]

WINDOW = 18  # frames per audio window
FORMAT = "module1-a2l/1"


def windows(x: np.ndarray, size: int = WINDOW) -> np.ndarray:
    """The original's windows of a (T, C) array: (T−size, size, C), window i = ``x[i:i+size]``.

    (T−size windows: the last ``size`` frames start no window.) Empty (0, size, C) when T ≤ size.
    """
    x = np.asarray(x)
    n = max(0, x.shape[0] - size)
    if n == 0:
        return np.zeros((0, size) + x.shape[1:], x.dtype)
    view = np.lib.stride_tricks.sliding_window_view(x, size, axis=0)[:n]  # (n, C, size)
    return np.ascontiguousarray(np.moveaxis(view, -1, 1))


@dataclass(frozen=True)
class Clip:
    """One clip of the dataset (see the module docstring for the meaning of the arrays)."""

    name: str
    fls: np.ndarray
    au: np.ndarray
    emb: np.ndarray


def write_clip(folder: str | os.PathLike, name: str, fls: np.ndarray, au: np.ndarray, emb: np.ndarray) -> dict:
    """Write ``clips/<name>.npz`` atomically and return its index entry."""
    fls = np.asarray(fls, np.float32)
    au = np.asarray(au, np.float32)
    emb = np.asarray(emb, np.float32).reshape(-1)
    if fls.ndim != 2 or fls.shape[1] != 204 or au.ndim != 2 or au.shape[1] != 80 or fls.shape[0] != au.shape[0]:
        raise ValueError(f"clip {name}: need fls (T,204) and au (T,80) of equal T; got {fls.shape}, {au.shape}")
    if emb.shape != (256,):
        raise ValueError(f"clip {name}: emb must have 256 values; got {emb.shape}")
    rel = f"clips/{name}.npz"
    with atomic_path(Path(folder) / rel) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, fls=fls, au=au, emb=emb)
    return {"name": name, "file": rel, "frames": int(fls.shape[0])}


def write_index(folder: str | os.PathLike, clips: list[dict], feature: str) -> Path:
    """Write ``index.json`` atomically."""
    if feature not in ("autovc", "mel"):
        raise ValueError(f"feature must be 'autovc' or 'mel'; got {feature!r}")
    path = Path(folder) / "index.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"format": FORMAT, "fps": 62.5, "feature": feature, "clips": clips}, indent=1))
    return path


def read_dataset(folder: str | os.PathLike) -> tuple[list[Clip], str]:
    """Load every clip listed in ``<folder>/index.json``; returns (clips, feature kind).

    Raises :class:`InputError` naming the problem (missing index or clip, wrong shapes).
    """
    folder = Path(folder)
    index = folder / "index.json"
    if not index.is_file():
        raise InputError(f"not a Module1 dataset (no index.json): {folder}")
    try:
        meta = json.loads(index.read_text())
    except ValueError as exc:
        raise InputError(f"cannot read {index}: {exc}") from None
    if meta.get("format") != FORMAT:
        raise InputError(f"{index}: format {meta.get('format')!r} is not {FORMAT!r}")
    clips = []
    for entry in meta.get("clips", []):
        path = folder / entry["file"]
        if not path.is_file():
            raise InputError(f"dataset clip missing: {path}")
        with np.load(path) as z:
            fls, au, emb = z["fls"].astype(np.float32), z["au"].astype(np.float32), z["emb"].astype(np.float32)
        if fls.ndim != 2 or fls.shape[1] != 204 or au.shape != (fls.shape[0], 80) or emb.shape != (256,):
            raise InputError(f"dataset clip {path}: bad shapes fls {fls.shape}, au {au.shape}, emb {emb.shape}")
        clips.append(Clip(entry["name"], fls, au, emb))
    if not clips:
        raise InputError(f"dataset {folder} lists no clips")
    return clips, str(meta.get("feature", "autovc"))
