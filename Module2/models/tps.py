"""Thin-plate (polyharmonic order 2) sparse image warp used by training.

Semantics follow TensorFlow's ``sparse_image_warp``: a polyharmonic spline is fitted
at the **destination** control points with values ``dest - source``; the dense flow is
evaluated at every pixel and the output at pixel ``p`` is the bilinear sample of the
image at ``p - flow(p)`` with edge clamping (``dense_image_warp``). Control points are
``(y, x)`` pixel coordinates (row, column); :func:`tps_warp_xy` takes the usual
``(x, y)`` landmarks and swaps them.

>>> import torch
>>> img = torch.rand(1, 1, 8, 8)
>>> pts = torch.tensor([[[1., 1.], [6., 1.], [1., 6.], [6., 6.]]])
>>> out, _ = sparse_image_warp(img, pts, pts)
>>> bool(torch.allclose(out, img, atol=1e-5))
True
"""
from __future__ import annotations

import torch

from ..geometry import border_points

__all__ = ["sparse_image_warp", "interpolate_spline", "dense_image_warp", "tps_warp_xy"]

_EPS = 1e-10


def _phi(r2: torch.Tensor, order: int) -> torch.Tensor:
    """Radial basis on the *squared* distance ``r2`` (TensorFlow ``_phi``)."""
    if order == 1:
        return torch.sqrt(torch.clamp(r2, min=_EPS))
    if order == 2:
        return 0.5 * r2 * torch.log(torch.clamp(r2, min=_EPS))
    if order == 4:
        return 0.5 * r2.square() * torch.log(torch.clamp(r2, min=_EPS))
    if order % 2 == 0:
        return 0.5 * torch.pow(torch.clamp(r2, min=_EPS), 0.5 * order) * torch.log(torch.clamp(r2, min=_EPS))
    return torch.pow(torch.clamp(r2, min=_EPS), 0.5 * order)


