"""The landmark-predictor interface and its registry (keyed by ``--predictor``)."""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from common import Audio, LandmarkSequence, Registry

from ..config import Module1Config

__all__ = ["LandmarkPredictor", "PREDICTORS", "DEFAULT_PREDICTOR", "NEURAL_PREDICTOR", "resolve_predictor"]

log = logging.getLogger(__name__)

PREDICTORS: Registry[type["LandmarkPredictor"]] = Registry("predictor")
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

    @abstractmethod
    def predict(self, audio: Audio, source: np.ndarray, fps: float) -> LandmarkSequence:
        """Predict landmarks for ``audio``.

        Args:
            audio: mono speech (any sample rate; resample inside if needed).
            source: float32 (68, 2) landmarks of the 512×512 aligned photo (x, y pixels).
            fps: output frame rate; the result has ``round(audio.duration * fps)`` frames.
        """


def resolve_predictor(name: str, cfg: Module1Config) -> tuple[str, str | None]:
    """Turn ``auto`` into a concrete predictor name; returns ``(name, notice)``.

    ``auto`` is the neural predictor when its checkpoints are present, else the
    weight-free default; ``notice`` says why the default was taken.
    """
    if name != "auto":
        PREDICTORS.get(name)
        return name, None
    if NEURAL_PREDICTOR in PREDICTORS:
        reason = PREDICTORS.get(NEURAL_PREDICTOR).unavailable_reason(cfg)
        if reason is None:
            return NEURAL_PREDICTOR, None
        return DEFAULT_PREDICTOR, f"landmarks: using '{DEFAULT_PREDICTOR}' ({reason})"
    return DEFAULT_PREDICTOR, f"landmarks: using '{DEFAULT_PREDICTOR}' (no neural predictor installed)"
