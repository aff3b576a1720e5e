"""The renderer interface and its registry (keyed by ``--renderer``)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar

import numpy as np

from common import LandmarkSequence, Registry
from common.registry import resolve_auto

from ..config import RenderConfig

__all__ = ["Renderer", "RENDERERS", "DEFAULT_RENDERER", "NEURAL_RENDERER", "resolve_renderer"]

RENDERERS: Registry[type[Renderer]] = Registry("renderer")
DEFAULT_RENDERER = "classic"
NEURAL_RENDERER = "gan"


class Renderer(ABC):
    """Photo + landmark sequence → video frames.

    ``prepare`` is called once per portrait (stylise, load nets); ``render`` yields
    one uint8 frame per landmark frame: ``(size, size)`` grey when ``channels == 1``,
    ``(size, size, 3)`` RGB when ``channels == 3``.
    """

    name: ClassVar[str]

    def __init__(self, cfg: RenderConfig) -> None:
        self.cfg = cfg

    @property
    def channels(self) -> int:
        """1 for grey frames (drawing), 3 for RGB frames (cartoon)."""
        return 3 if self.cfg.style == "cartoon" else 1

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """Shape of one frame: ``(size, size)`` grey or ``(size, size, 3)`` RGB."""
        size = int(self.cfg.size)
        return (size, size) if self.channels == 1 else (size, size, 3)

    @classmethod
    def unavailable_reason(cls, cfg: RenderConfig) -> str | None:
        """``None`` when this renderer can run with ``cfg``, else why not."""
        return None

    @abstractmethod
    def prepare(self, photo: np.ndarray, source: np.ndarray) -> None:
        """Take the 512×512 RGB uint8 aligned photo and its (68, 2) landmarks (512-px)."""

    def render(self, seq: LandmarkSequence) -> Iterator[np.ndarray]:
        """Yield one frame per entry of ``seq.points`` (landmarks in 512-px coordinates).

        The source shape is the one given to :meth:`prepare`, once per photo; ``seq.source`` (the
        predictor's reference shape, saved as ``ori.txt``) is not read here.
        """
        return self.render_points(seq.points)

    @abstractmethod
    def render_points(self, points: np.ndarray) -> Iterator[np.ndarray]:
        """Yield one frame per (68, 2) entry of ``points`` (T, 68, 2); call :meth:`prepare` first."""


def resolve_renderer(name: str, cfg: RenderConfig) -> tuple[str, str | None]:
    """Turn ``auto`` into a concrete name (the neural back-end when its files are present); ``(name, notice)``."""
    return resolve_auto(RENDERERS, name, cfg, NEURAL_RENDERER, DEFAULT_RENDERER, "renderer")
