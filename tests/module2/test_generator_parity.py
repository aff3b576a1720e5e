"""Numerical parity of the generators with the original (fixtures in ../shared/reference/fixtures/module2)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from common.checkpoint import load_state_dict, safe_load
from common.errors import CheckpointError
from Module2.models.networks import define_G

G_NAME = "resnet_9blocks_rcatland32_full_ifw"
pytestmark = pytest.mark.needs_reference


@pytest.fixture(scope="module")
def fixtures(reference_dir: Path) -> Path:
    return reference_dir / "fixtures" / "module2"


def test_drawing_g_ngf16_reproduces_original(fixtures):
    g = define_G(3, 1, 16, G_NAME, "instance", False, "normal", 0.02, [], div=3, disp=3)
    load_state_dict(fixtures / "g_drawing_ngf16" / "ngf16_net_G_A.pth", g)  # strict
    io = safe_load(fixtures / "g_drawing_ngf16" / "io.pt")
    assert io["arg_order"] == ["input", "land1", "land2", "motion", "flow", "ifmask"]
    g.eval()
    with torch.no_grad():
        out = g(*[io["inputs"][k] for k in io["arg_order"]])
    diff = (out - io["output"]).abs().max().item()
    print(f"ngf16 G parity max-abs-diff {diff:.3e}")
    assert out.shape == io["output"].shape == (1, 1, 256, 256)
    assert diff < 1e-5


def test_ngf16_file_does_not_fit_ngf64(fixtures):
    with pytest.raises(CheckpointError) as e:
        load_state_dict(fixtures / "g_drawing_ngf16" / "ngf16_net_G_A.pth", define_G(3, 1, 64, G_NAME))
    assert "model_tri_merge.weight" in str(e.value)


def test_static_drawing_g_ngf4_reproduces_fakeB_static(fixtures):
    s = define_G(3, 1, 4, "resnet_style2_9blocks")
    load_state_dict(fixtures / "pipeline_drawing" / "static_drawing_ngf4.pth", s)  # strict
    assert sum(p.numel() for p in s.parameters()) == 48_217
    p = safe_load(fixtures / "pipeline_drawing" / "pipeline.pt")
    A = (p["A_uint8_CHW_RGB"].float()[None] / 255 - 0.5) / 0.5
    s.eval()
    with torch.no_grad():  # the original's static stylisation: G at 512, style [0, 1, 0]
        a512 = F.interpolate(A, size=(512, 512), mode="bilinear", align_corners=False)
        style = torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1).expand(1, 3, 128, 128)
        out = F.interpolate(s(a512, style), size=(256, 256), mode="bilinear", align_corners=False)
        # the style may also be given as a (B,3) vector, broadcast to the feature map
        small = a512[:, :, :64, :64]
        same = torch.equal(s(small, torch.tensor([[0.0, 1.0, 0.0]])), s(small, style[:, :, :16, :16]))
    diff = (out - p["fakeB_static"]).abs().max().item()
    print(f"static drawing G ngf4 parity max-abs-diff {diff:.3e}")
    assert diff < 1e-5
    assert same


def test_cartoon_g_ngf64_forward_shape_and_range():
    torch.manual_seed(0)
    g = define_G(3, 3, 64, G_NAME).eval()
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    land = (torch.rand(1, 1, 256, 256) > 0.98).float() * 2 - 1
    lin = torch.linspace(-1, 1, 256)
    gy, gx = torch.meshgrid(lin, lin, indexing="ij")
    motion = torch.stack([gx, gy], -1)[None]
    flow = torch.randn(1, 2, 256, 256)
    ifmask = torch.rand(1, 1, 256, 256)
    with torch.no_grad():
        out = g(x, land, land, motion, flow, ifmask)
    assert out.shape == (1, 3, 256, 256)
    assert float(out.min()) >= -1 and float(out.max()) <= 1
    assert float(out.std()) > 0
