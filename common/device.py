"""The one device policy of the project: CUDA when it is asked for and present, else the CPU.

Every entry point turns its flag into a device here: the pipeline's and Module2's ``--gpu_ids``
(``"0"``, ``"0,1"``, ``"-1"``), Module1 training's ``--device`` (``cpu``, ``cuda:1``) and the
``device`` fields of the configs. Asking for CUDA on a machine without it is not an error: the
run goes on on the CPU, and says so once when ``who`` names the asker.
"""
from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported only when a device object is built (``--help`` stays fast)
    import torch

__all__ = ["parse_gpu_ids", "cuda_ids", "select_device", "device_name"]

log = logging.getLogger(__name__)

# Device nodes of a GPU driver (NVIDIA, ROCm, WSL): without any, CUDA cannot be available, and
# torch (~2 s to import) is not needed to answer "cpu".
_GPU_NODES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/kfd", "/dev/dxg")


def parse_gpu_ids(text: str | int | Iterable[int] | None) -> list[int]:
    """``"0,1"`` → ``[0, 1]``; negative ids (``-1`` = CPU) are dropped; lists and ints pass through.

    A malformed value raises ``argparse.ArgumentTypeError`` (a ``ValueError``-like argparse error).
    """
    import argparse

    if text is None:
        return []
    parts: Iterable[object]
    if isinstance(text, int):
        parts = [text]
    elif isinstance(text, str):
        parts = text.split(",")
    else:
        parts = text
    ids = []
    for part in parts:
        part = str(part).strip()
        if not part:
            continue
        try:
            value = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"gpu ids must be integers like 0,1 or -1; got {text!r}") from None
        if value >= 0:
            ids.append(value)
    return ids


def _cuda_available() -> bool:
    if "torch" not in sys.modules and not any(Path(n).exists() for n in _GPU_NODES):
        return False
    import torch

    return bool(torch.cuda.is_available())


def cuda_ids(gpu_ids: str | int | Iterable[int] | None, who: str | None = None) -> list[int]:
    """The usable CUDA ids of ``gpu_ids``: all of them when CUDA is present, else none (noticed once)."""
    ids = parse_gpu_ids(gpu_ids)
    if ids and not _cuda_available():
        if who:
            log.warning("%s asked for CUDA (%s) but none is available; running on the CPU", who, gpu_ids)
        return []
    return ids


def _is_device_name(spec: object) -> bool:
    return isinstance(spec, str) and spec.split(":")[0] in ("cpu", "cuda", "mps", "meta")


def device_name(spec: object = None, who: str | None = None) -> str:
    """The device :func:`select_device` picks, as a string, without importing torch when no GPU driver exists."""
    if _is_device_name(spec) or type(spec).__name__ == "device":
        name = str(spec)
        if not name.startswith("cuda"):
            return name
        if _cuda_available():
            return name if ":" in name else "cuda:0"
        if who:
            log.warning("%s asked for CUDA (%s) but none is available; running on the CPU", who, name)
        return "cpu"
    ids = cuda_ids(spec, who)  # type: ignore[arg-type]
    return f"cuda:{ids[0]}" if ids else "cpu"


def select_device(spec: object = None, who: str | None = None) -> torch.device:
    """The torch device for ``spec``: gpu ids (``"0,1"``, ``-1``, ``[0]``) or a device name (``"cuda:1"``).

    CUDA only when it is present (the first listed id); otherwise the CPU, with a warning naming
    ``who`` when given. ``None``, ``-1`` and ``[]`` mean the CPU.
    """
    import torch

    return torch.device(device_name(spec, who))
