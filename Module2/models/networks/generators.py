"""Generators of Module2, state-dict compatible with the released checkpoints.

* :class:`ResnetConditionTriGenerator32FullIFW` — ``resnet_9blocks_rcatland32_full_ifw``, the
  geometry-aware photo→drawing/cartoon generator (``{epoch}_net_G_A.pth``).
* :class:`ResnetStyle2Generator` — ``resnet_style2_9blocks``, the static 3-style portrait-drawing
  generator (``checkpoints/static/drawing.pth``).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from .blocks import ResnetBlock, ResnetBlock2
from .init import get_norm_layer, uses_bias
from .registry import NETG
from .warp import dual_warp

__all__ = ["ResnetConditionTriGenerator32FullIFW", "ResnetStyle2Generator", "landmark_blocks"]

NormLayer = Callable[[int], nn.Module]


def _head(in_nc: int, out_nc: int, norm_layer: NormLayer, use_bias: bool) -> nn.Sequential:
    """RP3, Conv7 (key ``.1``), norm, ReLU."""
    return nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(in_nc, out_nc, 7, padding=0, bias=use_bias), norm_layer(out_nc), nn.ReLU(True))


def _down(in_nc: int, out_nc: int, norm_layer: NormLayer, use_bias: bool) -> nn.Sequential:
    """Conv3 stride 2 pad 1 (key ``.0``), norm, ReLU: halves the resolution."""
    return nn.Sequential(nn.Conv2d(in_nc, out_nc, 3, stride=2, padding=1, bias=use_bias), norm_layer(out_nc), nn.ReLU(True))


def _up_and_out(ngf4: int, output_nc: int, norm_layer: NormLayer, use_bias: bool) -> list[nn.Module]:
    """Two ConvT3 s2 (×2 each) halving the channels, then RP3, Conv7 → ``output_nc``, Tanh."""
    layers: list[nn.Module] = []
    c = ngf4
    for _ in range(2):
        layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=use_bias),
                   norm_layer(c // 2), nn.ReLU(True)]
        c //= 2
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, output_nc, 7, padding=0), nn.Tanh()]
    return layers


def landmark_blocks(n_blocks: int, div: int, disp: int) -> list[int]:
    """Indices of the trunk blocks that receive the landmark codes: ``(i + disp) % div == 0``.

    >>> landmark_blocks(9, 3, 3)
    [0, 3, 6]
    """
    return [i for i in range(n_blocks) if (i + disp) % div == 0]


class ResnetConditionTriGenerator32FullIFW(nn.Module):
    """Geometry-aware generator ``resnet_9blocks_rcatland32_full_ifw``.

    Three encoder branches read the masked photo and dual-warp their features towards the target
    geometry at 256, 128 and 64 px respectively; the merged code runs through a 9-block residual
    trunk whose blocks :func:`landmark_blocks` also receive the encoded source and target landmark
    maps (16 channels each); two transposed convolutions decode to ``output_nc`` channels in [−1, 1].

    ``forward(input, land1, land2, motion, flow, ifmask)``: ``input`` (B,input_nc,256,256) photo in
    [−1,1]; ``land1``/``land2`` (B,1,256,256) source/target landmark maps; ``motion`` (B,256,256,2)
    Delaunay sampling grid (x, y) in [−1,1]; ``flow`` (B,2,256,256) intrinsic flow (dx, dy) pixels;
    ``ifmask`` (B,1,256,256) flow validity. Returns (B,output_nc,256,256).
    """

    def __init__(
        self,
        input_nc: int,
        output_nc: int,
        ngf: int = 64,
        norm_layer: NormLayer = get_norm_layer("instance"),
        use_dropout: bool = False,
        n_blocks: int = 9,
        padding_type: str = "reflect",
        div: int = 3,
        disp: int = 3,
        con_dim: int = 16,
    ) -> None:
        super().__init__()
        if ngf % 2:
            raise ValueError(f"ngf must be even (the first branch has ngf/2 channels); got {ngf}")
        use_bias = uses_bias(norm_layer)
        self.div, self.disp = div, disp
        self.land_idx = set(landmark_blocks(n_blocks, div, disp))
        # Registration order fixes the state-dict order of the released files: merge conv first.
        self.model_tri_merge = nn.Conv2d(12 * ngf, 4 * ngf, 3, padding=1, bias=use_bias)
        # Branch 0: warped at 256 (ngf/2 → dual warp → ngf).
        self.model_tri00 = _head(input_nc, ngf // 2, norm_layer, use_bias)
        self.model_tri01 = _down(ngf, 2 * ngf, norm_layer, use_bias)
        self.model_tri02 = _down(2 * ngf, 4 * ngf, norm_layer, use_bias)
        # Branch 1: warped at 128 (ngf → dual warp → 2ngf).
        self.model_tri10 = _head(input_nc, ngf, norm_layer, use_bias)
        self.model_tri11 = _down(ngf, ngf, norm_layer, use_bias)
        self.model_tri12 = _down(2 * ngf, 4 * ngf, norm_layer, use_bias)
        # Branch 2: warped at 64 (2ngf → dual warp → 4ngf).
        self.model_tri20 = _head(input_nc, ngf, norm_layer, use_bias)
        self.model_tri21 = _down(ngf, 2 * ngf, norm_layer, use_bias)
        self.model_tri22 = _down(2 * ngf, 2 * ngf, norm_layer, use_bias)

        dim = 4 * ngf
        self.model2 = nn.ModuleList(
            ResnetBlock2(dim + 2 * con_dim, dim, padding_type, norm_layer, use_dropout, use_bias)
            if i in self.land_idx
            else ResnetBlock(dim, padding_type, norm_layer, use_dropout, use_bias)
            for i in range(n_blocks)
        )
        self.model3 = nn.Sequential(*_up_and_out(dim, output_nc, norm_layer, use_bias))
        # Shared landmark-map encoder: 1 → con_dim/2 → con_dim → con_dim, 256 → 64 px (no final ReLU).
        half = con_dim // 2
        self.model_landmark_trans = nn.Sequential(
            nn.Conv2d(1, half, 3, padding=1, bias=use_bias), norm_layer(half), nn.ReLU(True),
            nn.Conv2d(half, con_dim, 3, stride=2, padding=1, bias=use_bias), norm_layer(con_dim), nn.ReLU(True),
            nn.Conv2d(con_dim, con_dim, 3, stride=2, padding=1, bias=use_bias), norm_layer(con_dim),
        )

    def forward(
        self,
        input: torch.Tensor,
        land1: torch.Tensor,
        land2: torch.Tensor,
        motion: torch.Tensor,
        flow: torch.Tensor,
        ifmask: torch.Tensor,
    ) -> torch.Tensor:
        b0 = self.model_tri00(input)
        b0 = dual_warp(b0, motion, flow, ifmask)
        b0 = self.model_tri02(self.model_tri01(b0))

        b1 = self.model_tri11(self.model_tri10(input))
        b1 = dual_warp(b1, motion, flow, ifmask)
        b1 = self.model_tri12(b1)

        b2 = self.model_tri22(self.model_tri21(self.model_tri20(input)))
        b2 = dual_warp(b2, motion, flow, ifmask)

        x = self.model_tri_merge(torch.cat([b0, b1, b2], dim=1))
        l1 = self.model_landmark_trans(land1)
        l2 = self.model_landmark_trans(land2)
        for i, block in enumerate(self.model2):
            x = block(torch.cat([x, l1, l2], dim=1)) if i in self.land_idx else block(x)
        return self.model3(x)


class ResnetStyle2Generator(nn.Module):
    """Static portrait-drawing generator ``resnet_style2_9blocks``.

    ``model0`` encodes the photo (RP3 Conv7, two stride-2 convs: 4× smaller, 4ngf channels); the
    ``extra_channel``-channel style map is concatenated; ``model`` = Conv3 → 4ngf, ``n_blocks``
    residual blocks, two transposed convs, RP3 Conv7 → ``output_nc``, Tanh.

    ``forward(x, style)``: ``x`` (B,input_nc,H,W) in [−1,1]; ``style`` (B,extra_channel,H/4,W/4)
    (e.g. the one-hot ``[0,1,0]`` broadcast) or (B,extra_channel), broadcast to the feature size.
    """

    def __init__(
        self,
        input_nc: int,
        output_nc: int,
        ngf: int = 64,
        norm_layer: NormLayer = get_norm_layer("instance"),
        use_dropout: bool = False,
        n_blocks: int = 9,
        padding_type: str = "reflect",
        extra_channel: int = 3,
    ) -> None:
        super().__init__()
        use_bias = uses_bias(norm_layer)
        self.extra_channel = extra_channel
        self.model0 = nn.Sequential(
            *_head(input_nc, ngf, norm_layer, use_bias),
            *_down(ngf, 2 * ngf, norm_layer, use_bias),
            *_down(2 * ngf, 4 * ngf, norm_layer, use_bias),
        )
        dim = 4 * ngf
        layers: list[nn.Module] = [nn.Conv2d(dim + extra_channel, dim, 3, padding=1, bias=use_bias), norm_layer(dim), nn.ReLU(True)]
        layers += [ResnetBlock(dim, padding_type, norm_layer, use_dropout, use_bias) for _ in range(n_blocks)]
        layers += _up_and_out(dim, output_nc, norm_layer, use_bias)
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        f = self.model0(x)
        if style.dim() == 2:
            style = style[:, :, None, None]
        style = style.to(f.dtype).expand(f.shape[0], self.extra_channel, f.shape[2], f.shape[3])
        return self.model(torch.cat([f, style], dim=1))


@NETG.register("resnet_9blocks_rcatland32_full_ifw")
def _rcatland32_full_ifw(input_nc, output_nc, ngf, norm_layer, use_dropout, div=3, disp=3):
    return ResnetConditionTriGenerator32FullIFW(input_nc, output_nc, ngf, norm_layer, use_dropout, n_blocks=9, div=div, disp=disp)


@NETG.register("resnet_style2_9blocks")
def _style2_9blocks(input_nc, output_nc, ngf, norm_layer, use_dropout, div=3, disp=3):
    return ResnetStyle2Generator(input_nc, output_nc, ngf, norm_layer, use_dropout, n_blocks=9)
