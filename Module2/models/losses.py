"""Training losses of the geometry-aware generator.

* :class:`GANLoss` — LSGAN (MSE against 1/0 maps), vanilla, wgangp.
* :func:`masked_region` — the local-discriminator view of an image (``--mask_type``).
* :func:`landmarks_from_image` — MobileFaceNet ``get_lm``: differentiable landmark regression
  from a window of a generated frame; :func:`geometry_loss` on its output.
* :func:`lipline_map` / :func:`lipline_loss` — pushes the target lip contours to black.
* :class:`FaceLoss` — Sphere20a identity loss (sum of L1 over the returned features).
* :func:`warp_loss` — L1 against a (detached) warped reference.

Images are NCHW in [-1, 1]; landmarks (B,68,2) pixel ``(x, y)`` in the 256² frame;
windows ``win = [x1, x2, y1, y2]`` (B,4) integers.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.landmark_maps import FACE_LMARK_LOOKUP
from .model_parts import whiten

__all__ = [
    "GANLoss",
    "LIP_SEGMENTS",
    "masked_region",
    "crop_window",
    "landmarks_from_image",
    "geometry_loss",
    "lipline_map",
    "lipline_loss",
    "FaceLoss",
    "warp_loss",
]

# The first 20 segments of faceLmarkLookup: outer lip loop 48…59→48, inner loop 60…67→60.
LIP_SEGMENTS: tuple[tuple[int, int], ...] = tuple((int(a), int(b)) for a, b in FACE_LMARK_LOOKUP[:20])


class GANLoss(nn.Module):
    """GAN objective against constant target maps of the prediction's shape.

    ``lsgan``: MSE against 1 (real) / 0 (fake); ``vanilla``: BCE with logits;
    ``wgangp``: ∓mean of the prediction.
    """

    real_label: torch.Tensor  # buffers, registered in __init__
    fake_label: torch.Tensor
    loss: nn.Module | None

    def __init__(self, gan_mode: str = "lsgan", target_real_label: float = 1.0, target_fake_label: float = 0.0):
        super().__init__()
        self.register_buffer("real_label", torch.tensor(target_real_label))
        self.register_buffer("fake_label", torch.tensor(target_fake_label))
        self.gan_mode = gan_mode
        if gan_mode == "lsgan":
            self.loss = nn.MSELoss()
        elif gan_mode == "vanilla":
            self.loss = nn.BCEWithLogitsLoss()
        elif gan_mode == "wgangp":
            self.loss = None
        else:
            raise ValueError(f"gan mode {gan_mode!r} not implemented (lsgan, vanilla, wgangp)")

    def get_target_tensor(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = self.real_label if target_is_real else self.fake_label
        return target.to(prediction.device, prediction.dtype).expand_as(prediction)

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        if self.gan_mode == "wgangp":
            return -prediction.mean() if target_is_real else prediction.mean()
        assert self.loss is not None  # set for every mode but wgangp
        return self.loss(prediction, self.get_target_tensor(prediction, target_is_real))


def masked_region(img: torch.Tensor, mask: torch.Tensor, mask_type: int = 3) -> torch.Tensor:
    """Local-discriminator view of ``img`` (B,C,H,W) through ``mask`` (B,1,H,W) in [0, 1].

    0: outside black; 1: outside white; 2: ``cat(img, mask)``;
    3 (default): outside white then the mask appended as an extra channel.
    """
    if mask_type == 0:
        return ((img / 2 + 0.5) * mask) * 2 - 1
    if mask_type == 1:
        return whiten(img, mask)
    if mask_type == 2:
        return torch.cat([img, mask], 1)
    if mask_type == 3:
        return torch.cat([whiten(img, mask), mask], 1)
    raise ValueError(f"mask_type must be 0..3; got {mask_type}")


def _win(win: torch.Tensor | Sequence[int]) -> tuple[int, int, int, int]:
    w = win.tolist() if isinstance(win, torch.Tensor) else list(win)
    return int(w[0]), int(w[1]), int(w[2]), int(w[3])


def crop_window(img: torch.Tensor, win: torch.Tensor | Sequence[int], fill: float = 1.0) -> torch.Tensor:
    """Square crop (C,S,S) of ``img`` (C,H,W) with corner ``(x1, y1)`` and side ``S = x2 - x1``;
    pixels outside the image get ``fill`` (white)."""
    x1, x2, y1, _ = _win(win)
    s = x2 - x1
    c, h, w = img.shape
    pad = (max(0, -x1), max(0, x1 + s - w), max(0, -y1), max(0, y1 + s - h))
    if any(pad):
        img = F.pad(img.unsqueeze(0), pad, mode="constant", value=fill)[0]
        x1 += pad[0]
        y1 += pad[2]
    return img[:, y1 : y1 + s, x1 : x1 + s]


def landmarks_from_image(net: nn.Module, img: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
    """MobileFaceNet ``get_lm``: (B,68,2) pixel ``(x, y)`` landmarks regressed from ``img``.

    Per item: window crop (white padding), RGB→BGR (grey repeated to 3 channels), bicubic
    resize to 112² (align_corners False), range ``(x+1)/2``; the normalised output is
    mapped back by ``x·(x2−x1)+x1``, ``y·(y2−y1)+y1``. Gradients flow into ``img``.
    """
    crops, scales = [], []
    for b in range(img.shape[0]):
        c = crop_window(img[b], win[b])
        c = c.repeat(3, 1, 1) if c.shape[0] == 1 else c[[2, 1, 0]]
        crops.append(F.interpolate(c.unsqueeze(0), size=(112, 112), mode="bicubic", align_corners=False))
        x1, x2, y1, y2 = _win(win[b])
        scales.append([x2 - x1, y2 - y1, x1, y1])
    out = net((torch.cat(crops, 0) + 1) / 2)
    if isinstance(out, (tuple, list)):
        out = out[0]
    lm = out.reshape(img.shape[0], -1, 2)
    s = torch.tensor(scales, dtype=lm.dtype, device=lm.device)
    return torch.stack([lm[..., 0] * s[:, 0:1] + s[:, 2:3], lm[..., 1] * s[:, 1:2] + s[:, 3:4]], -1)


def geometry_loss(pred: torch.Tensor, target: torch.Tensor, lam: float, more_weight_for_lip: float = 0.0) -> torch.Tensor:
    """``lam·MSE(pred/256, target/256)``; with ``more_weight_for_lip > 0`` the face (0–47) and
    the lips (48–67) are separate MSE terms, the lip one weighted ``more_weight_for_lip·lam``."""
    target = target.to(pred.dtype)
    if more_weight_for_lip:
        return lam * F.mse_loss(pred[:, :48] / 256, target[:, :48] / 256) + more_weight_for_lip * lam * F.mse_loss(
            pred[:, 48:68] / 256, target[:, 48:68] / 256
        )
    return lam * F.mse_loss(pred[:, :68] / 256, target[:, :68] / 256)


def lipline_map(lm68: np.ndarray, size: int = 256, thickness: int = 2) -> np.ndarray:
    """(size,size) float32 map: 1 on the outer+inner lip loops of ``lm68`` (68,2) ``(x, y)``, else 0."""
    lm = np.asarray(lm68, dtype=np.float64)
    m = np.zeros((size, size), np.uint8)
    for a, b in LIP_SEGMENTS:
        # cv2 wants integer points; numpy rounding (half to even) as the dataset's dot drawing
        pa = (int(np.round(lm[a, 0])), int(np.round(lm[a, 1])))
        pb = (int(np.round(lm[b, 0])), int(np.round(lm[b, 1])))
        cv2.line(m, pa, pb, 1, thickness)
    return m.astype(np.float32)


def lipline_loss(fake: torch.Tensor, maps: torch.Tensor, lam: float) -> torch.Tensor:
    """``lam·mean((fake+1)·map)``: zero when every lip-line pixel of ``fake`` is black (-1).
    ``maps`` (B,1,H,W) or (B,H,W) broadcast over the channels of ``fake``."""
    if maps.dim() == 3:
        maps = maps.unsqueeze(1)
    return lam * torch.mean((fake + 1) * maps.to(fake.dtype))


def warp_loss(output: torch.Tensor, warped_reference: torch.Tensor, lam: float) -> torch.Tensor:
    """``lam·L1(output, warped_reference)`` — the reference is never differentiated."""
    return lam * F.l1_loss(output, warped_reference.detach())


class FaceLoss(nn.Module):
    """Identity loss through a frozen face-recognition net (Sphere20a, 3×112×96 input in [-1, 1]).

    Each image is cropped with its window (square side ``x2−x1``, white padding) and resized
    bilinearly (align_corners True) to 112×96; loss = Σ over the net's returned features of
    ``L1(f1, f2.detach())``.
    """

    def __init__(self, net: nn.Module, size: tuple[int, int] = (112, 96)):
        super().__init__()
        self.net = net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.size = size

    def train(self, mode: bool = True) -> FaceLoss:  # the face net always stays in eval mode
        super().train(mode)
        self.net.eval()
        return self

    def crop(self, imgs: torch.Tensor, bbox: torch.Tensor | None) -> torch.Tensor:
        if bbox is not None:
            imgs = torch.stack([crop_window(imgs[b], bbox[b]) for b in range(imgs.shape[0])])
        return F.interpolate(imgs, size=self.size, mode="bilinear", align_corners=True)

    def forward(self, imgs1: torch.Tensor, imgs2: torch.Tensor, bbox1=None, bbox2=None) -> torch.Tensor:
        f1 = self.net(self.crop(imgs1, bbox1))
        f2 = self.net(self.crop(imgs2, bbox2))
        if isinstance(f1, torch.Tensor):
            f1, f2 = [f1], [f2]
        loss = imgs1.new_zeros(())
        for a, b in zip(f1, f2):
            loss = loss + F.l1_loss(a, b.detach())
        return loss
