"""Placeholder: replaced by the weight-free predictor (work in progress)."""
from __future__ import annotations

from .base import PREDICTORS, LandmarkPredictor


@PREDICTORS.register("procedural")
class ProceduralPredictor(LandmarkPredictor):
    name = "procedural"

    def predict(self, audio, source, fps):  # pragma: no cover
        raise NotImplementedError
