"""Thin-plate sparse image warp (Module2.models.tps)."""
from __future__ import annotations

import numpy as np
import torch

from Module2.models.tps import dense_image_warp, interpolate_spline, sparse_image_warp, tps_warp_xy


def _points(n: int = 12, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 4 + torch.rand(1, n, 2, generator=g) * (size - 8)


class TestSparseImageWarp:
    def test_identity(self):
        img = torch.rand(2, 3, 32, 32)
        pts = _points().expand(2, -1, -1)
        out, flow = sparse_image_warp(img, pts, pts)
        assert out.shape == img.shape and flow.shape == (2, 2, 32, 32)
        assert torch.allclose(flow, torch.zeros_like(flow), atol=1e-4)
        assert torch.allclose(out, img, atol=1e-4)

    def test_translation(self):
        img = torch.rand(1, 1, 32, 40)
        src = _points(size=32)
        dst = src + torch.tensor([2.0, 3.0])  # (dy, dx)
        out, flow = sparse_image_warp(img, src, dst)
        assert torch.allclose(flow[:, 0], torch.full((1, 32, 40), 2.0), atol=1e-3)
        assert torch.allclose(flow[:, 1], torch.full((1, 32, 40), 3.0), atol=1e-3)
        # output(p) = image(p - (2, 3)); the clamped border rows/cols are excluded
        assert torch.allclose(out[..., 2:, 3:], img[..., :-2, :-3], atol=1e-3)
        # the clamped top row repeats the image's first row
        assert torch.allclose(out[..., 0, 3:], img[..., 0, :-3], atol=1e-3)

    def test_control_points_interpolated(self):
        src = _points(8, 64, seed=3)
        dst = src + torch.randn(1, 8, 2, generator=torch.Generator().manual_seed(1)) * 3
        vals = interpolate_spline(dst, dst - src, dst)
        assert torch.allclose(vals, dst - src, atol=1e-3)

    def test_dot_moves_to_destination_xy(self):
        img = -torch.ones(1, 1, 64, 64)
        src_xy = torch.tensor([[[10.0, 12.0], [50.0, 14.0], [30.0, 30.0], [12.0, 50.0], [52.0, 52.0]]])
        dst_xy = src_xy.clone()
        dst_xy[0, 2] = torch.tensor([34.0, 27.0])  # centre point moves by (+4, -3) in (x, y)
        img[0, 0, 30, 30] = 1.0
        out = tps_warp_xy(img, src_xy, dst_xy)
        iy, ix = np.unravel_index(int(out[0, 0].argmax()), (64, 64))
        assert (ix, iy) == (34, 27)
        assert float(out[0, 0, 27, 34]) > 0.99

    def test_dense_warp_gradients_flow(self):
        img = torch.rand(1, 2, 8, 8, requires_grad=True)
        flow = torch.full((1, 2, 8, 8), 0.5)
        dense_image_warp(img, flow).sum().backward()
        assert img.grad is not None and float(img.grad.abs().sum()) > 0

    def test_border_points_pin_edges(self):
        img = torch.rand(1, 1, 32, 32)
        src = torch.tensor([[[16.0, 16.0], [10.0, 20.0], [20.0, 10.0]]])
        dst = src + torch.tensor([1.5, -1.0])
        _, flow = sparse_image_warp(img, src, dst, add_border_points=True)
        assert float(flow[0, :, 0, 0].abs().max()) < 1e-3
        assert float(flow[0, :, 31, 31].abs().max()) < 1e-3
