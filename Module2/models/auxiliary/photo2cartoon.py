"""photo2cartoon generator (minivision, U-GAT-IT-derived), checkpoint-compatible with ``cartoon.pt``.

For the cartoon style the test model stylises the whole aligned photo with this
generator and uses the result as the static background ``fakeB_static``. The released file
``checkpoints/static/cartoon.pt`` is a dict whose ``genA2B`` entry is the state dict of
``ResnetGenerator(ngf=32, img_size=256, light=True)``.

Architecture (state-dict names in brackets): 7×7 stem ``[ConvBlock1]`` → two hourglass
modules ``[HourGlass1/2]`` → two strided 3×3 downsamplings ``[DownBlock1/2]`` → four residual
blocks ``[EncodeBlock1-4]`` → class-activation-map attention ``[gap_fc, gmp_fc, conv1x1]``
→ style MLP on the pooled map ``[FC]`` (light variant) → four residual blocks with
soft-AdaLIN ``[DecodeBlock1-4]`` mixing per-block content statistics with the style code →
two nearest-upsampling blocks with LIN ``[UpBlock1/2]`` → two hourglass modules
``[HourGlass3/4]`` (the last one outputs 3 channels) → 7×7 conv + tanh ``[ConvBlock2]``.
All InstanceNorms are affine-free; AdaLIN/LIN use the unbiased variance.
"""
from __future__ import annotations

import logging
import os

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from common.checkpoint import load_state_dict

__all__ = [
    "ResnetGenerator",
    "load_photo2cartoon",
    "photo_to_uint8",
    "cartoonize_photo",
    "static_cartoon",
    "CARTOON_SIZE",
]

logger = logging.getLogger(__name__)

CARTOON_SIZE = 256


def _instance_norm_relu(channels: int) -> list[nn.Module]:
    return [nn.InstanceNorm2d(channels), nn.ReLU(True)]


