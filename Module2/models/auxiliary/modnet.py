"""MODNet portrait matting (Ke et al., AAAI'22), checkpoint-compatible with the released file.

The test model runs ``MODNet(A, inference=True)`` on the aligned photo ``A``
(RGB in [-1, 1], 256²) and thresholds the matte at 0.5. The released
``modnet_photographic_portrait_matting.ckpt`` was saved from a ``DataParallel`` wrapper,
so its keys carry ``module.``; :func:`load_modnet` strips it.

Layout (state-dict names in brackets):

* MobileNetV2 backbone ``[backbone.model.features.0-18]`` giving features at 1/2 (16 ch),
  1/4 (24), 1/8 (32), 1/16 (96) and 1/32 (1280) of the input. The low-resolution branch
  holds the *same* backbone module, so every backbone tensor appears twice in the state
  dict (``backbone.*`` and ``lr_branch.backbone.*``) but once in ``parameters()``.
* Low-resolution branch ``[lr_branch]``: SE block on the 1/32 features, two 5×5
  conv-IBNorm-ReLU stages up to 1/8, and a semantic head (training only).
* High-resolution branch ``[hr_branch]``: detail features at 1/4 and 1/2 from the image and
  the 1/2, 1/4 backbone features; a detail head at full size (training only).
* Fusion branch ``[f_branch]``: merges both and predicts the matte at full size.

Every ``Conv2dIBNormRelu`` normalises with "IBNorm": BatchNorm on the first half of the
channels and affine-free InstanceNorm on the second half.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from common.checkpoint import load_state_dict

__all__ = ["MODNet", "MobileNetV2Backbone", "load_modnet", "matte"]

logger = logging.getLogger(__name__)

# (expansion t, output channels c, repeats n, first stride s) of MobileNetV2; alpha = 1.
_MBV2_SETTING: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
# features[a:b] that end at strides 2, 4, 8, 16, 32.
_STAGES: tuple[tuple[int, int], ...] = ((0, 2), (2, 4), (4, 7), (7, 14), (14, 19))


def _conv_bn_relu6(inp: int, oup: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inp, oup, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(oup),
        nn.ReLU6(inplace=True),
    )


class _InvertedResidual(nn.Module):
    """MobileNetV2 block: (1×1 expand) → 3×3 depthwise → 1×1 linear projection, residual when shapes allow."""

    def __init__(self, inp: int, oup: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = round(inp * expansion)
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expansion != 1:
            layers += [nn.Conv2d(inp, hidden, 1, 1, 0, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class _MobileNetV2(nn.Module):
    """Feature extractor only (MODNet builds it without a classifier)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        features: list[nn.Module] = [_conv_bn_relu6(in_channels, 32, 3, 2)]
        c_in = 32
        for t, c, n, s in _MBV2_SETTING:
            for i in range(n):
                features.append(_InvertedResidual(c_in, c, s if i == 0 else 1, t))
                c_in = c
        features.append(_conv_bn_relu6(c_in, 1280, 1, 1))
        self.features = nn.Sequential(*features)


