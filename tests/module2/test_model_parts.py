"""What the training and test models share: stand-ins, the flow fallback, blend/whiten."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from Module2.models.model_parts import (
    blend,
    flow_fn,
    intrinsic_flow,
    matting_stand_in,
    static_stand_in,
    uint8_rgb,
    whiten,
)
from tests.module2.test_stylize import synthetic_portrait


def test_blend_and_whiten_in_minus_one_one():
    fore, back = torch.full((1, 1, 2, 2), -1.0), torch.full((1, 1, 2, 2), 0.5)
    mask = torch.tensor([[[[1.0, 0.0], [0.5, 0.25]]]])
    out = blend(fore, back, mask)
    assert out[0, 0, 0, 0] == -1.0 and out[0, 0, 0, 1] == 0.5
    assert out[0, 0, 1, 0].item() == pytest.approx(-0.25)  # half of 0 and 0.75 in [0, 1]
    w = whiten(fore, mask)
    assert w[0, 0, 0, 0] == -1.0 and w[0, 0, 0, 1] == 1.0  # white outside the matte


def test_intrinsic_flow_fallback_and_net():
    src = torch.rand(3, 68, 2) * 200 + 20
    flow, mask = intrinsic_flow(None, src, src + 1, size=64)
    assert flow.shape == (3, 2, 64, 64) and not flow.any() and mask.shape == (3, 1, 64, 64) and bool((mask == 1).all())

    class Fake(torch.nn.Module):  # a flow net's outputs: raw flow (B,2,224,224), visibility logits (B,3,224,224)
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

        def forward(self, x):
            assert x.dtype == torch.float64 and x.shape[1:] == (136, 224, 224)  # moved to the net's dtype
            b = x.shape[0]
            vis = torch.zeros(b, 3, 224, 224, dtype=x.dtype)
            vis[:, 0] = 5.0  # every pixel visible
            return torch.zeros(b, 2, 224, 224, dtype=x.dtype) + self.w, vis

    flow, mask = intrinsic_flow(flow_fn(Fake()), src, src + 1, size=64)
    assert flow.shape == (3, 2, 64, 64) and mask.shape == (3, 1, 64, 64) and flow.device == src.device


def test_weight_free_stand_ins_on_a_portrait():
    photo, lm = synthetic_portrait()
    A = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 127.5 - 1
    back = uint8_rgb(A)[0].astype(int)
    assert back.shape == photo.shape and np.abs(back - photo).max() <= 1  # truncating, like tensor2im
    A2 = torch.cat([A, A])
    matte = matting_stand_in(A2, lm)
    assert matte.shape == (2, 1, 512, 512) and 0 <= float(matte.min()) and float(matte.max()) <= 1
    assert float(matte[0, 0, 300, 256]) > 0.5 and float(matte[0, 0, 5, 5]) < 0.5  # face in, corner out
    for style, channels in (("drawing", 1), ("cartoon", 3)):
        static, name = static_stand_in(style)
        out = static(A, lm)
        assert out.shape == (1, channels, 512, 512) and name.startswith("stylize.")
        assert -1 <= float(out.min()) and float(out.max()) <= 1
