"""The feature warps inside the geometry-aware generator: the Delaunay-grid warp and the intrinsic-flow warp.

Shapes: features ``x`` (B,C,H,W); ``motion`` (B,H,W,2) a sampling grid whose last axis is (x, y)
normalised to [−1, 1] with the *align_corners=True* convention (``px/127.5 − 1`` at 256);
``flow`` (B,2,H,W) target→source pixel displacement, channel 0 = dx (right), 1 = dy (down);
``mask`` (B,1,H,W) flow validity in [0, 1].

Two quirks of the original are kept on purpose because released weights were trained with them:
the motion grid is sampled with ``align_corners=False`` although it was built for ``True``
(a half-pixel shift), and the flow warp's grid is normalised with ``2g/(W−1) − 1`` (the ``True``
convention) but also sampled with ``align_corners=False``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["warp_acc_flow", "warp_motion", "dual_warp", "resize_warp_inputs"]


def warp_acc_flow(x: torch.Tensor, flow: torch.Tensor, mask: torch.Tensor | None = None, mask_value: float = -1.0) -> torch.Tensor:
    """Backward-warp ``x`` (B,C,H,W) by the pixel flow ``flow`` (B,2,H,W).

    Output pixel (X, Y) samples ``x`` bilinearly (zero padding) at ``(X + dx, Y + dy)``, normalised as
    ``2g/(W−1) − 1``, ``2g/(H−1) − 1`` and sampled with ``align_corners=False``. Where
    ``mask`` (B,1,H,W) is ``≤ 0.5`` every channel is set to ``mask_value`` (−1: "no information").
    """
    b, _, h, w = x.shape
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, h, 1)
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, w)
    gx = xs + flow[:, 0]
    gy = ys + flow[:, 1]
    grid = torch.stack([2.0 * gx / (w - 1) - 1.0, 2.0 * gy / (h - 1) - 1.0], dim=-1)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if mask is not None:
        out = torch.where(mask > 0.5, out, torch.full_like(out, mask_value))
    return out


def warp_motion(x: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
    """Sample ``x`` (B,C,H,W) at ``motion`` (B,H,W,2); bilinear, zero padding, ``align_corners=False``
    (the original's library default, although the grid follows the ``True`` convention)."""
    return F.grid_sample(x, motion, mode="bilinear", padding_mode="zeros", align_corners=False)


def resize_warp_inputs(
    motion: torch.Tensor, flow: torch.Tensor, mask: torch.Tensor, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Bring the full-resolution warp inputs to feature size ``size`` = (h, w).

    All three are resized bilinearly with ``align_corners=True``; the flow is first divided by the
    resolution ratio (÷2 at 128, ÷4 at 64 for 256 inputs) because it is measured in pixels.
    Returns inputs unchanged when they already have that size.
    """
    if tuple(flow.shape[-2:]) == tuple(size):
        return motion, flow, mask
    ratio = flow.shape[-1] / size[1]
    m = F.interpolate(motion.permute(0, 3, 1, 2), size=size, mode="bilinear", align_corners=True).permute(0, 2, 3, 1)
    f = F.interpolate(flow / ratio, size=size, mode="bilinear", align_corners=True)
    k = F.interpolate(mask, size=size, mode="bilinear", align_corners=True)
    return m, f, k


def dual_warp(x: torch.Tensor, motion: torch.Tensor, flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``cat([motion warp, flow warp], 1)`` of ``x`` (B,C,h,w) → (B,2C,h,w).

    The warp inputs are given at full resolution and resized to ``x``'s size first
    (:func:`resize_warp_inputs`).
    """
    m, f, k = resize_warp_inputs(motion, flow, mask, (x.shape[-2], x.shape[-1]))
    return torch.cat([warp_motion(x, m), warp_acc_flow(x, f, k)], dim=1)
