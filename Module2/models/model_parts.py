"""What the training model (``geomgm_ifw_fore``) and the test model (``geomcgt_ifw_test``) share.

* the weight-free stand-ins of the auxiliary nets: the photo's foreground matte
  (:func:`matting_stand_in`, for MODNet) and the static stylisation (:func:`static_stand_in`,
  for the static drawing G / photo2cartoon);
* the intrinsic flow with its fallback (:func:`intrinsic_flow`: zero flow and a full visibility
  mask when there is no flow net, so the flow half of G's dual warp samples features in place);
* the matte maths on [-1, 1] images: :func:`blend` (generated face over the static stylisation)
  and :func:`whiten` (white background outside the matte).

Images are (B, C, H, W) tensors in [-1, 1]; landmarks (B, 68, 2) ``(x, y)`` in the image's pixels.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..data.landmark_maps import flow_net_input, postprocess_flow

__all__ = [
    "MattingFn", "FlowFn", "StaticFn",
    "uint8_rgb", "matting_stand_in", "static_stand_in", "flow_fn", "intrinsic_flow", "blend", "whiten",
]

# Auxiliary callables get the photo (B,3,H,W) in [-1,1] and its landmarks (B,68,2) in the same pixel
# frame (only the weight-free stand-ins use the landmarks).
MattingFn = Callable[[torch.Tensor, np.ndarray], torch.Tensor]  # → (B,1,H,W) matte in [0,1]
FlowFn = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # (B,136,224,224) → flow_out, vis_out
StaticFn = Callable[[torch.Tensor, np.ndarray], torch.Tensor]  # → (B,C,H,W) in [-1,1]


def uint8_rgb(A: torch.Tensor) -> np.ndarray:
    """(B,3,H,W) in [-1,1] → (B,H,W,3) uint8, truncating like ``tensor2im``."""
    arr = (A.detach().cpu().permute(0, 2, 3, 1).numpy() + 1) / 2 * 255
    return np.clip(arr, 0, 255).astype(np.uint8)


def _per_image_landmarks(lm: np.ndarray | torch.Tensor, n: int) -> np.ndarray:
    arr = np.asarray(lm.detach().cpu() if isinstance(lm, torch.Tensor) else lm, np.float32)
    return np.broadcast_to(arr.reshape(-1, 68, 2), (n, 68, 2))


def matting_stand_in(A: torch.Tensor, lm: np.ndarray | torch.Tensor) -> torch.Tensor:
    """MODNet's stand-in: :func:`Module2.stylize.foreground_mask` per image → (B,1,H,W) in [0, 1]."""
    from ..stylize import foreground_mask

    photos, lms = uint8_rgb(A), _per_image_landmarks(lm, A.shape[0])
    masks = [np.asarray(foreground_mask(p, q, A.shape[-1]), np.float32) for p, q in zip(photos, lms)]
    return torch.from_numpy(np.stack(masks)).unsqueeze(1).to(A.device)


def static_stand_in(style: str) -> tuple[StaticFn, str]:
    """The weight-free static stylisation of ``style`` and its name (for the notice).

    ``drawing`` → :func:`Module2.stylize.line_drawing` (1 channel), ``cartoon`` →
    :func:`Module2.stylize.cartoonize` (3 channels), on each photo at its own size.
    """
    from .. import stylize

    draw: Callable[..., np.ndarray] = stylize.line_drawing if style == "drawing" else stylize.cartoonize
    channels = 1 if style == "drawing" else 3

    def static(A: torch.Tensor, lm: np.ndarray | torch.Tensor) -> torch.Tensor:
        outs = []
        for photo, pts in zip(uint8_rgb(A), _per_image_landmarks(lm, A.shape[0])):
            img = np.asarray(draw(photo, pts, A.shape[-1]))
            if img.ndim == 2:
                img = img[:, :, None]
            t = torch.from_numpy(img.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
            if t.shape[1] != channels:
                t = t.mean(1, keepdim=True) if channels == 1 else t.expand(1, 3, *t.shape[2:])
            if t.shape[-1] != A.shape[-1]:
                t = F.interpolate(t, size=A.shape[-2:], mode="bilinear", align_corners=False)
            outs.append(t)
        return torch.cat(outs).to(A.device)

    return static, f"stylize.{draw.__name__}"


def flow_fn(net: torch.nn.Module) -> FlowFn:
    """A loaded intrinsic-flow net as a :data:`FlowFn`: input moved to the net's device and dtype."""
    p = next(net.parameters())

    def flow(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = net(x.to(p.device, p.dtype))
        return out[0], out[1]

    return flow


@torch.no_grad()
def intrinsic_flow(flow: FlowFn | None, src68: torch.Tensor, dst68: torch.Tensor, size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Target→source pixel flow (B,2,size,size) and visibility mask (B,1,size,size), on ``src68``'s device.

    Without a flow net (``flow is None``): zero flow and a full mask (the flow half of G's dual
    warp then samples the features in place).
    """
    b = src68.shape[0]
    if flow is None:
        return src68.new_zeros(b, 2, size, size), src68.new_ones(b, 1, size, size)
    flow_out, vis_out = flow(flow_net_input(src68, dst68))
    iw_flow, ifmask = postprocess_flow(flow_out, vis_out, size)
    return iw_flow.to(src68.device), ifmask.to(src68.device)


def blend(fore: torch.Tensor, back: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``fore`` over ``back`` through ``mask`` in [0, 1], computed in [0, 1] and returned in [-1, 1]."""
    return ((fore / 2 + 0.5) * mask + (back / 2 + 0.5) * (1 - mask)) * 2 - 1


def whiten(img: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``img`` inside ``mask``, white outside (in [-1, 1])."""
    return ((img / 2 + 0.5) * mask + 1 - mask) * 2 - 1
