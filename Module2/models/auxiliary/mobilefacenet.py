"""MobileFaceNet landmark regressor for the geometry loss ``geom_B``.

Rebuilt from the key names and shapes of ``checkpoints/mobilefacenet_model_best.pth.tar``
(``state_dict`` entry): a MobileFaceNet trunk (depthwise-separable inverted bottlenecks, PReLU)
with the GDC head (global depthwise 7×7 conv, linear, BatchNorm1d) regressing 136 = 68×(x, y)
values normalised to the 112×112 input crop.

Input: (B,3,112,112) **BGR** in [0, 1]. Output: (B,136) ``[x0, y0, x1, y1, …]`` in crop units.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import torch
import torch.nn as nn

from common.checkpoint import load_state_dict

__all__ = ["ConvBlock", "LinearBlock", "DepthWise", "Residual", "GDC", "MobileFaceNet", "load_mobilefacenet"]

log = logging.getLogger(__name__)


class ConvBlock(nn.Module):
    """Conv (no bias) → BatchNorm2d → PReLU (keys ``conv``, ``bn``, ``prelu``)."""

    def __init__(self, in_c: int, out_c: int, kernel: int = 1, stride: int = 1, padding: int = 0, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_c, out_c, kernel, stride=stride, padding=padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_c)
        self.prelu = nn.PReLU(out_c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prelu(self.bn(self.conv(x)))


class LinearBlock(nn.Module):
    """Conv (no bias) → BatchNorm2d, no activation (keys ``conv``, ``bn``)."""

    def __init__(self, in_c: int, out_c: int, kernel: int = 1, stride: int = 1, padding: int = 0, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_c, out_c, kernel, stride=stride, padding=padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class DepthWise(nn.Module):
    """Inverted bottleneck: 1×1 expand to ``groups`` channels, 3×3 depthwise (``stride``), 1×1 linear
    projection to ``out_c``; ``x +`` that when ``residual``."""

    def __init__(self, in_c: int, out_c: int, groups: int, stride: int = 2, residual: bool = False) -> None:
        super().__init__()
        self.conv = ConvBlock(in_c, groups, 1)
        self.conv_dw = ConvBlock(groups, groups, 3, stride=stride, padding=1, groups=groups)
        self.project = LinearBlock(groups, out_c, 1)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.conv_dw(self.conv(x)))
        return x + y if self.residual else y


class Residual(nn.Module):
    """``num_block`` stride-1 residual bottlenecks ``c → groups → c`` (keys ``model.<i>``)."""

    def __init__(self, c: int, num_block: int, groups: int) -> None:
        super().__init__()
        self.model = nn.Sequential(*[DepthWise(c, c, groups, stride=1, residual=True) for _ in range(num_block)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class GDC(nn.Module):
    """Global depthwise conv head: 7×7 depthwise LinearBlock on the 7×7 map, flatten, Linear (no bias),
    BatchNorm1d → ``embedding_size``."""

    def __init__(self, embedding_size: int, channels: int = 512) -> None:
        super().__init__()
        self.conv_6_dw = LinearBlock(channels, channels, 7, groups=channels)
        self.linear = nn.Linear(channels, embedding_size, bias=False)
        self.bn = nn.BatchNorm1d(embedding_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.linear(torch.flatten(self.conv_6_dw(x), 1)))


class MobileFaceNet(nn.Module):
    """MobileFaceNet with the GDC head, keyed as the released landmark regressor.

    ``input_size`` is 112 (an int or the original's ``[112, 112]``); ``embedding_size`` 136 for
    68 landmarks. 112 → 56 (conv1) → 28 (conv_23) → 14 (conv_34) → 7 (conv_45) → GDC.
    """

    def __init__(self, input_size: int | Sequence[int] = 112, embedding_size: int = 136) -> None:
        super().__init__()
        size = input_size if isinstance(input_size, int) else int(input_size[0])
        if size != 112:
            raise ValueError(f"MobileFaceNet expects 112×112 inputs; got {input_size}")
        self.conv1 = ConvBlock(3, 64, 3, stride=2, padding=1)
        self.conv2_dw = ConvBlock(64, 64, 3, stride=1, padding=1, groups=64)
        self.conv_23 = DepthWise(64, 64, groups=128)
        self.conv_3 = Residual(64, num_block=4, groups=128)
        self.conv_34 = DepthWise(64, 128, groups=256)
        self.conv_4 = Residual(128, num_block=6, groups=256)
        self.conv_45 = DepthWise(128, 128, groups=512)
        self.conv_5 = Residual(128, num_block=2, groups=256)
        self.conv_6_sep = ConvBlock(128, 512, 1)
        self.output_layer = GDC(embedding_size)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B,3,112,112) → the (B,512,7,7) map before the head."""
        x = self.conv2_dw(self.conv1(x))
        x = self.conv_3(self.conv_23(x))
        x = self.conv_4(self.conv_34(x))
        x = self.conv_5(self.conv_45(x))
        return self.conv_6_sep(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output_layer(self.features(x))


def load_mobilefacenet(path: str | os.PathLike, device: torch.device | str = "cpu") -> MobileFaceNet:
    """``MobileFaceNet(112, 136)`` strictly loaded from ``path`` (dict with key ``state_dict``;
    ``module.`` prefixes stripped), in eval mode on ``device``.

    Raises :class:`common.errors.CheckpointError` when the file is missing or does not fit.
    """
    net = MobileFaceNet(112, 136)
    load_state_dict(path, net, key="state_dict")
    log.info("MobileFaceNet landmark regressor loaded from %s", path)
    return net.to(device).eval()
