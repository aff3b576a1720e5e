"""Residual blocks shared by the generators (CycleGAN layout: keys ``conv_block.<i>`` / ``shortcut.<i>``)."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

__all__ = ["conv_block", "ResnetBlock", "ResnetBlock2"]

NormLayer = Callable[[int], nn.Module]


def _pad(padding_type: str) -> tuple[list[nn.Module], int]:
    if padding_type == "reflect":
        return [nn.ReflectionPad2d(1)], 0
    if padding_type == "replicate":
        return [nn.ReplicationPad2d(1)], 0
    if padding_type == "zero":
        return [], 1
    raise ValueError(f"padding {padding_type!r} is not implemented (reflect, replicate, zero)")


def conv_block(dim_in: int, dim: int, padding_type: str, norm_layer: NormLayer, use_dropout: bool, use_bias: bool) -> nn.Sequential:
    """pad, Conv3 ``dim_in→dim``, norm, ReLU, [Dropout 0.5], pad, Conv3 ``dim→dim``, norm.

    With reflect padding and no dropout the convolutions are indices 1 and 5.
    """
    layers: list[nn.Module] = []
    pad, p = _pad(padding_type)
    layers += pad + [nn.Conv2d(dim_in, dim, 3, padding=p, bias=use_bias), norm_layer(dim), nn.ReLU(True)]
    if use_dropout:
        layers.append(nn.Dropout(0.5))
    pad, p = _pad(padding_type)
    layers += pad + [nn.Conv2d(dim, dim, 3, padding=p, bias=use_bias), norm_layer(dim)]
    return nn.Sequential(*layers)


class ResnetBlock(nn.Module):
    """Identity-shortcut block: ``x + conv_block(x)``."""

    def __init__(self, dim: int, padding_type: str, norm_layer: NormLayer, use_dropout: bool, use_bias: bool) -> None:
        super().__init__()
        self.conv_block = conv_block(dim, dim, padding_type, norm_layer, use_dropout, use_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetBlock2(nn.Module):
    """Projection-shortcut block for a wider input: ``shortcut(x) + conv_block(x)``.

    ``shortcut`` = Conv3 (zero padding 1) ``dim_in→dim``, norm. Used where the landmark codes are
    concatenated to the trunk features.
    """

    def __init__(self, dim_in: int, dim: int, padding_type: str, norm_layer: NormLayer, use_dropout: bool, use_bias: bool) -> None:
        super().__init__()
        self.conv_block = conv_block(dim_in, dim, padding_type, norm_layer, use_dropout, use_bias)
        self.shortcut = nn.Sequential(nn.Conv2d(dim_in, dim, 3, padding=1, bias=use_bias), norm_layer(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_block(x)
