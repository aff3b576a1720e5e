"""The landmark-predictor interface and its registry (keyed by ``--predictor``)."""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from common import Audio, LandmarkSequence, Registry
from common.registry import resolve_auto

from ..config import Module1Config

__all__ = ["LandmarkPredictor", "PREDICTORS", "DEFAULT_PREDICTOR", "NEURAL_PREDICTOR", "resolve_predictor"]

log = logging.getLogger(__name__)

PREDICTORS: Registry[type[LandmarkPredictor]] = Registry("predictor")
DEFAULT_PREDICTOR = "procedural"
NEURAL_PREDICTOR = "makeittalk"


class LandmarkPredictor(ABC):
    """Speech → per-frame 68-point landmarks of the aligned photo.

    Subclasses load their models once in ``__init__`` and may be called many times.
    """

    name: ClassVar[str]

    def __init__(self, cfg: Module1Config) -> None:
        self.cfg = cfg

    @classmethod
    def unavailable_reason(cls, cfg: Module1Config) -> str | None:
        """``None`` when this predictor can run with ``cfg``, else why not (e.g. a missing file)."""
        return None

    def prepare_audio(self, audio: Audio, fps: float) -> None:
        """Optionally do the part of :meth:`predict` that needs only the audio, ahead of it.

        For example while the photo is aligned in another process; :meth:`predict` on the same
        audio reuses it. Default: nothing.
        """
        return None

    @abstractmethod
    def predict(self, audio: Audio, source: np.ndarray, fps: float) -> LandmarkSequence:
        """Predict landmarks for ``audio``.

        Args:
            audio: mono speech (any sample rate; resample inside if needed).
            source: float32 (68, 2) landmarks of the 512×512 aligned photo (x, y pixels).
            fps: output frame rate; the result has ``round(audio.duration * fps)`` frames.
        """


def resolve_predictor(name: str, cfg: Module1Config) -> tuple[str, str | None]:
    """Turn ``auto`` into a concrete name (the neural back-end when its files are present); ``(name, notice)``."""
    return resolve_auto(PREDICTORS, name, cfg, NEURAL_PREDICTOR, DEFAULT_PREDICTOR, "landmarks")
