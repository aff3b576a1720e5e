"""Test flags (CycleGAN's ``TestOptions``)."""
from __future__ import annotations

import argparse

from common.options import integer, number, plain_name

from .base_options import PACKAGE_DIR, BaseOptions

__all__ = ["TestOptions", "DEFAULT_RESULTS_DIR"]

DEFAULT_RESULTS_DIR = PACKAGE_DIR / "results"


class TestOptions(BaseOptions):
    """Results location, number of test items, eval mode. ``load_size`` defaults to ``crop_size``."""

    isTrain = False
    __test__ = False  # not a pytest test class

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser = BaseOptions.initialize(self, parser)
        parser.add_argument("--ntest", type=number(0, None, allow_inf=True), default=float("inf"),
                            help="# of test examples (unused; see --num_test)")
        parser.add_argument("--results_dir", type=str, default=str(DEFAULT_RESULTS_DIR),
                            help="saves results here (default: the package's Module2/results)")
        parser.add_argument("--aspect_ratio", type=number(0, 100, lo_open=True), default=1.0, help="aspect ratio of result images")
        parser.add_argument("--phase", type=plain_name, default="test", help="train, val, test, etc")
        parser.add_argument("--eval", action="store_true", help="use eval mode during test time")
        parser.add_argument("--num_test", type=integer(0, None), default=50, help="how many test images to run")
        parser.add_argument("--imagefolder", type=plain_name, default="images",
                            help="sub-folder of the results (and name of the HTML index) for this run")
        # the test model is the default; load_size defaults to crop_size (no resize-then-crop at test)
        parser.set_defaults(model="geomcgt_ifw_test")
        parser.set_defaults(load_size=parser.get_default("crop_size"))
        return parser
