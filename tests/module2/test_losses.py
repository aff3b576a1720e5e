"""Training losses (Module2.models.losses) and the image pool (Module2.util.image_pool)."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn as nn

from Module2.models.losses import (
    LIP_SEGMENTS,
    FaceLoss,
    GANLoss,
    crop_window,
    geometry_loss,
    landmarks_from_image,
    lipline_loss,
    lipline_map,
    masked_region,
    warp_loss,
)
from Module2.util.image_pool import ImagePool


class TestGANLoss:
    def test_lsgan_values(self):
        crit = GANLoss("lsgan")
        pred = torch.tensor([[[[0.0, 1.0], [2.0, -1.0]]]])
        # real: mean((p-1)^2) = (1 + 0 + 1 + 4)/4
        assert float(crit(pred, True)) == pytest.approx(1.5)
        # fake: mean(p^2) = (0 + 1 + 4 + 1)/4
        assert float(crit(pred, False)) == pytest.approx(1.5)
        assert float(crit(torch.ones(1, 1, 30, 30), True)) == 0.0
        assert float(crit(torch.zeros(1, 1, 30, 30), False)) == 0.0

    def test_vanilla_and_wgangp(self):
        pred = torch.zeros(1, 1, 2, 2)
        assert float(GANLoss("vanilla")(pred, True)) == pytest.approx(np.log(2.0), rel=1e-6)
        assert float(GANLoss("wgangp")(pred + 2, True)) == pytest.approx(-2.0)
        with pytest.raises(ValueError):
            GANLoss("hinge")


class TestMaskedRegion:
    def test_mask_type_3(self):
        img = torch.tensor([[[[-1.0, 0.0]]]])
        m = torch.tensor([[[[1.0, 0.0]]]])
        out = masked_region(img, m, 3)
        assert out.shape == (1, 2, 1, 2)
        assert out[0, 0].tolist() == [[-1.0, 1.0]]  # kept, outside white
        assert out[0, 1].tolist() == [[1.0, 0.0]]
        assert masked_region(img, m, 0)[0, 0].tolist() == [[-1.0, -1.0]]


class TestLipLine:
    def test_segments_are_the_lip_loops(self):
        assert len(LIP_SEGMENTS) == 20
        assert LIP_SEGMENTS[11] == (59, 48) and LIP_SEGMENTS[19] == (67, 60)

    def test_map_covers_lip_lines_only(self):
        lm = np.zeros((68, 2))
        lm[:48] = [5.0, 5.0]
        # outer lip: a horizontal line from x=100 to x=150 at y=120 (all points on it)
        lm[48:60, 0] = np.linspace(100, 150, 12)
        lm[48:60, 1] = 120
        lm[60:68, 0] = np.linspace(110, 140, 8)
        lm[60:68, 1] = 130
        m = lipline_map(lm, 256, 2)
        assert m.shape == (256, 256) and m.dtype == np.float32
        assert set(np.unique(m)) == {0.0, 1.0}
        assert m[120, 100:151].all() and m[130, 110:141].all()
        assert m[5, 5] == 0 and m[200, 200] == 0 and m[125, 125] == 0
        assert m[:, :95].sum() == 0  # nothing outside the lips (points 0-47 not drawn)

    def test_loss_zero_on_black_lines(self):
        mp = torch.zeros(1, 1, 8, 8)
        mp[0, 0, 3, 2:6] = 1
        fake = torch.ones(1, 1, 8, 8)
        fake[0, 0, 3, 2:6] = -1
        assert float(lipline_loss(fake, mp, 50.0)) == 0.0
        white = torch.ones(1, 1, 8, 8)
        assert float(lipline_loss(white, mp, 50.0)) == pytest.approx(50.0 * 2 * 4 / 64)


class TestGeometry:
    def test_weighted_lip_term(self):
        t = torch.zeros(1, 68, 2)
        p = torch.zeros(1, 68, 2)
        p[0, 48:68] = 25.6  # lip error 0.1 in /256 units
        # MSE over the 40 lip coords = 0.01; weight 2*50
        assert float(geometry_loss(p, t, 50.0, 2)) == pytest.approx(100 * 0.01, rel=1e-5)
        assert float(geometry_loss(p, t, 50.0, 0)) == pytest.approx(50 * 0.01 * 40 / 136, rel=1e-5)

    def test_landmarks_from_image_maps_back_and_has_grad(self):
        class Const(nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = nn.Linear(3 * 112 * 112, 136)
                nn.init.zeros_(self.lin.weight)
                nn.init.constant_(self.lin.bias, 0.5)

            def forward(self, x):
                assert x.shape[1:] == (3, 112, 112)
                return self.lin(x.flatten(1)), None

        img = torch.zeros(1, 1, 256, 256, requires_grad=True)
        win = torch.tensor([[38, 217, 51, 230]], dtype=torch.int32)
        lm = landmarks_from_image(Const(), img, win)
        assert lm.shape == (1, 68, 2)
        assert torch.allclose(lm[0, 0], torch.tensor([38 + 0.5 * 179, 51 + 0.5 * 179]))
        lm.sum().backward()
        assert img.grad is not None

    def test_gradient_through_real_mobilefacenet(self):
        from Module2.models.auxiliary.mobilefacenet import MobileFaceNet

        torch.manual_seed(0)
        net = MobileFaceNet(112, 136).eval()
        img = (torch.rand(1, 1, 256, 256) * 2 - 1).requires_grad_(True)
        win = torch.tensor([[38, 217, 51, 230]])
        lm = landmarks_from_image(net, img, win)
        loss = geometry_loss(lm, torch.full((1, 68, 2), 128.0), 50.0, 2)
        loss.backward()
        assert torch.isfinite(loss) and float(img.grad.abs().sum()) > 0
        assert float(img.grad[0, 0, :40].abs().sum()) == 0  # rows above the window get no gradient

    def test_crop_window_pads_white(self):
        img = -torch.ones(1, 10, 10)
        c = crop_window(img, [6, 12, -2, 4])
        assert c.shape == (1, 6, 6)
        assert float(c[0, 0, 0]) == 1.0 and float(c[0, 2, 0]) == -1.0 and float(c[0, 2, 5]) == 1.0


class TestFaceAndWarp:
    def test_face_loss_zero_for_same_crop(self):
        net = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten())
        fl = FaceLoss(net)
        a = torch.rand(1, 3, 64, 64) * 2 - 1
        bbox = torch.tensor([[8, 56, 8, 56]])
        assert float(fl(a, a.clone(), bbox, bbox)) == pytest.approx(0.0, abs=1e-7)
        assert float(fl(a, -a, bbox, bbox)) > 0
        assert all(not p.requires_grad for p in net.parameters())

    def test_warp_loss_detaches_reference(self):
        out = torch.zeros(1, 1, 4, 4, requires_grad=True)
        ref = torch.ones(1, 1, 4, 4, requires_grad=True)
        loss = warp_loss(out, ref, 5.0)
        assert float(loss.detach()) == pytest.approx(5.0)
        loss.backward()
        assert ref.grad is None and out.grad is not None


class TestImagePool:
    def test_fills_then_swaps(self):
        random.seed(0)
        pool = ImagePool(2)
        imgs = [torch.full((1, 1, 2, 2), float(i)) for i in range(40)]
        assert float(pool.query(imgs[0])[0, 0, 0, 0]) == 0.0
        assert float(pool.query(imgs[1])[0, 0, 0, 0]) == 1.0
        assert len(pool) == 2
        returned = [float(pool.query(imgs[i])[0, 0, 0, 0]) for i in range(2, 40)]
        old = [v for i, v in zip(range(2, 40), returned) if v != i]
        assert 5 < len(old) < 33  # about half come from history
        assert all(v <= i for i, v in zip(range(2, 40), returned))
        assert len(pool.images) == 2

    def test_zero_size_passthrough(self):
        x = torch.rand(2, 1, 2, 2)
        assert ImagePool(0).query(x) is x
