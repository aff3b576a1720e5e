"""The neural renderer 'gan' on random-weight checkpoints in the released layout."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from common import LandmarkSequence, read_landmark_file
from common.checkpoint import safe_load
from common.errors import CheckpointError
from Module2.config import RenderConfig
from Module2.models.networks import define_G
from Module2.renderers import RENDERERS, resolve_renderer

NETG = "resnet_9blocks_rcatland32_full_ifw"


def _write_generator(ck_dir, exp, output_nc, ngf=8, epoch="70"):
    torch.manual_seed(0)
    net = define_G(3, output_nc, ngf, NETG, "instance", False, "normal", 0.02, [], div=3, disp=3)
    path = ck_dir / exp / f"{epoch}_net_G_A.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.cpu() for k, v in net.state_dict().items()}, path)
    return path


@pytest.fixture(scope="module")
def face(reference_dir):
    root = reference_dir / "fixtures" / "module2" / "pipeline_drawing"
    pipe = safe_load(root / "pipeline.pt")
    photo256 = pipe["A_uint8_CHW_RGB"].permute(1, 2, 0).numpy()
    photo = np.repeat(np.repeat(photo256, 2, 0), 2, 1)  # 512² like the aligned photo
    src = read_landmark_file(root / "Data_Alm_txt" / "ori.txt")
    dst = read_landmark_file(root / "Data_Alm_txt" / "00000.txt")
    return photo, src, dst


def test_registered_and_unavailable_without_checkpoint(tmp_path):
    assert "gan" in RENDERERS
    cfg = RenderConfig(checkpoints_dir=tmp_path)
    reason = RENDERERS.get("gan").unavailable_reason(cfg)
    assert reason is not None and "70_net_G_A.pth" in reason
    name, notice = resolve_renderer("auto", cfg)
    assert name != "gan" and notice


@pytest.mark.parametrize("style,size,channels", [("drawing", 512, 1), ("cartoon", 256, 3)])
def test_renders_frames(tmp_path, face, style, size, channels):
    photo, src, dst = face
    _write_generator(tmp_path, f"formal/{style}", channels, ngf=8)
    cfg = RenderConfig(style=style, size=size, exp=f"formal/{style}", checkpoints_dir=tmp_path, batch_size=2, quiet=True)
    assert RENDERERS.get("gan").unavailable_reason(cfg) is None
    assert resolve_renderer("auto", cfg) == ("gan", None)
    r = RENDERERS.get("gan")(cfg)
    r.prepare(photo, src)
    seq = LandmarkSequence(np.stack([src, dst, dst + 1.5]), 62.5, src)
    frames = list(r.render(seq))
    assert len(frames) == 3
    shape = (size, size) if channels == 1 else (size, size, 3)
    assert all(f.shape == shape and f.dtype == np.uint8 for f in frames)
    assert r.model.netG_A.model_tri10[1].weight.shape[0] == 8  # ngf came from the file
    assert not np.array_equal(frames[0], frames[2])  # target geometry changes the frame


def test_wrong_output_channels_is_a_checkpoint_error(tmp_path, face):
    photo, src, _ = face
    _write_generator(tmp_path, "formal/drawing", 3, ngf=8)
    cfg = RenderConfig(style="drawing", checkpoints_dir=tmp_path, quiet=True)
    with pytest.raises(CheckpointError, match="output channel"):
        RENDERERS.get("gan")(cfg).prepare(photo, src)


def test_not_a_generator_file(tmp_path, face):
    photo, src, _ = face
    p = tmp_path / "formal" / "drawing" / "70_net_G_A.pth"
    p.parent.mkdir(parents=True)
    torch.save({"w": torch.zeros(1)}, p)
    with pytest.raises(CheckpointError, match=NETG):
        RENDERERS.get("gan")(RenderConfig(checkpoints_dir=tmp_path, quiet=True)).prepare(photo, src)
