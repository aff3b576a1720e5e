"""Options of stage 2 (photo + landmarks → frames), built once by the entry point."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RenderConfig", "CHECKPOINT_DIR", "STYLES"]

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
STYLES = ("drawing", "cartoon")


@dataclass(frozen=True)
class RenderConfig:
    """Everything a renderer needs.

    ``exp``/``epoch`` name the released generator
    ``<checkpoints_dir>/<exp>/<epoch>_net_G_A.pth``; ``style`` is derived from ``exp``
    by the entry point (``cartoon`` when the name contains it, else ``drawing``).
    """

    style: str = "drawing"
    size: int = 512
    exp: str = "formal/drawing"
    epoch: str = "70"
    checkpoints_dir: Path = CHECKPOINT_DIR
    device: str = "cpu"
    batch_size: int = 8
    seed: int = 0
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}; got {self.style!r}")
        if self.size not in (256, 512):
            raise ValueError(f"size must be 256 or 512; got {self.size}")

    @property
    def generator_path(self) -> Path:
        """Path of the released generator for this experiment and epoch."""
        return Path(self.checkpoints_dir) / self.exp / f"{self.epoch}_net_G_A.pth"
