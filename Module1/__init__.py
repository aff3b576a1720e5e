"""Stage 1: speech → per-frame 68-point landmarks (MakeItTalk-derived, plus a weight-free default)."""
from .config import Module1Config
from .predictors import PREDICTORS, LandmarkPredictor, resolve_predictor

__all__ = ["Module1Config", "PREDICTORS", "LandmarkPredictor", "resolve_predictor"]
