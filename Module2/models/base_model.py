"""The abstract model every ``--model`` derives from (CycleGAN ``BaseModel``).

Checkpoints keep CycleGAN's naming ``<checkpoints_dir>/<name>/<epoch>_net_<Net>.pth``
(``latest``, ``iter_<n>``): a plain ``state_dict`` of CPU tensors without any
``module.`` prefix, written atomically; loading goes through
:func:`common.checkpoint.load_state_dict` (strict, ``map_location``, drops
``_metadata`` and stale InstanceNorm statistics of pre-0.4 files).
"""
from __future__ import annotations

import argparse
import logging
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from common.checkpoint import load_state_dict, save_atomic

__all__ = ["BaseModel", "unwrap"]

log = logging.getLogger(__name__)


def unwrap(net: nn.Module) -> nn.Module:
    """The bare module inside ``DataParallel`` / ``DistributedDataParallel`` wrappers."""
    while isinstance(net, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        net = net.module
    return net


class BaseModel(ABC):
    """Owns networks ``self.net<Name>`` for every ``<Name>`` in ``model_names``.

    Subclasses fill ``loss_names`` (``self.loss_<name>`` attributes), ``model_names``,
    ``visual_names`` (tensor attributes) and ``optimizers``, and implement
    ``set_input``, ``forward`` and (training) ``optimize_parameters``.
    """

    def __init__(self, opt: argparse.Namespace) -> None:
        self.opt = opt
        self.gpu_ids: list[int] = list(getattr(opt, "gpu_ids", []) or [])
        self.isTrain: bool = bool(getattr(opt, "isTrain", False))
        self.device: torch.device = torch.device(getattr(opt, "device", "cpu"))
        self.save_dir = Path(opt.checkpoints_dir) / opt.name
        self.loss_names: list[str] = []
        self.model_names: list[str] = []
        self.visual_names: list[str] = []
        self.optimizers: list[torch.optim.Optimizer] = []
        self.schedulers: list[Any] = []
        self.image_paths: list[str] = []
        self.metric = 0.0  # used by the 'plateau' learning-rate policy

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        """Add model-specific flags / change defaults; the base model adds none."""
        return parser

    @abstractmethod
    def set_input(self, input: dict) -> None:
        """Unpack one batch from the data loader."""

    @abstractmethod
    def forward(self) -> None:
        """Run the forward pass (called by ``optimize_parameters`` and ``test``)."""

    def optimize_parameters(self) -> None:
        """One training step (training models override)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be trained")

    # -- lifecycle --------------------------------------------------------------------------------
    def setup(self, opt: argparse.Namespace) -> None:
        """Create schedulers (training) and load networks (test or ``--continue_train``)."""
        if self.isTrain:
            from .networks import get_scheduler

            self.schedulers = [get_scheduler(optimizer, opt) for optimizer in self.optimizers]
        if not self.isTrain or getattr(opt, "continue_train", False):
            load_suffix = f"iter_{opt.load_iter}" if getattr(opt, "load_iter", 0) > 0 else opt.epoch
            self.load_networks(load_suffix)
        self.print_networks(getattr(opt, "verbose", False))

    def eval(self) -> None:
        """Put every network in eval mode."""
        for name in self.model_names:
            getattr(self, "net" + name).eval()

    def test(self) -> None:
        """Forward without gradients, then ``compute_visuals``."""
        with torch.no_grad():
            self.forward()
            self.compute_visuals()

    def compute_visuals(self) -> None:  # noqa: B027 (an optional hook, empty on purpose)
        """Extra visuals for display (none by default)."""

    def get_image_paths(self) -> list[str]:
        """Names of the items of the current batch (used to name saved images)."""
        return self.image_paths

    def update_learning_rate(self) -> float:
        """Step every scheduler once (end of epoch); returns the new learning rate."""
        old_lr = self.optimizers[0].param_groups[0]["lr"]
        for scheduler in self.schedulers:
            if getattr(self.opt, "lr_policy", None) == "plateau":
                scheduler.step(self.metric)
            else:
                scheduler.step()
        lr = self.optimizers[0].param_groups[0]["lr"]
        log.info("learning rate %.7f -> %.7f", old_lr, lr)
        return lr

    def get_current_visuals(self) -> OrderedDict[str, torch.Tensor]:
        """``visual_names`` → tensors, in order."""
        return OrderedDict((name, getattr(self, name)) for name in self.visual_names if isinstance(name, str))

    def get_current_losses(self) -> OrderedDict[str, float]:
        """``loss_names`` → float values of ``self.loss_<name>``."""
        return OrderedDict((name, float(getattr(self, "loss_" + name))) for name in self.loss_names if isinstance(name, str))

    # -- checkpoints ------------------------------------------------------------------------------
    def checkpoint_path(self, epoch: str | int, name: str) -> Path:
        """``<save_dir>/<epoch>_net_<name>.pth``."""
        return self.save_dir / f"{epoch}_net_{name}.pth"

    def save_networks(self, epoch: str | int) -> list[Path]:
        """Write every network's state dict (CPU copies, no ``module.`` prefix) atomically."""
        paths = []
        for name in self.model_names:
            net = unwrap(getattr(self, "net" + name))
            state = OrderedDict((k, v.detach().cpu().clone()) for k, v in net.state_dict().items())
            paths.append(save_atomic(state, self.checkpoint_path(epoch, name)))
        return paths

    def load_networks(self, epoch: str | int) -> None:
        """Load ``<epoch>_net_<name>.pth`` into every network (strict; CheckpointError on mismatch)."""
        for name in self.model_names:
            net = unwrap(getattr(self, "net" + name))
            path = self.checkpoint_path(epoch, name)
            log.info("loading the model from %s", path)
            load_state_dict(path, net, map_location=self.device)

    def print_networks(self, verbose: bool = False) -> None:
        """Log the parameter count of every network (and the architecture when ``verbose``)."""
        for name in self.model_names:
            net = getattr(self, "net" + name)
            num_params = sum(p.numel() for p in net.parameters())
            if verbose:
                log.info("%s", net)
            log.info("[Network %s] Total number of parameters : %.3f M", name, num_params / 1e6)

    @staticmethod
    def set_requires_grad(nets: nn.Module | Iterable[nn.Module | None] | None, requires_grad: bool = False) -> None:
        """Freeze (``False``) or unfreeze every parameter of ``nets``."""
        if nets is None:
            return
        if isinstance(nets, nn.Module):
            nets = [nets]
        for net in nets:
            if net is not None:
                for param in net.parameters():
                    param.requires_grad = requires_grad
