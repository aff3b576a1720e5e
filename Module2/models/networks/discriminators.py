"""PatchGAN discriminators, state-dict compatible with the released ``{epoch}_net_D_A*.pth``."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from .init import get_norm_layer, uses_bias
from .registry import NETD

__all__ = ["NLayerDiscriminator", "PixelDiscriminator"]

NormLayer = Callable[[int], nn.Module]


class NLayerDiscriminator(nn.Module):
    """PatchGAN: Conv4 s2 (``model.0``) + LeakyReLU 0.2, then ``n_layers − 1`` Conv4 s2 + norm + LReLU
    doubling the width (capped at 8·ndf), one Conv4 s1 + norm + LReLU, Conv4 s1 → 1 channel.

    With ``n_layers=3`` the convs are ``model.{0,2,5,8,11}`` and a 256² input gives a 30×30 map.
    """

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm_layer: NormLayer = get_norm_layer("instance")) -> None:
        super().__init__()
        use_bias = uses_bias(norm_layer)
        kw, padw = 4, 1
        seq: list[nn.Module] = [nn.Conv2d(input_nc, ndf, kw, stride=2, padding=padw), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            seq += [nn.Conv2d(ndf * prev, ndf * mult, kw, stride=2, padding=padw, bias=use_bias),
                    norm_layer(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2**n_layers, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, kw, stride=1, padding=padw, bias=use_bias),
                norm_layer(ndf * mult), nn.LeakyReLU(0.2, True)]
        seq += [nn.Conv2d(ndf * mult, 1, kw, stride=1, padding=padw)]
        self.model = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1×1 PatchGAN (``--netD pixel``): per-pixel real/fake logits, same size as the input."""

    def __init__(self, input_nc: int, ndf: int = 64, norm_layer: NormLayer = get_norm_layer("instance")) -> None:
        super().__init__()
        use_bias = uses_bias(norm_layer)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, 2 * ndf, 1, bias=use_bias), norm_layer(2 * ndf), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * ndf, 1, 1, bias=use_bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@NETD.register("basic")
def _basic(input_nc, ndf, n_layers_D, norm_layer):
    return NLayerDiscriminator(input_nc, ndf, n_layers=3, norm_layer=norm_layer)


@NETD.register("n_layers")
def _n_layers(input_nc, ndf, n_layers_D, norm_layer):
    return NLayerDiscriminator(input_nc, ndf, n_layers=n_layers_D, norm_layer=norm_layer)


@NETD.register("pixel")
def _pixel(input_nc, ndf, n_layers_D, norm_layer):
    return PixelDiscriminator(input_nc, ndf, norm_layer=norm_layer)
