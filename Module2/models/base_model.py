"""The abstract model every ``--model`` derives from (CycleGAN ``BaseModel``).

Checkpoints keep CycleGAN's naming ``<checkpoints_dir>/<name>/<epoch>_net_<Net>.pth``
(``latest``, ``iter_<n>``): a plain ``state_dict`` of CPU tensors without any
``module.`` prefix; loading goes through :func:`common.checkpoint.load_state_dict`
(weights-only, strict, ``map_location``, drops ``_metadata`` and stale InstanceNorm
statistics of pre-0.4 files). In training every save is one all-or-nothing set
(:mod:`common.checkpoint_sets`): the networks plus ``<epoch>_train_state.pth`` (optimisers,
schedulers, epoch/iteration counters) and a manifest, so ``--continue_train`` resumes
exactly where the newest complete set stopped.
"""
from __future__ import annotations

import argparse
import logging
import warnings
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from common.checkpoint import load_state_dict, safe_load
from common.checkpoint_sets import newest_complete_set, recover_sets, save_set, set_status
from common.errors import CheckpointError

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
        # Counters of the training state loaded by --continue_train (epoch, epoch_iter, total_iters, epoch_done).
        self.resume_state: dict[str, Any] = {}

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

    def _set_keys(self) -> list[str]:
        return [f"net_{name}" for name in self.model_names]

    def training_state(self, counters: dict[str, Any] | None = None) -> dict[str, Any]:
        """Optimiser and scheduler states plus the loop's counters (saved beside the networks)."""
        return {
            "optimizers": [o.state_dict() for o in self.optimizers],
            "schedulers": [s.state_dict() for s in self.schedulers],
            "counters": dict(counters or {}),
        }

    def save_networks(self, epoch: str | int, counters: dict[str, Any] | None = None) -> list[Path]:
        """Save every network's state dict (CPU copies, no ``module.`` prefix) as one all-or-nothing set.

        In training the set also holds ``<epoch>_train_state.pth`` (:meth:`training_state` with
        ``counters``: ``epoch``, ``epoch_iter``, ``total_iters``, ``epoch_done``). An existing complete
        ``iter_<n>`` set is never overwritten.
        """
        tag = str(epoch)
        if tag.startswith("iter_") and set_status(self.save_dir, tag, self._set_keys())[0]:
            log.warning("not overwriting the checkpoint set %s in %s", tag, self.save_dir)
            return []
        items: dict[str, Any] = {}
        for name in self.model_names:
            net = unwrap(getattr(self, "net" + name))
            items[f"net_{name}"] = OrderedDict((k, v.detach().cpu().clone()) for k, v in net.state_dict().items())
        if self.isTrain and self.optimizers:
            items["train_state"] = self.training_state(counters)
        return save_set(self.save_dir, tag, items, counters)

    def load_networks(self, epoch: str | int) -> None:
        """Load ``<epoch>_net_<name>.pth`` into every network (strict; CheckpointError on mismatch).

        With ``--continue_train`` and ``--epoch latest`` the newest complete set is loaded (``latest``
        or ``iter_<n>`` of ``--save_by_iter``), with its optimiser/scheduler state and counters.
        """
        tag = str(epoch)
        keys = self._set_keys()
        resuming = self.isTrain and bool(getattr(self.opt, "continue_train", False))
        if resuming:
            recover_sets(self.save_dir)  # finish or drop a save a kill interrupted
            if tag == "latest":
                tag = newest_complete_set(self.save_dir, keys)
            ok, why, _ = set_status(self.save_dir, tag, keys)
            if not ok:
                raise CheckpointError(f"checkpoint set {tag!r} in {self.save_dir} is incomplete: {why}")
        for name in self.model_names:
            net = unwrap(getattr(self, "net" + name))
            path = self.checkpoint_path(tag, name)
            log.info("loading the model from %s", path)
            load_state_dict(path, net, map_location=self.device)
        state_path = self.save_dir / f"{tag}_train_state.pth"
        if resuming and state_path.is_file():
            self._load_training_state(state_path)

    def _load_training_state(self, path: Path) -> None:
        """Restore optimisers (always) and schedulers (unless ``--epoch_count`` was given by hand)."""
        state = safe_load(path, map_location=self.device)
        # An explicit --epoch_count is CycleGAN's manual resume: its schedule (built with that offset)
        # starts fresh, so the freshly built schedulers and their learning rates are kept.
        schedules = int(getattr(self.opt, "epoch_count", 1)) == 1
        fresh = [[(g["lr"], g.get("initial_lr")) for g in o.param_groups] for o in self.optimizers]
        try:
            if len(state["optimizers"]) != len(self.optimizers) or len(state["schedulers"]) != len(self.schedulers):
                raise ValueError("different number of optimisers or schedulers")
            for opt, sd in zip(self.optimizers, state["optimizers"]):
                opt.load_state_dict(sd)
            if schedules:
                for sch, sd in zip(self.schedulers, state["schedulers"]):
                    sch.load_state_dict(sd)
            else:
                for opt, lrs in zip(self.optimizers, fresh):
                    for group, (lr, initial) in zip(opt.param_groups, lrs):
                        group["lr"] = lr
                        if initial is not None:
                            group["initial_lr"] = initial
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"training state {path} does not fit this model: {exc}") from None
        self.resume_state = dict(state.get("counters", {}))
        if schedules and self.resume_state.get("epoch_done"):
            # The loop steps the schedulers right after an end-of-epoch save: do that step now
            # (torch warns about a step before any optimiser step; here it is the restored order).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                for sch in self.schedulers:
                    if getattr(self.opt, "lr_policy", None) == "plateau":
                        sch.step(self.metric)
                    else:
                        sch.step()
        log.info("resuming from %s: %s", path.name,
                 ", ".join(f"{k} {v}" for k, v in sorted(self.resume_state.items())))

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
