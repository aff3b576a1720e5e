"""Training model ``geomgm_ifw_cartoon_fore``: photo → cartoon (the cartoon variant of ``geomgm_ifw_fore``).

Same losses as ``geomgm_ifw_fore`` except the temporal coherence discriminator (``--coherent``
defaults to 0, no ``D_A_coh``), RGB output, and the identity loss compares grey versions of
the generated frame and the static cartoon. Reads the ``umlvd_ifw_cartoon`` dataset.
"""
from __future__ import annotations

import argparse

from . import MODELS
from .geomgm_ifw_fore_model import GeomGMIFWForeModel, add_geomgm_options

__all__ = ["GeomGMIFWCartoonForeModel"]


@MODELS.register("geomgm_ifw_cartoon_fore")
class GeomGMIFWCartoonForeModel(GeomGMIFWForeModel):
    """Geometry-aware photo→cartoon GAN (no temporal discriminator)."""

    cartoon = True

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool = True) -> argparse.ArgumentParser:
        return add_geomgm_options(parser, is_train, cartoon=True)
