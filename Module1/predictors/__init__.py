"""Landmark predictors; importing this package registers every one of them."""
from .base import DEFAULT_PREDICTOR, NEURAL_PREDICTOR, PREDICTORS, LandmarkPredictor, resolve_predictor
from . import procedural  # noqa: F401  (registers 'procedural')

try:  # the neural predictor registers itself when its module is present
    from . import makeittalk  # noqa: F401
except ImportError as exc:  # pragma: no cover - only while the module is being built
    if "makeittalk" not in str(exc):
        raise

__all__ = ["PREDICTORS", "LandmarkPredictor", "resolve_predictor", "DEFAULT_PREDICTOR", "NEURAL_PREDICTOR"]
