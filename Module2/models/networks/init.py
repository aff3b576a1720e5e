"""Normalisation choice, weight initialisation and learning-rate schedules (CycleGAN conventions)."""
from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
from torch.nn import init
from torch.optim import lr_scheduler

from common.device import cuda_ids

__all__ = ["Identity", "get_norm_layer", "uses_bias", "init_weights", "init_net", "get_scheduler", "INIT_TYPES", "LR_POLICIES"]

INIT_TYPES = ("normal", "xavier", "kaiming", "orthogonal")
LR_POLICIES = ("linear", "step", "plateau", "cosine")


class Identity(nn.Module):
    """No-op layer (``--norm none``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def get_norm_layer(norm_type: str = "instance") -> Callable[[int], nn.Module]:
    """Factory ``f(num_features) -> nn.Module`` for ``--norm``.

    ``instance``: ``InstanceNorm2d(affine=False, track_running_stats=False)`` (no parameters, no buffers);
    ``batch``: ``BatchNorm2d(affine=True, track_running_stats=True)``; ``none``: :class:`Identity`.
    """
    if norm_type == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm_type == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if norm_type == "none":
        return lambda num_features: Identity()
    raise ValueError(f"normalization layer {norm_type!r} is not supported (instance, batch, none)")


def uses_bias(norm_layer: Callable[[int], nn.Module]) -> bool:
    """Convolutions carry a bias exactly when the norm is instance norm (batch norm has its own shift).

    Mirrors the original: with ``--norm none`` the convolutions have no bias either.
    """
    func = norm_layer.func if isinstance(norm_layer, functools.partial) else norm_layer
    return func is nn.InstanceNorm2d


def init_weights(net: nn.Module, init_type: str = "normal", init_gain: float = 0.02) -> nn.Module:
    """Initialise ``net`` in place (applied to every sub-module).

    Modules whose class name contains ``Conv`` or ``Linear`` (ConvTranspose2d included): weight from
    ``init_type`` — ``normal`` N(0, gain), ``xavier`` xavier-normal(gain), ``kaiming`` kaiming-normal
    (a=0, fan_in), ``orthogonal`` (gain) — and bias 0. ``BatchNorm2d``: weight N(1, gain), bias 0.
    """
    if init_type not in INIT_TYPES:
        raise ValueError(f"initialization method {init_type!r} is not implemented ({', '.join(INIT_TYPES)})")

    def init_func(m: nn.Module) -> None:
        classname = m.__class__.__name__
        weight = getattr(m, "weight", None)
        if weight is not None and ("Conv" in classname or "Linear" in classname):
            if init_type == "normal":
                init.normal_(weight.data, 0.0, init_gain)
            elif init_type == "xavier":
                init.xavier_normal_(weight.data, gain=init_gain)
            elif init_type == "kaiming":
                init.kaiming_normal_(weight.data, a=0, mode="fan_in")
            else:
                init.orthogonal_(weight.data, gain=init_gain)
            bias = getattr(m, "bias", None)
            if bias is not None:
                init.constant_(bias.data, 0.0)
        elif "BatchNorm2d" in classname and weight is not None:
            init.normal_(weight.data, 1.0, init_gain)
            init.constant_(getattr(m, "bias").data, 0.0)  # noqa: B009 (a Module attribute mypy sees as Tensor | Module)

    net.apply(init_func)
    return net


def init_net(net: nn.Module, init_type: str = "normal", init_gain: float = 0.02, gpu_ids: Sequence[int] = ()) -> nn.Module:
    """Move ``net`` to ``cuda:gpu_ids[0]`` when CUDA exists (else it stays on the CPU) and initialise it.

    Never wraps in DataParallel (multi-GPU training uses DDP in the training model), so state-dict
    keys never carry ``module.``.
    """
    ids = cuda_ids(gpu_ids)
    if ids:
        net.to(torch.device(f"cuda:{ids[0]}"))
    return init_weights(net, init_type, init_gain)


def get_scheduler(optimizer: torch.optim.Optimizer, opt: argparse.Namespace):
    """Learning-rate scheduler for ``opt.lr_policy``.

    ``linear``: factor ``1 − max(0, epoch + epoch_count − niter) / (niter_decay + 1)`` (stepped per epoch);
    ``step``: ×0.1 every ``lr_decay_iters`` epochs; ``plateau``: ReduceLROnPlateau(min, factor 0.2,
    threshold 0.01, patience 5); ``cosine``: CosineAnnealingLR(T_max=niter, eta_min 0).
    """
    policy = getattr(opt, "lr_policy", "linear")
    niter = getattr(opt, "niter", getattr(opt, "n_epochs", 100))
    niter_decay = getattr(opt, "niter_decay", getattr(opt, "n_epochs_decay", 100))
    if policy == "linear":
        epoch_count = getattr(opt, "epoch_count", 1)

        def lambda_rule(epoch: int) -> float:
            return 1.0 - max(0, epoch + epoch_count - niter) / float(niter_decay + 1)

        return lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda_rule)
    if policy == "step":
        return lr_scheduler.StepLR(optimizer, step_size=opt.lr_decay_iters, gamma=0.1)
    if policy == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.2, threshold=0.01, patience=5)
    if policy == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=niter, eta_min=0)
    raise ValueError(f"learning rate policy {policy!r} is not implemented ({', '.join(LR_POLICIES)})")
