"""Landmark predictors; importing this package registers every one of them."""
from . import (
    makeittalk,  # noqa: F401  (registers 'makeittalk', the released MakeItTalk networks)
    procedural,  # noqa: F401  (registers 'procedural', the weight-free default)
)
from .base import DEFAULT_PREDICTOR, NEURAL_PREDICTOR, PREDICTORS, LandmarkPredictor, resolve_predictor

__all__ = ["PREDICTORS", "LandmarkPredictor", "resolve_predictor", "DEFAULT_PREDICTOR", "NEURAL_PREDICTOR"]
