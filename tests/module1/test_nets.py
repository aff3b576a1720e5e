"""Module1 networks: keys/shapes of the released layout and numerical parity with the original classes."""
from __future__ import annotations

import json

import pytest
import torch

from common import CheckpointError
from common.checkpoint import load_state_dict, safe_load, save_atomic
from Module1.nets import SPEAKER_DROP_PREFIXES, Audio2landmarkContent, Audio2landmarkPos, Generator
from Module1.nets.speaker_branch import positional_table


@pytest.fixture(scope="module")
def state_dicts(reference_dir):
    return json.loads((reference_dir / "module1" / "state_dicts.json").read_text())


def _ref_entry(state_dicts, prefix):
    (entry,) = [v for k, v in state_dicts.items() if k.startswith(prefix)]
    return entry


@pytest.mark.parametrize(
    "prefix, make",
    [
        ("autovc_Generator", lambda: Generator(16, 256, 512, 16)),
        ("Audio2landmark_content", lambda: Audio2landmarkContent()),
        ("Audio2landmark_pos", lambda: Audio2landmarkPos()),
    ],
)
def test_keys_shapes_and_parameter_count(state_dicts, prefix, make):
    ref = _ref_entry(state_dicts, prefix)
    net = make()
    mine = [(k, list(v.shape), str(v.dtype)) for k, v in net.state_dict().items()]
    assert mine == [(k, list(s), d) for k, s, d in ref["state_dict"]]
    assert sum(p.numel() for p in net.parameters()) == ref["params"]


@pytest.fixture(scope="module")
def io(reference_dir):
    return safe_load(reference_dir / "fixtures" / "module1" / "io.pt")


def test_content_branch_parity(reference_dir, io):
    net = load_state_dict(reference_dir / "fixtures/module1/ckpt_content_branch.pth", Audio2landmarkContent(),
                          key="model_g_face_id").eval()
    with torch.no_grad():
        out, face = net(**io["content"]["args"])
    assert out.shape == (8, 204) and face.shape == (8, 204)
    torch.testing.assert_close(out, io["content"]["output"], atol=1e-5, rtol=0)


def test_speaker_branch_parity(reference_dir, io):
    net = load_state_dict(reference_dir / "fixtures/module1/ckpt_speaker_branch.pth", Audio2landmarkPos(),
                          key="G", drop_prefixes=SPEAKER_DROP_PREFIXES).eval()
    args = io["speaker"]["args"]
    with torch.no_grad():
        out, face0, spk = net(**args)
    torch.testing.assert_close(out, io["speaker"]["output"], atol=1e-5, rtol=0)
    torch.testing.assert_close(spk, io["speaker"]["spk_encode"], atol=1e-5, rtol=0)
    torch.testing.assert_close(face0, args["face_id"][0:1])


def test_windows_form_one_sequence(reference_dir, io):
    """The B windows are one transformer sequence: running them one by one gives other values."""
    net = load_state_dict(reference_dir / "fixtures/module1/ckpt_speaker_branch.pth", Audio2landmarkPos(),
                          key="G", drop_prefixes=SPEAKER_DROP_PREFIXES).eval()
    a = io["speaker"]["args"]
    with torch.no_grad():
        single = net(a["au"][:1], a["emb"][:1], a["face_id"][:1], a["fls"][:1], a["z"][:1])[0]
    assert not torch.allclose(single[0], io["speaker"]["output"][0], atol=1e-4)


def test_positional_table_matches_released_buffer(reference_dir):
    sd = safe_load(reference_dir / "fixtures/module1/ckpt_speaker_branch.pth")["G"]
    torch.testing.assert_close(positional_table(64), sd["encoder.pe.pe"], atol=1e-6, rtol=0)


def test_speaker_checkpoint_comb_mlp_is_dropped_only_when_allowed(tmp_path):
    net = Audio2landmarkPos()
    sd = dict(net.state_dict())
    sd["comb_mlp.0.weight"] = torch.zeros(3, 3)
    save_atomic({"G": sd}, tmp_path / "g.pth")
    load_state_dict(tmp_path / "g.pth", Audio2landmarkPos(), key="G", drop_prefixes=SPEAKER_DROP_PREFIXES)
    with pytest.raises(CheckpointError, match="comb_mlp"):
        load_state_dict(tmp_path / "g.pth", Audio2landmarkPos(), key="G")


def test_autovc_forward_short_input():
    torch.manual_seed(0)
    g = Generator(16, 256, 512, 16).eval()
    x = torch.randn(1, 48, 80)
    f0 = torch.zeros(1, 48, 257)
    f0[0, :, 0] = 1
    with torch.no_grad():
        mel, post, codes = g(x, torch.randn(1, 256), f0, torch.randn(1, 256), f0)
    assert mel.shape == (1, 48, 80) and post.shape == (1, 48, 80)
    assert codes.shape == (1, 32 * 3)  # one 2·dim_neck code per 16 frames
    assert torch.isfinite(post).all() and not torch.allclose(post, mel)
