"""Options shared by training and testing (CycleGAN's ``BaseOptions``).

Parsing is a two-pass gather: the base flags are parsed first, then the chosen
model's and dataset's ``modify_commandline_options(parser, is_train)`` hooks add
their own flags (and may change defaults), then the full command line is parsed.
Model and dataset names come from the ``MODELS`` / ``DATASETS`` registries, which
also feed argparse ``choices=``.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from common.device import cuda_ids, parse_gpu_ids  # parse_gpu_ids re-exported
from common.options import OneLineParser, check_finite_floats, gpu_ids, integer, number, plain_name, relative_subpath

from ..config import CHECKPOINT_DIR

__all__ = ["BaseOptions", "parse_gpu_ids", "PACKAGE_DIR", "DEFAULT_LIST_DIR"]

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_LIST_DIR = PACKAGE_DIR / "datasets" / "list"




class BaseOptions:
    """Flags used by both ``train.py`` and ``test.py``; subclasses add phase flags.

    ``parse(args)`` returns the resolved ``argparse.Namespace`` (``opt``) with
    ``opt.isTrain``, ``opt.gpu_ids`` (int list, CUDA only), ``opt.device``.
    """

    isTrain = False

    def __init__(self) -> None:
        self.initialized = False
        self.parser: argparse.ArgumentParser | None = None

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        """Add the base flags (the original's names and defaults)."""
        from ..data import DATASETS
        from ..models import MODELS
        from ..models.networks import NETD, NETG

        # basic parameters
        parser.add_argument("--dataroot", required=True,
                            help="dataset name (selects the list files <list_dir>/{trainA,trainB,testA,testB}/<dataroot>.txt) or a folder")
        parser.add_argument("--name", type=relative_subpath, default="experiment_name",
                            help="name of the experiment: checkpoints go to <checkpoints_dir>/<name>")
        parser.add_argument("--gpu_ids", type=gpu_ids, default="0",
                            help="gpu ids: e.g. 0  0,1,2  0,2; use -1 for CPU (CPU is used anyway when CUDA is absent)")
        parser.add_argument("--gpu_ids_p", type=gpu_ids, default="0",
                            help="gpu ids for the discriminators / auxiliary nets in training; -1 for CPU")
        parser.add_argument("--checkpoints_dir", type=str, default=str(CHECKPOINT_DIR),
                            help="models are saved here (default: the package's Module2/checkpoints)")
        parser.add_argument("--list_dir", type=str, default=str(DEFAULT_LIST_DIR),
                            help="folder of the dataset list files (trainA/, trainB/, testA/, testB/)")
        # model parameters
        parser.add_argument("--model", type=str, default="geomgm_ifw_fore", choices=MODELS.names(),
                            help="chooses which model to use")
        parser.add_argument("--input_nc", type=integer(1, 64), default=3, help="# of input image channels: 3 for RGB, 1 for grey")
        parser.add_argument("--output_nc", type=integer(1, 64), default=3, help="# of output image channels: 3 for RGB, 1 for grey")
        parser.add_argument("--ngf", type=integer(1, 4096), default=64, help="# of gen filters in the last conv layer")
        parser.add_argument("--ndf", type=integer(1, 4096), default=64, help="# of discrim filters in the first conv layer")
        parser.add_argument("--netD", type=str, default="basic", choices=NETD.names(), help="discriminator architecture")
        parser.add_argument("--netG", type=str, default="resnet_9blocks", choices=NETG.names(),
                            help="generator architecture (models set their own default)")
        parser.add_argument("--n_layers_D", type=integer(1, 16), default=3, help="only used if netD==n_layers")
        parser.add_argument("--norm", type=str, default="instance", choices=["instance", "batch", "none"],
                            help="instance normalization or batch normalization")
        parser.add_argument("--init_type", type=str, default="normal", choices=["normal", "xavier", "kaiming", "orthogonal"],
                            help="network initialization")
        parser.add_argument("--init_gain", type=number(0, 100), default=0.02, help="scaling factor for normal, xavier and orthogonal")
        parser.add_argument("--no_dropout", action="store_true", help="no dropout for the generator")
        # dataset parameters
        parser.add_argument("--dataset_mode", type=str, default="umlvd_ifw", choices=DATASETS.names(),
                            help="chooses how datasets are loaded")
        parser.add_argument("--direction", type=str, default="AtoB", choices=["AtoB", "BtoA"], help="AtoB or BtoA")
        parser.add_argument("--serial_batches", action="store_true",
                            help="if true, takes images in order to make batches, otherwise takes them randomly")
        parser.add_argument("--num_threads", default=4, type=integer(0, 256), help="# threads for loading data")
        parser.add_argument("--batch_size", type=integer(1, 4096), default=1, help="input batch size")
        parser.add_argument("--load_size", type=integer(1, 8192), default=286, help="scale images to this size")
        parser.add_argument("--crop_size", type=integer(1, 8192), default=256, help="then crop to this size")
        parser.add_argument("--max_dataset_size", type=number(1, None, allow_inf=True), default=float("inf"),
                            help="maximum number of samples allowed per dataset")
        parser.add_argument("--preprocess", type=str, default="resize_and_crop",
                            help="scaling and cropping of images at load time")
        parser.add_argument("--no_flip", action="store_true", help="if specified, do not flip the images for data augmentation")
        parser.add_argument("--display_winsize", type=integer(1, 8192), default=256, help="display window size for visdom and HTML")
        # additional parameters
        parser.add_argument("--epoch", type=plain_name, default="latest",
                            help="which epoch to load? set to latest to use latest cached model")
        parser.add_argument("--load_iter", type=integer(0, None), default=0,
                            help="which iteration to load? if > 0, load models by iter_[load_iter]; otherwise by [epoch]")
        parser.add_argument("--verbose", action="store_true", help="if specified, print more debugging information")
        parser.add_argument("--suffix", default="", type=str,
                            help="customized suffix: opt.name = opt.name + suffix, e.g. {model}_{netG}_size{load_size}")
        self.initialized = True
        return parser

    # -- parsing ---------------------------------------------------------------------------------
    def _new_parser(self) -> argparse.ArgumentParser:
        # Help is added only at the end so that -h lists the model's and dataset's flags too.
        # One-line errors, no abbreviations (``--batch`` is not ``--batch_size``).
        return OneLineParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter, add_help=False)

    def gather_options(self, args: Sequence[str] | None = None) -> argparse.Namespace:
        """Two-pass parse: base flags → model hook → dataset hook → full parse."""
        from ..data import DATASETS
        from ..models import MODELS

        args = list(sys.argv[1:] if args is None else args)
        # The preliminary passes only look for --model/--dataset_mode: a placeholder --dataroot
        # (overridden by the user's) keeps `-h` without --dataroot working.
        first = ["--dataroot", "-"] + args
        parser = self.initialize(self._new_parser())
        opt, _ = parser.parse_known_args(first)

        if opt.model not in MODELS:
            parser.error(f"unknown model {opt.model!r}; choose one of: {', '.join(MODELS.names())}")
        parser = MODELS.get(opt.model).modify_commandline_options(parser, self.isTrain)
        opt, _ = parser.parse_known_args(first)

        if opt.dataset_mode not in DATASETS:
            parser.error(f"unknown dataset_mode {opt.dataset_mode!r}; choose one of: {', '.join(DATASETS.names())}")
        parser = DATASETS.get(opt.dataset_mode).modify_commandline_options(parser, self.isTrain)

        parser.add_argument("-h", "--help", action="help", help="show this help message and exit")
        self.parser = parser
        opt = parser.parse_args(args)
        check_finite_floats(parser, opt)  # flags the models and datasets add are plain floats
        # argparse checks choices only for values given on the command line, not for defaults
        from ..models.networks import NETD, NETG

        for flag, registry in (("netG", NETG), ("netD", NETD)):
            if getattr(opt, flag) not in registry:
                parser.error(f"unknown --{flag} {getattr(opt, flag)!r}; choose one of: {', '.join(registry.names())}")
        return opt

    def format_options(self, opt: argparse.Namespace) -> str:
        """The option table of CycleGAN's ``print_options`` (non-defaults marked)."""
        lines = ["----------------- Options ---------------"]
        for k, v in sorted(vars(opt).items()):
            default = self.parser.get_default(k) if self.parser is not None else None
            comment = f"\t[default: {default}]" if default is not None and v != default else ""
            lines.append(f"{str(k):>25}: {str(v):<30}{comment}")
        lines.append("----------------- End -------------------")
        return "\n".join(lines) + "\n"

    def print_options(self, opt: argparse.Namespace) -> Path:
        """Log the options and write them to ``<checkpoints_dir>/<name>/<phase>_opt.txt``."""
        message = self.format_options(opt)
        log.info("%s", message)
        expr_dir = Path(opt.checkpoints_dir) / opt.name
        expr_dir.mkdir(parents=True, exist_ok=True)
        path = expr_dir / f"{opt.phase}_opt.txt"
        path.write_text(message)
        return path

    def parse(self, args: Sequence[str] | None = None, save: bool = True) -> argparse.Namespace:
        """Parse ``args`` (default ``sys.argv[1:]``), resolve devices, record the options."""
        argv = list(sys.argv[1:] if args is None else args)
        opt = self.gather_options(argv)
        opt.isTrain = self.isTrain

        if opt.suffix:
            try:
                opt.name = relative_subpath(opt.name + ("_" + opt.suffix.format(**vars(opt))))
            except (argparse.ArgumentTypeError, KeyError, IndexError, ValueError) as exc:
                assert self.parser is not None
                self.parser.error(f"argument --suffix: {exc}")

        if save:
            self.print_options(opt)

        asked = any(a == "--gpu_ids" or a.startswith("--gpu_ids=") for a in argv)
        opt.gpu_ids, opt.device = self._resolve_gpus(opt.gpu_ids, notice=asked)
        opt.gpu_ids_p, opt.device_p = self._resolve_gpus(opt.gpu_ids_p, notice=False)
        if opt.gpu_ids:
            torch.cuda.set_device(opt.gpu_ids[0])
        self.opt = opt
        return opt

    @staticmethod
    def _resolve_gpus(text: str, notice: bool) -> tuple[list[int], torch.device]:
        ids = cuda_ids(text, who="--gpu_ids" if notice else None)
        device = torch.device(f"cuda:{ids[0]}") if ids else torch.device("cpu")
        return ids, device
