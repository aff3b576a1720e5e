"""Command-line options of Module2's CycleGAN-style scripts (``train.py``, ``test.py``).

``BaseOptions`` holds the flags shared by training and testing; ``TrainOptions`` and
``TestOptions`` add their own. Models and datasets add theirs through
``modify_commandline_options(parser, is_train)`` (two-pass gather, as in CycleGAN).
"""
from .base_options import BaseOptions
from .test_options import TestOptions
from .train_options import TrainOptions

__all__ = ["BaseOptions", "TrainOptions", "TestOptions"]
