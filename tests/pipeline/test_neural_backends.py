"""The original README's command picks the neural back-ends when their files are in the released layout."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from common.media import probe

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _random_generator(path: Path, output_nc: int, ngf: int = 8) -> None:
    from Module2.models.networks import define_G

    torch.manual_seed(0)
    net = define_G(3, output_nc, ngf, "resnet_9blocks_rcatland32_full_ifw", "instance", False, "normal", 0.02, [],
                   div=3, disp=3)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)


def test_seed_command_renders_through_gan(tmp_path, example_photo, short_speech):
    ck = tmp_path / "ckpt"
    _random_generator(ck / "formal" / "drawing" / "70_net_G_A.pth", output_nc=1)
    proc = subprocess.run(
        [sys.executable, str(REPO / "main_end2end_module2.py"), "--jpg", str(example_photo), "--audio",
         str(short_speech), "--exp", "formal/drawing", "--checkpoints_dir", str(ck), "--size", "256", "--fps", "10",
         "--output_dir", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=tmp_path, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    # the renderer was not replaced, and the missing auxiliary files were named with their stand-ins
    assert "renderer: using 'classic'" not in proc.stderr
    assert "gan" in proc.stderr
    video = tmp_path / "out" / f"astronaut-{short_speech.stem}" / "output_drawing--ep70.mp4"
    info = probe(video)
    assert info.video_codec == "h264" and info.width == 256 and info.frames == 30


def test_makeittalk_selected_with_released_layout(tmp_path, reference_dir, example_photo, short_speech):
    """Random-weight Module1 checkpoints + the reference constants: auto picks makeittalk."""
    from Module1.config import Module1Config
    from Module1.predictors import resolve_predictor

    fixtures = reference_dir / "fixtures" / "module1"
    ck = tmp_path / "m1"
    ck.mkdir()
    shutil.copy(fixtures / "ckpt_content_branch.pth", ck / "ckpt_content_branch.pth")
    shutil.copy(fixtures / "ckpt_speaker_branch.pth", ck / "ckpt_speaker_branch.pth")
    from Module1.nets import autovc

    torch.manual_seed(0)
    torch.save({"model": autovc.Generator(16, 256, 512, 16).state_dict()}, ck / "ckpt_autovc.pth")
    for f in (reference_dir / "module1" / "data").iterdir():
        shutil.copy(f, ck / f.name)  # test-time copy into tmp only; never into the project
    cfg = Module1Config(load_AUTOVC_name=ck / "ckpt_autovc.pth", load_a2l_G_name=ck / "ckpt_speaker_branch.pth",
                        load_a2l_C_name=ck / "ckpt_content_branch.pth")
    assert resolve_predictor("auto", cfg) == ("makeittalk", None)
    proc = subprocess.run(
        [sys.executable, str(REPO / "main_end2end_module2.py"), "--jpg", str(example_photo), "--audio",
         str(short_speech), "--load_AUTOVC_name", str(ck / "ckpt_autovc.pth"), "--load_a2l_G_name",
         str(ck / "ckpt_speaker_branch.pth"), "--load_a2l_C_name", str(ck / "ckpt_content_branch.pth"),
         "--size", "256", "--output_dir", str(tmp_path / "out"), "--renderer", "classic"],
        capture_output=True, text=True, cwd=tmp_path, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    assert "landmarks: using 'procedural'" not in proc.stderr
    lm = sorted((tmp_path / "out" / f"astronaut-{short_speech.stem}" / "landmarks").glob("[0-9]*.txt"))
    assert len(lm) == 75  # 3 s at 25 fps