def _sqdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise squared distances (B,N,D) × (B,M,D) → (B,N,M) (matmul expansion: dense grids are large)."""
    d = a.square().sum(-1).unsqueeze(2) + b.square().sum(-1).unsqueeze(1) - 2 * a @ b.transpose(1, 2)
    return d.clamp_min(0)


def interpolate_spline(
    train_points: torch.Tensor,
    train_values: torch.Tensor,
    query_points: torch.Tensor,
    order: int = 2,
    regularization_weight: float = 0.0,
) -> torch.Tensor:
    """Fit a polyharmonic spline at ``train_points`` (B,N,D) with ``train_values`` (B,N,K)
    and evaluate it at ``query_points`` (B,M,D) → (B,M,K). Linear term ``[p, 1]``."""
    b, n, d = train_points.shape
    c = train_points.to(torch.float64)
    f = train_values.to(torch.float64)
    a = _phi(_sqdist(c, c), order)
    if regularization_weight > 0:
        a = a + regularization_weight * torch.eye(n, dtype=a.dtype, device=a.device)
    ones = torch.ones(b, n, 1, dtype=c.dtype, device=c.device)
    bmat = torch.cat([c, ones], dim=2)  # (B,N,D+1)
    top = torch.cat([a, bmat], dim=2)
    bottom = torch.cat([bmat.transpose(1, 2), torch.zeros(b, d + 1, d + 1, dtype=c.dtype, device=c.device)], dim=2)
    lhs = torch.cat([top, bottom], dim=1)
    rhs = torch.cat([f, torch.zeros(b, d + 1, f.shape[2], dtype=c.dtype, device=c.device)], dim=1)
    sol = torch.linalg.solve(lhs, rhs)
    # Evaluation at the (many) query points runs in the query dtype (float32 like TensorFlow's
    # implementation); only the small linear system is solved in float64 for stability.
    dt = query_points.dtype
    w, v = sol[:, :n].to(dt), sol[:, n:].to(dt)
    q, cq = query_points, train_points.to(dt)
    r2 = (q[..., 0:1] - cq[..., 0].unsqueeze(1)).square()
    for i in range(1, d):
        r2 = r2 + (q[..., i : i + 1] - cq[..., i].unsqueeze(1)).square()
    rbf = _phi(r2, order) @ w
    lin = q @ v[:, :d] + v[:, d:]
    return (rbf + lin).to(train_values.dtype)


def dense_image_warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``out[b,:,y,x] = image[b,:, y - flow[b,0,y,x], x - flow[b,1,y,x]]`` (bilinear, edge clamped).

    ``image`` (B,C,H,W); ``flow`` (B,2,H,W) in pixels, channel 0 = row (y), 1 = column (x).
    """
    b, c, h, w = image.shape
    gy, gx = torch.meshgrid(
        torch.arange(h, dtype=image.dtype, device=image.device),
        torch.arange(w, dtype=image.dtype, device=image.device),
        indexing="ij",
    )
    qy = gy.unsqueeze(0) - flow[:, 0]
    qx = gx.unsqueeze(0) - flow[:, 1]

    def split(q: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        fl = torch.clamp(torch.floor(q), 0, max(size - 2, 0))
        alpha = torch.clamp(q - fl, 0.0, 1.0)
        return fl.long(), alpha

    y0, ay = split(qy, h)
    x0, ax = split(qx, w)
    y1 = torch.clamp(y0 + 1, max=h - 1)
    x1 = torch.clamp(x0 + 1, max=w - 1)
    flat = image.reshape(b, c, h * w)

    def gather(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        idx = (yy * w + xx).reshape(b, 1, h * w).expand(b, c, h * w)
        return flat.gather(2, idx).reshape(b, c, h, w)

    ay = ay.unsqueeze(1)
    ax = ax.unsqueeze(1)
    top = gather(y0, x0) + ax * (gather(y0, x1) - gather(y0, x0))
    bot = gather(y1, x0) + ax * (gather(y1, x1) - gather(y1, x0))
    return top + ay * (bot - top)


def sparse_image_warp(
    image: torch.Tensor,
    source_control_point_locations: torch.Tensor,
    dest_control_point_locations: torch.Tensor,
    interpolation_order: int = 2,
    regularization_weight: float = 0.0,
    add_border_points: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Warp ``image`` (B,C,H,W) so that content at the source points (B,N,2) ``(y, x)``
    moves to the destination points. Returns ``(warped (B,C,H,W), flow (B,2,H,W))``.

    ``add_border_points`` pins the image border (8 fixed points, zero displacement).
    """
    b, _, h, w = image.shape
    src = source_control_point_locations.to(image.dtype)
    dst = dest_control_point_locations.to(image.dtype)
    if add_border_points:
        # the 4 corners and 4 edge midpoints, (x, y) → (y, x)
        bp = torch.from_numpy(border_points((h, w), per_side=3)[:, ::-1].copy()).to(image.device, image.dtype)
        bp = bp.unsqueeze(0).expand(b, -1, -1)
        src = torch.cat([src, bp], 1)
        dst = torch.cat([dst, bp], 1)
    gy, gx = torch.meshgrid(
        torch.arange(h, dtype=image.dtype, device=image.device),
        torch.arange(w, dtype=image.dtype, device=image.device),
        indexing="ij",
    )
    grid = torch.stack([gy, gx], -1).reshape(1, h * w, 2).expand(b, -1, -1)
    flow = interpolate_spline(dst, dst - src, grid, interpolation_order, regularization_weight)
    flow = flow.reshape(b, h, w, 2).permute(0, 3, 1, 2)
    return dense_image_warp(image, flow), flow


def tps_warp_xy(image: torch.Tensor, src_xy: torch.Tensor, dst_xy: torch.Tensor, add_border_points: bool = False) -> torch.Tensor:
    """:func:`sparse_image_warp` with ``(x, y)`` landmarks (B,N,2), e.g. ``A_lm_68 → tB_lm_68``."""
    out, _ = sparse_image_warp(image, src_xy[..., [1, 0]], dst_xy[..., [1, 0]], add_border_points=add_border_points)
    return out
