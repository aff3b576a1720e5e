"""Inference model ``geomcgt_ifw_test`` (SPEC §1.10) — work in progress."""
from __future__ import annotations

import argparse

from . import MODELS
from .base_model import BaseModel

__all__ = ["GeomCGTIFWTestModel"]


@MODELS.register("geomcgt_ifw_test")
class GeomCGTIFWTestModel(BaseModel):
    """Photo + source/target landmarks → stylised frame (test only)."""

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool = False) -> argparse.ArgumentParser:
        if is_train:
            parser.error("model geomcgt_ifw_test is test-only: run test.py, not train.py")
        parser.set_defaults(no_dropout=True, dataset_mode="umlvdfw_test")
        parser.add_argument("--netg_resb_div", type=int, default=3, help="trunk block i gets landmark codes iff (i + disp) %% div == 0")
        parser.add_argument("--netg_resb_disp", type=int, default=1, help="see --netg_resb_div")
        parser.add_argument("--truncate", type=float, default=0.0, help="unused (kept for the seed command line)")
        parser.add_argument("--draw_op", type=int, default=0, help="landmark map drawing: 0 = filled discs (only 0 is implemented)")
        parser.add_argument("--blendbg", type=int, default=0, help="1: blend the generated face over the static stylisation by the warped matte")
        return parser

    def set_input(self, input):
        raise NotImplementedError

    def forward(self):
        raise NotImplementedError
