"""Landmark predictors, registered by name without importing them (``--help`` stays fast).

Each back-end's module is imported on first ``PREDICTORS.get(name)``; whether the
neural one can run is answered by :func:`makeittalk_unavailable` without importing torch.
"""
from __future__ import annotations

from pathlib import Path

from ..config import Module1Config
from ..constants import missing_constant
from .base import DEFAULT_PREDICTOR, NEURAL_PREDICTOR, PREDICTORS, LandmarkPredictor, resolve_predictor

__all__ = ["PREDICTORS", "LandmarkPredictor", "resolve_predictor", "DEFAULT_PREDICTOR", "NEURAL_PREDICTOR",
           "makeittalk_unavailable"]


def makeittalk_unavailable(cfg: Module1Config) -> str | None:
    """``None`` when the released MakeItTalk files named by ``cfg`` exist, else which one is missing.

    With ``feature="mel"`` (branches trained by Module1's trainers on the plain mel) AutoVC is not used and the
    statistics/reference face come from the checkpoints, so only the two branch checkpoints are needed.
    """
    mel = getattr(cfg, "feature", "autovc") == "mel"
    for flag, path in (
        ("--load_AUTOVC_name", None if mel else cfg.load_AUTOVC_name),
        ("--load_a2l_C_name", cfg.load_a2l_C_name),
        ("--load_a2l_G_name", cfg.load_a2l_G_name),
    ):
        if path is not None and not Path(path).is_file():
            return f"checkpoint {path} ({flag}) not found"
    if mel:
        return None
    missing = missing_constant(cfg.constants_dir)
    if missing is not None:
        return f"Module1 constant file {missing} not found (set --module1_constants)"
    return None


# The weight-free default, then the released MakeItTalk networks (torch).
PREDICTORS.register_lazy("procedural", "Module1.predictors.procedural:ProceduralPredictor")
PREDICTORS.register_lazy("makeittalk", "Module1.predictors.makeittalk:MakeItTalkPredictor",
                         unavailable=makeittalk_unavailable)
