"""Training flags (CycleGAN's ``TrainOptions``)."""
from __future__ import annotations

import argparse

from common.options import integer, number, plain_name

from .base_options import BaseOptions

__all__ = ["TrainOptions"]


class TrainOptions(BaseOptions):
    """Visdom/HTML display, saving, schedule and optimiser flags.

    The original's ``--niter``/``--niter_decay`` are kept; CycleGAN's newer names
    ``--n_epochs``/``--n_epochs_decay`` are accepted as aliases (same destination).
    """

    isTrain = True

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser = BaseOptions.initialize(self, parser)
        # visdom and HTML visualization parameters
        parser.add_argument("--display_freq", type=integer(1, None), default=400, help="frequency of showing training results on screen")
        parser.add_argument("--display_ncols", type=integer(0, 64), default=4,
                            help="if positive, display all images in a single visdom web panel with certain number of images per row")
        parser.add_argument("--display_id", type=int, default=1, help="window id of the web display (<= 0 disables visdom)")
        parser.add_argument("--display_server", type=str, default="http://localhost", help="visdom server of the web display")
        parser.add_argument("--display_env", type=str, default="main", help='visdom display environment name (default is "main")')
        parser.add_argument("--display_port", type=integer(1, 65535), default=8097, help="visdom port of the web display")
        parser.add_argument("--update_html_freq", type=integer(1, None), default=1000, help="frequency of saving training results to html")
        parser.add_argument("--print_freq", type=integer(1, None), default=100, help="frequency of showing training results on console")
        parser.add_argument("--no_html", action="store_true",
                            help="do not save intermediate training results to <checkpoints_dir>/<name>/web/")
        # network saving and loading parameters
        parser.add_argument("--save_latest_freq", type=integer(1, None), default=5000, help="frequency of saving the latest results")
        parser.add_argument("--save_epoch_freq", type=integer(1, None), default=10,
                            help="frequency of saving checkpoints at the end of epochs")
        parser.add_argument("--save_by_iter", action="store_true", help="whether saves model by iteration")
        parser.add_argument("--continue_train", action="store_true", help="continue training: load the latest model")
        parser.add_argument("--epoch_count", type=integer(1, None), default=1,
                            help="the starting epoch count, we save the model by <epoch_count>, <epoch_count>+<save_latest_freq>, ...")
        parser.add_argument("--phase", type=plain_name, default="train", help="train, val, test, etc")
        # training parameters
        parser.add_argument("--niter", "--n_epochs", dest="niter", type=integer(0, None), default=100,
                            help="# of epochs at the starting learning rate (alias --n_epochs)")
        parser.add_argument("--niter_decay", "--n_epochs_decay", dest="niter_decay", type=integer(0, None), default=100,
                            help="# of epochs to linearly decay learning rate to zero (alias --n_epochs_decay)")
        parser.add_argument("--beta1", type=number(0, 1, hi_open=True), default=0.5, help="momentum term of adam")
        parser.add_argument("--lr", type=number(0, 10, lo_open=True), default=0.0002, help="initial learning rate for adam")
        parser.add_argument("--gan_mode", type=str, default="lsgan", choices=["vanilla", "lsgan", "wgangp"],
                            help="the type of GAN objective")
        parser.add_argument("--pool_size", type=integer(0, None), default=50,
                            help="the size of image buffer that stores previously generated images")
        parser.add_argument("--lr_policy", type=str, default="linear", choices=["linear", "step", "plateau", "cosine"],
                            help="learning rate policy")
        parser.add_argument("--lr_decay_iters", type=integer(1, None), default=50,
                            help="multiply by a gamma every lr_decay_iters iterations")
        return parser