class MobileNetV2Backbone(nn.Module):
    """MobileNetV2 returning the five encoder features ``[enc2x, enc4x, enc8x, enc16x, enc32x]``."""

    enc_channels: tuple[int, ...] = (16, 24, 32, 96, 1280)

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.model = _MobileNetV2(in_channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for a, b in _STAGES:
            for n in range(a, b):
                x = self.model.features[n](x)
            feats.append(x)
        return feats


class _IBNorm(nn.Module):
    """BatchNorm on the first ``C//2`` channels, InstanceNorm (no affine) on the rest."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bnorm_channels = channels // 2
        self.bnorm = nn.BatchNorm2d(self.bnorm_channels, affine=True)
        self.inorm = nn.InstanceNorm2d(channels - self.bnorm_channels, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The published code slices the IN half from ``inorm_channels``; all MODNet widths are
        # even, so that is the same split as here.
        k = self.bnorm_channels
        return torch.cat((self.bnorm(x[:, :k].contiguous()), self.inorm(x[:, k:].contiguous())), 1)


class _ConvIBNormRelu(nn.Module):
    def __init__(
        self,
        inp: int,
        oup: int,
        kernel: int,
        stride: int = 1,
        padding: int = 0,
        with_ibn: bool = True,
        with_relu: bool = True,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(inp, oup, kernel, stride=stride, padding=padding, bias=True)]
        if with_ibn:
            layers.append(_IBNorm(oup))
        if with_relu:
            layers.append(nn.ReLU(inplace=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class _SEBlock(nn.Module):
    """Squeeze-and-excitation channel reweighting (no biases)."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channels, channels // reduction, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(channels // reduction, channels, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        w = self.fc(self.pool(x).view(b, c)).view(b, c, 1, 1)
        return x * w


def _up(x: torch.Tensor, factor: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


class _LRBranch(nn.Module):
    def __init__(self, backbone: MobileNetV2Backbone) -> None:
        super().__init__()
        enc = backbone.enc_channels
        self.backbone = backbone
        self.se_block = _SEBlock(enc[4], reduction=4)
        self.conv_lr16x = _ConvIBNormRelu(enc[4], enc[3], 5, padding=2)
        self.conv_lr8x = _ConvIBNormRelu(enc[3], enc[2], 5, padding=2)
        self.conv_lr = _ConvIBNormRelu(enc[2], 1, 3, stride=2, padding=1, with_ibn=False, with_relu=False)

    def forward(self, img: torch.Tensor, inference: bool):
        enc2x, enc4x, _, _, enc32x = self.backbone(img)
        enc32x = self.se_block(enc32x)
        lr16x = self.conv_lr16x(_up(enc32x, 2))
        lr8x = self.conv_lr8x(_up(lr16x, 2))
        pred_semantic = None if inference else torch.sigmoid(self.conv_lr(lr8x))
        return pred_semantic, lr8x, enc2x, enc4x


class _HRBranch(nn.Module):
    def __init__(self, hr: int, enc: Sequence[int]) -> None:
        super().__init__()
        self.tohr_enc2x = _ConvIBNormRelu(enc[0], hr, 1)
        self.conv_enc2x = _ConvIBNormRelu(hr + 3, hr, 3, stride=2, padding=1)
        self.tohr_enc4x = _ConvIBNormRelu(enc[1], hr, 1)
        self.conv_enc4x = _ConvIBNormRelu(2 * hr, 2 * hr, 3, padding=1)
        self.conv_hr4x = nn.Sequential(
            _ConvIBNormRelu(3 * hr + 3, 2 * hr, 3, padding=1),
            _ConvIBNormRelu(2 * hr, 2 * hr, 3, padding=1),
            _ConvIBNormRelu(2 * hr, hr, 3, padding=1),
        )
        self.conv_hr2x = nn.Sequential(
            _ConvIBNormRelu(2 * hr, 2 * hr, 3, padding=1),
            _ConvIBNormRelu(2 * hr, hr, 3, padding=1),
            _ConvIBNormRelu(hr, hr, 3, padding=1),
            _ConvIBNormRelu(hr, hr, 3, padding=1),
        )
        self.conv_hr = nn.Sequential(
            _ConvIBNormRelu(hr + 3, hr, 3, padding=1),
            _ConvIBNormRelu(hr, 1, 1, with_ibn=False, with_relu=False),
        )

    def forward(self, img, enc2x, enc4x, lr8x, inference: bool):
        img2x = _up(img, 1 / 2)
        img4x = _up(img, 1 / 4)
        enc2x = self.tohr_enc2x(enc2x)
        hr4x = self.conv_enc2x(torch.cat((img2x, enc2x), 1))
        enc4x = self.tohr_enc4x(enc4x)
        hr4x = self.conv_enc4x(torch.cat((hr4x, enc4x), 1))
        hr4x = self.conv_hr4x(torch.cat((hr4x, _up(lr8x, 2), img4x), 1))
        hr2x = self.conv_hr2x(torch.cat((_up(hr4x, 2), enc2x), 1))
        pred_detail = None
        if not inference:
            pred_detail = torch.sigmoid(self.conv_hr(torch.cat((_up(hr2x, 2), img), 1)))
        return pred_detail, hr2x


class _FusionBranch(nn.Module):
    def __init__(self, hr: int, enc: Sequence[int]) -> None:
        super().__init__()
        self.conv_lr4x = _ConvIBNormRelu(enc[2], hr, 5, padding=2)
        self.conv_f2x = _ConvIBNormRelu(2 * hr, hr, 3, padding=1)
        self.conv_f = nn.Sequential(
            _ConvIBNormRelu(hr + 3, hr // 2, 3, padding=1),
            _ConvIBNormRelu(hr // 2, 1, 1, with_ibn=False, with_relu=False),
        )

    def forward(self, img, lr8x, hr2x):
        lr2x = _up(self.conv_lr4x(_up(lr8x, 2)), 2)
        f2x = self.conv_f2x(torch.cat((lr2x, hr2x), 1))
        f = self.conv_f(torch.cat((_up(f2x, 2), img), 1))
        return torch.sigmoid(f)


class MODNet(nn.Module):
    """Trimap-free portrait matting network (MobileNetV2 backbone, no pretrained download).

    ``forward(img, inference)`` takes ``img`` (B, 3, H, W) in [-1, 1] with H, W multiples
    of 32 and returns ``(pred_semantic, pred_detail, pred_matte)``: semantic (B,1,H/16,W/16)
    and detail (B,1,H,W) are ``None`` when ``inference`` is true; the matte (B,1,H,W) is
    in [0, 1].
    """

    def __init__(self, in_channels: int = 3, hr_channels: int = 32) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.hr_channels = hr_channels
        self.backbone = MobileNetV2Backbone(in_channels)
        self.lr_branch = _LRBranch(self.backbone)
        self.hr_branch = _HRBranch(hr_channels, self.backbone.enc_channels)
        self.f_branch = _FusionBranch(hr_channels, self.backbone.enc_channels)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=0, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, img: torch.Tensor, inference: bool):
        pred_semantic, lr8x, enc2x, enc4x = self.lr_branch(img, inference)
        pred_detail, hr2x = self.hr_branch(img, enc2x, enc4x, lr8x, inference)
        pred_matte = self.f_branch(img, lr8x, hr2x)
        return pred_semantic, pred_detail, pred_matte


def load_modnet(path: str | os.PathLike, device: str | torch.device = "cpu") -> MODNet:
    """Build :class:`MODNet` and load the released checkpoint at ``path`` (``module.`` keys) in eval mode.

    Raises :class:`common.errors.CheckpointError` when the file is missing or does not fit.
    """
    net = MODNet(in_channels=3, hr_channels=32)
    load_state_dict(path, net)
    logger.info("loaded MODNet from %s", path)
    return net.to(device).eval()


@torch.no_grad()
def matte(net: MODNet, img_m1p1: torch.Tensor) -> torch.Tensor:
    """Alpha matte (B, 1, H, W) in [0, 1] of a photo batch (B, 3, H, W) in [-1, 1]."""
    if img_m1p1.dim() != 4 or img_m1p1.shape[1] != 3:
        raise ValueError(f"expected a (B, 3, H, W) image batch, got shape {tuple(img_m1p1.shape)}")
    return net(img_m1p1, True)[2]
