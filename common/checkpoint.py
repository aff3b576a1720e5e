"""One validating loader for every checkpoint, and atomic saving.

Released checkpoints are loaded strictly: missing or unexpected keys and shape
mismatches raise one :class:`CheckpointError` that names the file and the keys.
Keys dropped on purpose are passed as ``drop_prefixes`` (documented per call site).

Every file is unpickled weights-only (:func:`safe_load`): tensors, containers and
plain values, plus the few numpy scalar types that training scripts store beside the
weights. A file that asks for anything else (a class, a function such as
``os.system``) is refused with one line naming it; nothing in it runs.
"""
from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from .device import select_device  # re-exported: callers have imported it from here
from .errors import CheckpointError
from .fs import atomic_path

__all__ = ["safe_load", "read_checkpoint", "load_state_dict", "save_atomic", "select_device"]

_INSTANCE_NORM_STALE = ("running_mean", "running_var", "num_batches_tracked")


def _extra_safe_globals() -> list[Any]:
    """Plain value types released ``.pth.tar`` files carry beside the weights (a best score, a mean).

    numpy scalars and arrays pickle through ``numpy.core.multiarray.scalar``/``_reconstruct``;
    numpy 2 renamed the module, so both spellings are listed. These only build numbers from
    bytes: nothing here can call out of the unpickler (object arrays hold already-vetted items).
    """
    import numpy as np

    scalar = np._core.multiarray.scalar  # type: ignore[attr-defined]
    reconstruct = np._core.multiarray._reconstruct  # type: ignore[attr-defined]
    dtypes = [type(np.dtype(c)) for c in "?bBhHiIlLqQefdgFD"]
    return [
        scalar,
        (scalar, "numpy.core.multiarray.scalar"),
        reconstruct,
        (reconstruct, "numpy.core.multiarray._reconstruct"),
        np.ndarray,
        np.dtype,
        *dtypes,
        *[(d, "numpy." + d.__name__) for d in dtypes],
    ]


def _reason(exc: BaseException) -> str:
    """The one informative line of a torch.load failure (its messages run over many lines)."""
    text = str(exc)
    m = re.search(r"GLOBAL ([\w.]+)", text)
    if m:
        return m.group(1)
    m = re.search(r"WeightsUnpickler error:\s*([^\n]+)", text)
    if m:
        return m.group(1).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def _is_torchscript(path: Path) -> bool:
    # torch.load hands TorchScript archives to torch.jit.load, which builds modules from code in the file.
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.split("/", 1)[-1].startswith("code/") or n.endswith("/constants.pkl") for n in z.namelist())


def safe_load(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load`` weights-only: tensors and plain values, never code.

    Raises :class:`CheckpointError` (one line naming the file) when the file is missing,
    unreadable, or holds anything beyond tensors, containers and plain values.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        if _is_torchscript(path):
            raise CheckpointError(f"refusing checkpoint {path}: it is a TorchScript archive (code), not weights")
        # The allow-list is scoped to this load only: other torch.load calls keep the defaults.
        with torch.serialization.safe_globals(_extra_safe_globals()):
            return torch.load(path, map_location=map_location, weights_only=True)
    except CheckpointError:
        raise
    except pickle.UnpicklingError as exc:
        if re.search(r"GLOBAL [\w.]+", str(exc)):
            raise CheckpointError(
                f"refusing checkpoint {path}: it asks for {_reason(exc)}, but only tensors and plain values are loaded"
            ) from None
        raise CheckpointError(f"cannot read checkpoint {path}: not a weights-only torch file ({_reason(exc)})") from None
    except Exception as exc:  # corrupt / truncated / not a torch file
        raise CheckpointError(f"cannot read checkpoint {path}: {_reason(exc)}") from None


def read_checkpoint(path: str | os.PathLike, key: str | None = None, map_location: Any = "cpu") -> Mapping[str, Any]:
    """Read a checkpoint file weights-only and return its state dict (``obj[key]`` when ``key`` is given)."""
    path = Path(path)
    obj = safe_load(path, map_location)
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            keys = _short([str(k) for k in obj.keys()]) if isinstance(obj, Mapping) else type(obj).__name__
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