class _ConvBlock(nn.Module):
    """Pre-activation multi-scale block: three 3×3 convs of widths C/2, C/4, C/4 concatenated, plus the input.

    ``ConvBlock4`` (a 1×1 projection) is only used when input and output widths differ,
    which never happens in this generator, but it is part of the state dict.
    """

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.dim_out = dim_out
        half, quarter = dim_out // 2, dim_out // 4
        self.ConvBlock1 = nn.Sequential(*_instance_norm_relu(dim_in), nn.ReflectionPad2d(1),
                                        nn.Conv2d(dim_in, half, 3, 1, bias=False))
        self.ConvBlock2 = nn.Sequential(*_instance_norm_relu(half), nn.ReflectionPad2d(1),
                                        nn.Conv2d(half, quarter, 3, 1, bias=False))
        self.ConvBlock3 = nn.Sequential(*_instance_norm_relu(quarter), nn.ReflectionPad2d(1),
                                        nn.Conv2d(quarter, quarter, 3, 1, bias=False))
        self.ConvBlock4 = nn.Sequential(*_instance_norm_relu(dim_in), nn.Conv2d(dim_in, dim_out, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.ConvBlock1(x)
        x2 = self.ConvBlock2(x1)
        x3 = self.ConvBlock3(x2)
        residual = x if x.shape[1] == self.dim_out else self.ConvBlock4(x)
        return residual + torch.cat((x1, x2, x3), 1)


class _HourGlassBlock(nn.Module):
    """Four-level hourglass: 2×2 average-pool down, nearest 2× up, a ConvBlock skip at every level."""

    _NAMES = ("ConvBlock1_1", "ConvBlock1_2", "ConvBlock2_1", "ConvBlock2_2", "ConvBlock3_1", "ConvBlock3_2",
              "ConvBlock4_1", "ConvBlock4_2", "ConvBlock5", "ConvBlock6", "ConvBlock7", "ConvBlock8", "ConvBlock9")
    ConvBlock5: _ConvBlock  # registered by name in __init__ (state-dict keys)

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        for i, name in enumerate(self._NAMES):
            self.add_module(name, _ConvBlock(dim_in if i == 0 else dim_out, dim_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        down = x
        for level in range(1, 5):
            skips.append(getattr(self, f"ConvBlock{level}_1")(down))
            down = getattr(self, f"ConvBlock{level}_2")(F.avg_pool2d(down, 2))
        up = self.ConvBlock5(down)
        for name, skip in zip(("ConvBlock6", "ConvBlock7", "ConvBlock8", "ConvBlock9"), reversed(skips)):
            up = skip + F.interpolate(getattr(self, name)(up), scale_factor=2, mode="nearest")
        return up


class _HourGlass(nn.Module):
    """Hourglass + head; with ``use_res`` returns ``x + Conv2(features) + Conv3(Conv1(features))``, else the 3-ch ``Conv1``."""

    def __init__(self, dim_in: int, dim_out: int, use_res: bool = True) -> None:
        super().__init__()
        self.use_res = use_res
        self.HG = nn.Sequential(
            _HourGlassBlock(dim_in, dim_out),
            _ConvBlock(dim_out, dim_out),
            nn.Conv2d(dim_out, dim_out, 1, 1, bias=False),
            *_instance_norm_relu(dim_out),
        )
        self.Conv1 = nn.Conv2d(dim_out, 3, 1, 1)
        if use_res:
            self.Conv2 = nn.Conv2d(dim_out, dim_out, 1, 1)
            self.Conv3 = nn.Conv2d(3, dim_out, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.HG(x)
        out = self.Conv1(feats)
        if not self.use_res:
            return out
        return x + self.Conv2(feats) + self.Conv3(out)


class _ResnetBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, 1, 0, bias=False), *_instance_norm_relu(dim),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, 1, 0, bias=False), nn.InstanceNorm2d(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def _layer_instance_mix(x: torch.Tensor, rho: torch.Tensor, eps: float) -> torch.Tensor:
    """``rho·IN(x) + (1−rho)·LN(x)`` with unbiased variances, as in U-GAT-IT."""
    in_mean, in_var = x.mean(dim=(2, 3), keepdim=True), x.var(dim=(2, 3), keepdim=True)
    ln_mean, ln_var = x.mean(dim=(1, 2, 3), keepdim=True), x.var(dim=(1, 2, 3), keepdim=True)
    out_in = (x - in_mean) / torch.sqrt(in_var + eps)
    out_ln = (x - ln_mean) / torch.sqrt(ln_var + eps)
    rho = rho.expand(x.shape[0], -1, -1, -1)
    return rho * out_in + (1 - rho) * out_ln


class _AdaLIN(nn.Module):
    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.rho = nn.Parameter(torch.full((1, num_features, 1, 1), 0.9))

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        out = _layer_instance_mix(x, self.rho, self.eps)
        return out * gamma[:, :, None, None] + beta[:, :, None, None]


class _LIN(nn.Module):
    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.rho = nn.Parameter(torch.zeros(1, num_features, 1, 1))
        self.gamma = nn.Parameter(torch.ones(1, num_features, 1, 1))
        self.beta = nn.Parameter(torch.zeros(1, num_features, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        out = _layer_instance_mix(x, self.rho, self.eps)
        return out * self.gamma.expand(b, -1, -1, -1) + self.beta.expand(b, -1, -1, -1)


class _SoftAdaLIN(nn.Module):
    """AdaLIN whose (gamma, beta) blend style-code and content-statistics predictions with learnt weights."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = _AdaLIN(num_features, eps)
        self.w_gamma = nn.Parameter(torch.zeros(1, num_features))
        self.w_beta = nn.Parameter(torch.zeros(1, num_features))

        def mlp() -> nn.Sequential:
            return nn.Sequential(nn.Linear(num_features, num_features), nn.ReLU(True),
                                 nn.Linear(num_features, num_features))

        self.c_gamma = mlp()
        self.c_beta = mlp()
        self.s_gamma = nn.Linear(num_features, num_features)
        self.s_beta = nn.Linear(num_features, num_features)

    def forward(self, x: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        w_gamma = self.w_gamma.expand(x.shape[0], -1)
        w_beta = self.w_beta.expand(x.shape[0], -1)
        gamma = (1.0 - w_gamma) * self.s_gamma(style) + w_gamma * self.c_gamma(content)
        beta = (1.0 - w_beta) * self.s_beta(style) + w_beta * self.c_beta(content)
        return self.norm(x, gamma, beta)


class _ResnetSoftAdaLINBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.pad1 = nn.ReflectionPad2d(1)
        self.conv1 = nn.Conv2d(dim, dim, 3, 1, 0, bias=False)
        self.norm1 = _SoftAdaLIN(dim)
        self.relu1 = nn.ReLU(True)
        self.pad2 = nn.ReflectionPad2d(1)
        self.conv2 = nn.Conv2d(dim, dim, 3, 1, 0, bias=False)
        self.norm2 = _SoftAdaLIN(dim)

    def forward(self, x: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.norm1(self.conv1(self.pad1(x)), content, style))
        out = self.norm2(self.conv2(self.pad2(out)), content, style)
        return out + x


class ResnetGenerator(nn.Module):
    """photo2cartoon generator. ``forward(x)`` with x (B, 3, S, S) in [-1, 1], S = ``img_size``
    (a multiple of 64), returns ``(out (B,3,S,S) in [-1, 1], cam_logit (B,2), heatmap (B,1,S/4,S/4))``.
    """

    def __init__(self, ngf: int = 64, img_size: int = 256, light: bool = False) -> None:
        super().__init__()
        self.light = light
        self.ConvBlock1 = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7, 1, 0, bias=False),
                                        *_instance_norm_relu(ngf))
        self.HourGlass1 = _HourGlass(ngf, ngf)
        self.HourGlass2 = _HourGlass(ngf, ngf)
        self.DownBlock1 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ngf, ngf * 2, 3, 2, 0, bias=False),
                                        *_instance_norm_relu(ngf * 2))
        self.DownBlock2 = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ngf * 2, ngf * 4, 3, 2, 0, bias=False),
                                        *_instance_norm_relu(ngf * 4))
        self.EncodeBlock1 = _ResnetBlock(ngf * 4)
        self.EncodeBlock2 = _ResnetBlock(ngf * 4)
        self.EncodeBlock3 = _ResnetBlock(ngf * 4)
        self.EncodeBlock4 = _ResnetBlock(ngf * 4)
        self.gap_fc = nn.Linear(ngf * 4, 1)
        self.gmp_fc = nn.Linear(ngf * 4, 1)
        self.conv1x1 = nn.Conv2d(ngf * 8, ngf * 4, 1, 1)
        self.relu = nn.ReLU(True)
        fc_in = ngf * 4 if light else (img_size // 4) * (img_size // 4) * ngf * 4
        self.FC = nn.Sequential(nn.Linear(fc_in, ngf * 4), nn.ReLU(True), nn.Linear(ngf * 4, ngf * 4), nn.ReLU(True))
        self.DecodeBlock1 = _ResnetSoftAdaLINBlock(ngf * 4)
        self.DecodeBlock2 = _ResnetSoftAdaLINBlock(ngf * 4)
        self.DecodeBlock3 = _ResnetSoftAdaLINBlock(ngf * 4)
        self.DecodeBlock4 = _ResnetSoftAdaLINBlock(ngf * 4)
        self.UpBlock1 = nn.Sequential(nn.Upsample(scale_factor=2), nn.ReflectionPad2d(1),
                                      nn.Conv2d(ngf * 4, ngf * 2, 3, 1, 0, bias=False), _LIN(ngf * 2), nn.ReLU(True))
        self.UpBlock2 = nn.Sequential(nn.Upsample(scale_factor=2), nn.ReflectionPad2d(1),
                                      nn.Conv2d(ngf * 2, ngf, 3, 1, 0, bias=False), _LIN(ngf), nn.ReLU(True))
        self.HourGlass3 = _HourGlass(ngf, ngf)
        self.HourGlass4 = _HourGlass(ngf, ngf, use_res=False)
        self.ConvBlock2 = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(3, 3, 7, 1, 0, bias=False), nn.Tanh())

    def forward(self, x: torch.Tensor):
        x = self.HourGlass2(self.HourGlass1(self.ConvBlock1(x)))
        x = self.DownBlock2(self.DownBlock1(x))
        content = []
        for block in (self.EncodeBlock1, self.EncodeBlock2, self.EncodeBlock3, self.EncodeBlock4):
            x = block(x)
            content.append(F.adaptive_avg_pool2d(x, 1).flatten(1))

        # Class activation map: reweight channels by the two auxiliary classifiers' weights.
        b = x.shape[0]
        gap_logit = self.gap_fc(F.adaptive_avg_pool2d(x, 1).view(b, -1))
        gmp_logit = self.gmp_fc(F.adaptive_max_pool2d(x, 1).view(b, -1))
        gap = x * self.gap_fc.weight[:, :, None, None]
        gmp = x * self.gmp_fc.weight[:, :, None, None]
        cam_logit = torch.cat([gap_logit, gmp_logit], 1)
        x = self.relu(self.conv1x1(torch.cat([gap, gmp], 1)))
        heatmap = x.sum(dim=1, keepdim=True)

        pooled = F.adaptive_avg_pool2d(x, 1) if self.light else x
        style = self.FC(pooled.reshape(b, -1))

        # Decoder blocks take the encoder statistics in reverse order (deepest first).
        for dec, c in zip((self.DecodeBlock1, self.DecodeBlock2, self.DecodeBlock3, self.DecodeBlock4),
                          reversed(content)):
            x = dec(x, c, style)
        x = self.UpBlock2(self.UpBlock1(x))
        x = self.HourGlass4(self.HourGlass3(x))
        return self.ConvBlock2(x), cam_logit, heatmap


def load_photo2cartoon(path: str | os.PathLike, device: str | torch.device = "cpu") -> ResnetGenerator:
    """Build ``ResnetGenerator(ngf=32, img_size=256, light=True)`` and load ``torch.load(path)['genA2B']`` (eval mode).

    Raises :class:`common.errors.CheckpointError` when the file or key is missing or the weights do not fit.
    """
    net = ResnetGenerator(ngf=32, img_size=CARTOON_SIZE, light=True)
    load_state_dict(path, net, key="genA2B")
    logger.info("loaded photo2cartoon generator from %s", path)
    return net.to(device).eval()


def photo_to_uint8(img_m1p1: torch.Tensor) -> np.ndarray:
    """First image of a (B, 3, H, W) batch in [-1, 1] → (H, W, 3) uint8 RGB, as the test model does it.

    ``((x + 1) · 127.5)`` is computed in float32 and cast with ``astype(uint8)``: truncation,
    no rounding or clipping, as the original.
    """
    arr = np.transpose(img_m1p1[0].detach().cpu().numpy().astype(np.float32, copy=False), (1, 2, 0))
    return ((arr + 1) * np.float32(127.5)).astype(np.uint8)


@torch.no_grad()
def cartoonize_photo(net: ResnetGenerator, photo_uint8_rgb: np.ndarray) -> torch.Tensor:
    """Cartoon of a uint8 RGB photo (H, W, 3): the generator's first output (1, 3, 256, 256) in [-1, 1].

    Mirrors photo2cartoon's ``inference2(img, nocrop=1)``: INTER_AREA resize to 256² (identity
    for a 256² input), ``face / 127.5 − 1`` in float64 then float32, generator, no
    post-processing. Its face-segmentation mask is computed and discarded by the original, so
    it is skipped here. The tensor lives on the generator's device.
    """
    photo = np.asarray(photo_uint8_rgb)
    if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image; got {photo.dtype} array of shape {photo.shape}")
    if photo.shape[:2] != (CARTOON_SIZE, CARTOON_SIZE):
        photo = cv2.resize(photo, (CARTOON_SIZE, CARTOON_SIZE), interpolation=cv2.INTER_AREA)
    face = (photo / 127.5 - 1).transpose(2, 0, 1)[None].astype(np.float32)
    device = next(net.parameters()).device
    return net(torch.from_numpy(face).to(device))[0]


def static_cartoon(net: ResnetGenerator, img_m1p1: torch.Tensor) -> torch.Tensor:
    """``fakeB_static`` of the cartoon style: :func:`cartoonize_photo` of :func:`photo_to_uint8` (1, 3, 256, 256)."""
    return cartoonize_photo(net, photo_to_uint8(img_m1p1))
