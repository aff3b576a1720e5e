"""One validating loader for every checkpoint, and atomic saving.

Released checkpoints are loaded strictly: missing or unexpected keys and shape
mismatches raise one :class:`CheckpointError` that names the file and the keys.
Keys dropped on purpose are passed as ``drop_prefixes`` (documented per call site).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from .errors import CheckpointError
from .fs import atomic_path

__all__ = ["read_checkpoint", "load_state_dict", "save_atomic", "select_device"]

_INSTANCE_NORM_STALE = ("running_mean", "running_var", "num_batches_tracked")


def read_checkpoint(path: str | os.PathLike, key: str | None = None, map_location: Any = "cpu") -> Mapping[str, Any]:
    """Read a checkpoint file and return its state dict (``obj[key]`` when ``key`` is given)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        # Released files are dicts of tensors plus plain Python values; fall back to the
        # full unpickler only for the trusted, user-supplied file when weights_only refuses it.
        try:
            obj = torch.load(path, map_location=map_location, weights_only=True)
        except Exception:
            obj = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # corrupt / truncated / not a torch file
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from None
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            keys = list(obj.keys()) if isinstance(obj, Mapping) else type(obj).__name__
            raise CheckpointError(f"checkpoint {path} has no key {key!r} (it has: {keys})")
        obj = obj[key]
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"checkpoint {path} does not hold a state dict")
    return obj


def _clean(state: Mapping[str, Any], module: torch.nn.Module, drop_prefixes: Iterable[str]) -> dict[str, Any]:
    drop = tuple(drop_prefixes)
    out: dict[str, Any] = {}
    for k, v in state.items():
        if k == "_metadata" or not isinstance(v, torch.Tensor):
            continue
        if k.startswith("module."):
            k = k[len("module."):]
        if drop and k.split(".")[0] in drop:
            continue
        out[k] = v
    # Pre-0.4 InstanceNorm checkpoints carry running stats the modern module has no slot for.
    own = module.state_dict()
    for k in list(out):
        if k not in own and k.rsplit(".", 1)[-1] in _INSTANCE_NORM_STALE:
            out.pop(k)
    return out


def load_state_dict(
    path: str | os.PathLike,
    module: torch.nn.Module,
    key: str | None = None,
    drop_prefixes: Iterable[str] = (),
    map_location: Any = "cpu",
) -> torch.nn.Module:
    """Load ``path`` (optionally its sub-dict ``key``) into ``module`` strictly.

    ``module.`` prefixes (DataParallel) are stripped; keys whose first dotted
    component is in ``drop_prefixes`` are dropped. Raises :class:`CheckpointError`
    naming the file and the offending keys.
    """
    state = _clean(read_checkpoint(path, key, map_location), module, drop_prefixes)
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs net {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {_short(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_short(unexpected)}")
        if shapes:
            parts.append(f"shape mismatch {_short(shapes)}")
        where = f"{path}" + (f"[{key!r}]" if key else "")
        raise CheckpointError(f"checkpoint {where} does not fit {type(module).__name__}: " + "; ".join(parts))
    module.load_state_dict(state, strict=True)
    return module


def _short(items: list[str], n: int = 5) -> str:
    head = ", ".join(items[:n])
    return f"[{head}{', ...' if len(items) > n else ''}] ({len(items)})"


def save_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file beside ``path`` then rename: a killed run never leaves a torn file."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def select_device(gpu_ids: Iterable[int] | str | None) -> torch.device:
    """The torch device for ``gpu_ids`` (``-1``/empty → CPU; CUDA only when present)."""
    if isinstance(gpu_ids, str):
        gpu_ids = [int(g) for g in gpu_ids.split(",") if g.strip() != ""]
    ids = [g for g in (gpu_ids or []) if g >= 0]
    if ids and torch.cuda.is_available():
        return torch.device(f"cuda:{ids[0]}")
    return torch.device("cpu")
