"""Training data of the two landmark branches: the on-disk dataset format and the original windowing.

Dataset format (a folder; written by ``python -m Module1.prepare``, read by ``Module1.train_content`` and
``Module1.train_speaker``)::

    <dataset>/
      index.json          {"format": "module1-a2l/2", "fps": 62.5, "feature": "autovc" | "mel",
                           "f0_setting": "M" | "F" | null, "mean_std": "mean_std.txt",
                           "std_face": "std_face.txt", "anchor": "anchor_t_shape.txt",
                           "clips": [{"name": str, "file": "clips/<name>.npz", "frames": T}, ...]}
      mean_std.txt        160 numbers: per-dimension mean then population std of ``au`` over every
                          frame of every clip (the layout of MEAN_STD_AUTOVC_RETRAIN_MEL_AU.txt)
      std_face.txt        68×3 reference face in the normalised frame (the original's STD_FACE_LANDMARKS
                          when prepare was given the constant files, else the dataset's mean face)
      anchor_t_shape.txt  9×3 T-shape every frame was registered to (unit eye distance)
      clips/<name>.npz    one file per talking-face clip, all at 62.5 frames/s:
                            fls        float32 (T, 204)  68 landmarks (x, y, z) per frame, normalised per
                                                         frame: outer eye corners at x = ∓0.5, y down
                            reg_fls    float32 (T, 204)  the same registered rigidly to the anchor T-shape
                            rot_trans  float32 (T, 3, 4) [R | t] of that registration
                            rot_quat   float32 (T, 4)    quaternion of R (x, y, z, w)
                            au         float32 (T, 80)   audio feature, NOT standardised: the AutoVC output
                                                         (feature "autovc") or the front end's mel S ("mel")
                            emb        float32 (256,)    resemblyzer embedding of the normalised speech

Windows follow the original: for a clip of T frames, window i = frames ``[i, i+18)`` for
i = 0 … T−19; the target of window i is its first landmark frame.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common import InputError
from common.fs import atomic_path

__all__ = ["WINDOW", "FORMAT", "Clip", "Dataset", "windows", "read_dataset", "write_clip", "write_index"]

WINDOW = 18  # frames per audio window
FORMAT = "module1-a2l/2"


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


_ARRAYS = {"fls": (204,), "reg_fls": (204,), "rot_trans": (3, 4), "rot_quat": (4,), "au": (80,)}


@dataclass(frozen=True)
class Clip:
    """One clip of the dataset (see the module docstring for the meaning of the arrays)."""

    name: str
    fls: np.ndarray
    reg_fls: np.ndarray
    rot_trans: np.ndarray
    rot_quat: np.ndarray
    au: np.ndarray
    emb: np.ndarray


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset: its clips, feature kind, statistics and reference shapes."""

    clips: list[Clip]
    feature: str
    f0_setting: str | None
    mean_std: np.ndarray  # (160,)
    std_face: np.ndarray  # (68, 3)
    anchor: np.ndarray  # (9, 3)


def write_clip(folder: str | os.PathLike, name: str, **arrays: np.ndarray) -> dict:
    """Write ``clips/<name>.npz`` (arrays ``fls``, ``reg_fls``, ``rot_trans``, ``rot_quat``, ``au``, ``emb``)
    atomically and return its index entry."""
    arr = {k: np.asarray(arrays[k], np.float32) for k in (*_ARRAYS, "emb")}
    t = arr["fls"].shape[0]
    for k, shape in _ARRAYS.items():
        if arr[k].shape != (t, *shape):
            raise ValueError(f"clip {name}: {k} must have shape (T, {', '.join(map(str, shape))}); got {arr[k].shape}")
    arr["emb"] = arr["emb"].reshape(-1)
    if arr["emb"].shape != (256,):
        raise ValueError(f"clip {name}: emb must have 256 values; got {arr['emb'].shape}")
    rel = f"clips/{name}.npz"
    with atomic_path(Path(folder) / rel) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arr)  # type: ignore[arg-type]  # numpy's stub reads **kwds as allow_pickle
    return {"name": name, "file": rel, "frames": int(t)}


def write_index(folder: str | os.PathLike, clips: list[dict], feature: str, f0_setting: str | None,
                mean_std: np.ndarray, std_face: np.ndarray, anchor: np.ndarray) -> Path:
    """Write ``index.json`` and the three small text files beside it (atomically)."""
    if feature not in ("autovc", "mel"):
        raise ValueError(f"feature must be 'autovc' or 'mel'; got {feature!r}")
    folder = Path(folder)
    for name, values in (("mean_std.txt", mean_std), ("std_face.txt", std_face), ("anchor_t_shape.txt", anchor)):
        with atomic_path(folder / name) as tmp:
            np.savetxt(tmp, np.asarray(values, np.float64).reshape(-1, 1 if name == "mean_std.txt" else 3))
    path = folder / "index.json"
    meta = {"format": FORMAT, "fps": 62.5, "feature": feature, "f0_setting": f0_setting, "mean_std": "mean_std.txt",
            "std_face": "std_face.txt", "anchor": "anchor_t_shape.txt", "clips": clips}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(meta, indent=1))
    return path


def _text(folder: Path, name: str, size: int) -> np.ndarray:
    path = folder / name
    if not path.is_file():
        raise InputError(f"dataset file missing: {path}")
    try:
        v = np.loadtxt(path, dtype=np.float64).reshape(-1)
    except ValueError as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if v.size != size:
        raise InputError(f"{path} holds {v.size} numbers; expected {size}")
    return v


def read_dataset(folder: str | os.PathLike) -> Dataset:
    """Load every clip listed in ``<folder>/index.json`` with the dataset's statistics.

    Raises :class:`InputError` naming the problem (missing index or clip, wrong shapes, old format).
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
        raise InputError(f"{index}: format {meta.get('format')!r} is not {FORMAT!r} (run python -m Module1.prepare again)")
    clips = []
    for entry in meta.get("clips", []):
        path = folder / entry["file"]
        if not path.is_file():
            raise InputError(f"dataset clip missing: {path}")
        with np.load(path) as z:
            try:
                arr = {k: z[k].astype(np.float32) for k in (*_ARRAYS, "emb")}
            except KeyError as exc:
                raise InputError(f"dataset clip {path} lacks {exc}") from None
        t = arr["fls"].shape[0]
        bad = [k for k, shape in _ARRAYS.items() if arr[k].shape != (t, *shape)]
        if bad or arr["emb"].shape != (256,):
            raise InputError(f"dataset clip {path}: bad shapes of {', '.join(bad) or 'emb'}")
        clips.append(Clip(entry["name"], **arr))
    if not clips:
        raise InputError(f"dataset {folder} lists no clips")
    return Dataset(clips=clips, feature=str(meta.get("feature")), f0_setting=meta.get("f0_setting"),
                   mean_std=_text(folder, meta.get("mean_std", "mean_std.txt"), 160),
                   std_face=_text(folder, meta.get("std_face", "std_face.txt"), 204).reshape(68, 3),
                   anchor=_text(folder, meta.get("anchor", "anchor_t_shape.txt"), 27).reshape(9, 3))
