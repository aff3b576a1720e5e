"""MobileFaceNet (geometry loss) and Sphere20a (identity loss): released layouts, forwards, loaders."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from common.errors import CheckpointError
from Module2.models.auxiliary.mobilefacenet import MobileFaceNet, load_mobilefacenet
from Module2.models.auxiliary.sphereface import Sphere20a, load_sphere20a


@pytest.fixture(scope="module")
def state_dicts(reference_dir: Path) -> dict:
    return json.loads((reference_dir / "module2" / "state_dicts.json").read_text())


@pytest.fixture(scope="module")
def sphere() -> Sphere20a:
    torch.manual_seed(0)
    return Sphere20a().eval()


def _layout(net: torch.nn.Module) -> list[tuple[str, tuple[int, ...], str]]:
    return [(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in net.state_dict().items()]


def _ref_layout(entry: dict) -> list[tuple[str, tuple[int, ...], str]]:
    return [(k, tuple(shape), dtype) for k, shape, dtype in entry["state_dict"]]


@pytest.mark.needs_reference
def test_mobilefacenet_layout(state_dicts):
    entry = state_dicts["MobileFaceNet_landmark136"]
    net = MobileFaceNet([112, 112], 136)
    assert _layout(net) == _ref_layout(entry)
    assert sum(p.numel() for p in net.parameters()) == entry["total_parameters"] == 1_007_248
    assert sum(v.numel() for v in net.state_dict().values()) == entry["total_state_dict_elements"]


@pytest.mark.needs_reference
def test_sphere20a_layout(state_dicts, sphere):
    entry = state_dicts["Sphere20a"]
    assert _layout(sphere) == _ref_layout(entry)
    assert sum(p.numel() for p in sphere.parameters()) == entry["total_parameters"] == 22_670_656


def test_mobilefacenet_forward_and_gradient():
    torch.manual_seed(0)
    net = MobileFaceNet(112, 136).eval()
    x = torch.rand(2, 3, 112, 112, requires_grad=True)
    out = net(x)
    assert out.shape == (2, 136) and torch.isfinite(out).all()
    out.square().sum().backward()  # the geometry loss differentiates through it into G
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert net.features(x).shape == (2, 512, 7, 7)
    with pytest.raises(ValueError):
        MobileFaceNet(128, 136)


def test_sphere20a_returns_four_stages_and_fc5(sphere):
    x = torch.rand(1, 3, 112, 96) * 2 - 1
    with torch.no_grad():
        feats = sphere(x)
    assert [tuple(f.shape) for f in feats] == [(1, 64, 56, 48), (1, 128, 28, 24), (1, 256, 14, 12), (1, 512, 7, 6), (1, 512)]
    # the 5th feature is the fc5 embedding of the 4th stage output
    assert torch.allclose(feats[4], F.linear(feats[3].flatten(1), sphere.fc5.weight, sphere.fc5.bias), atol=1e-5)
    # stage 1 = PReLU(conv1_1) plus one residual unit on conv1_2/conv1_3
    s = sphere
    with torch.no_grad():
        y = s.relu1_1(s.conv1_1(x))
        y = y + s.relu1_3(s.conv1_3(s.relu1_2(s.conv1_2(y))))
    assert torch.allclose(feats[0], y, atol=1e-6)


def test_load_mobilefacenet(tmp_path):
    torch.manual_seed(1)
    src = MobileFaceNet(112, 136)
    with torch.no_grad():  # non-default running stats so a skipped buffer would show
        for m in src.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    # the released .pth.tar: a dict with the weights under 'state_dict', saved from DataParallel
    path = tmp_path / "mobilefacenet_model_best.pth.tar"
    torch.save({"epoch": 3, "state_dict": {"module." + k: v for k, v in src.state_dict().items()}}, path)
    net = load_mobilefacenet(path, "cpu")
    assert not net.training
    for (k, a), b in zip(net.state_dict().items(), src.state_dict().values()):
        assert torch.equal(a, b), k
    with pytest.raises(CheckpointError, match="not found"):
        load_mobilefacenet(tmp_path / "absent.pth.tar")
    torch.save(src.state_dict(), tmp_path / "plain.pth")  # no 'state_dict' key
    with pytest.raises(CheckpointError, match="state_dict"):
        load_mobilefacenet(tmp_path / "plain.pth")
    bad = dict(src.state_dict())
    bad["output_layer.linear.weight"] = torch.zeros(10, 512)
    torch.save({"state_dict": bad}, tmp_path / "bad.pth.tar")
    with pytest.raises(CheckpointError, match="output_layer.linear.weight"):
        load_mobilefacenet(tmp_path / "bad.pth.tar")


def test_load_sphere20a_drops_classifier(tmp_path, sphere):
    state = dict(sphere.state_dict())
    state["fc6.weight"] = torch.zeros(512, 10574)  # the released file's A-Softmax classifier
    path = tmp_path / "sphere20a_20171020.pth"
    torch.save(state, path)
    net = load_sphere20a(path)
    assert not net.training
    assert torch.equal(net.fc5.weight, sphere.fc5.weight) and torch.equal(net.relu4_3.weight, sphere.relu4_3.weight)
    with pytest.raises(CheckpointError, match="not found"):
        load_sphere20a(tmp_path / "absent.pth")
    del state["conv2_3.bias"]
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="conv2_3.bias"):
        load_sphere20a(path)
