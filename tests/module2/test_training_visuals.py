"""The training models show the original's visuals, and refuse the option modes they do not implement."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from Module2.data import create_dataset
from Module2.models import create_model
from Module2.models.geomgm_ifw_fore_model import OptionError, landmark_overlay
from Module2.options.train_options import TrainOptions

REPO = Path(__file__).resolve().parents[2]

# The original's training visuals (drawing, the original's flags, every helper net present)
DRAWING_VISUALS = [
    "real_A", "real_A_fore", "realA_static_warp", "realA_static_warp2", "real_A_if_face", "real_A_if_mask",
    "real_A_lm", "target_B_lm", "fake_B", "fake_B_lm_68_vis", "fake_B_lm_68_vist", "target_B2_lm", "fake_B2",
    "fake_B2_lm_68_vis", "fake_B2_lm_68_vist", "real_B", "real_B_lm",
    "fake_B_fore", "fake_B2_fore", "mask", "mask1", "mask2", "liplinemask1", "liplinemask2",
    "fakeB_static_warp", "fakeB_static", "fake_B_warp", "real_B1_lm_68_vist", "real_B2_lm_68_vist", "real_B3", "real_B4",
    "fake_B_l", "fake_B2_l", "real_B_l", "fake_B_le", "fake_B2_le", "real_B_le", "fake_B_ll", "fake_B2_ll", "real_B_ll",
]
# the original README's drawing training flags
ORIGINAL_DRAWING_FLAGS = ("--dataroot drawing --model geomgm_ifw_fore --netg_resb_div 3 --netg_resb_disp 3 --output_nc 1 --lambda_geom 50 "
        "--lambda_geom_lipline 50 --more_weight_for_lip 2 --lambda_face 3.0 --lambda_warp_inter 10 --blendbg 1").split()


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from Module2.make_toy_data import make_toy_data

    root = tmp_path_factory.mktemp("toy")
    lists = make_toy_data(root, n=1, frames=2, clips=1, size=256, seed=3)
    ckpt = root / "ckpt"
    ckpt.mkdir()
    from Module2.models.auxiliary.mobilefacenet import MobileFaceNet

    torch.manual_seed(0)
    torch.save({"state_dict": MobileFaceNet([112, 112], 136).state_dict()}, ckpt / "mobilefacenet_model_best.pth.tar")
    return root, lists, ckpt


def _opt(toy, *extra):
    _, lists, ckpt = toy
    return TrainOptions().parse(ORIGINAL_DRAWING_FLAGS + ["--list_dir", str(lists), "--checkpoints_dir", str(ckpt), "--gpu_ids", "-1",
                                        "--ngf", "4", "--ndf", "4", "--num_threads", "0", "--identity_loss", "0", *extra],
                                save=False)


@pytest.mark.slow
def test_one_step_shows_every_visual(toy):
    torch.manual_seed(0)
    opt = _opt(toy)
    model = create_model(opt)
    model.setup(opt)
    batch = next(iter(create_dataset(opt)))
    model.set_input(batch)
    model.optimize_parameters()
    model.compute_visuals()
    vis = model.get_current_visuals()
    assert list(vis) == DRAWING_VISUALS  # identity loss off here: it adds no visual
    for name, t in vis.items():
        assert t.dim() == 4 and t.shape[0] == 1 and t.shape[-2:] == (256, 256), name
        assert t.shape[1] in (1, 3), name  # the local-D inputs are shown without their mask channel
        assert torch.isfinite(t).all() and t.min() >= -1.0001 and t.max() <= 1.0001, name
    # overlays: red squares at the target landmarks (vist) and at MobileFaceNet's landmarks (vis)
    red = (vis["fake_B_lm_68_vist"][0, 0] == 1) & (vis["fake_B_lm_68_vist"][0, 1] == -1)
    x, y = np.round(batch["tB_lm_68"][0, 30].numpy()).astype(int)
    assert red[y, x] and red.sum() > 68 * 10
    assert (vis["fake_B_lm_68_vis"] != vis["fake_B_lm_68_vist"]).any()
    # lip-line maps are the target's lip loops: white only around the mouth
    ys, xs = np.nonzero(vis["liplinemask1"][0, 0].numpy() > 0)
    lips = batch["tB_lm_68"][0, 48:68].numpy()
    assert xs.min() >= lips[:, 0].min() - 3 and xs.max() <= lips[:, 0].max() + 3
    # masks are {-1, 1}; the intrinsic-flow stand-in (zero flow, full mask) leaves the photo in place, up to
    # the half-pixel resampling of the flow warp's align_corners convention
    assert set(torch.unique(vis["mask"]).tolist()) <= {-1.0, 1.0}
    assert (vis["real_A_if_face"] - vis["real_A"])[..., 16:-16, 16:-16].abs().mean() < 0.05
    assert (vis["real_A_if_mask"] == 1).all()


@pytest.mark.parametrize("flag,value", [("identity_loss", "1"), ("warp_loss", "1"), ("blendbg", "2")])
def test_unimplemented_modes_are_refused(toy, flag, value):
    opt = _opt(toy, f"--{flag}", value)
    with pytest.raises(OptionError, match=f"--{flag} {value} is not implemented"):
        create_model(opt)


def test_unimplemented_mode_is_one_line_exit_2(toy):
    _, lists, ckpt = toy
    proc = subprocess.run([sys.executable, "train.py", *ORIGINAL_DRAWING_FLAGS, "--list_dir", str(lists), "--checkpoints_dir", str(ckpt),
                           "--gpu_ids", "-1", "--warp_loss", "1", "--display_id", "0"],
                          cwd=REPO / "Module2", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error")]
    assert errors == ["error: --warp_loss 1 is not implemented (mode 1 is the original's path-warp loss); use one of 0, 2"]
    assert "Traceback" not in proc.stderr


def test_landmark_overlay_marks_points():
    img = -torch.ones(1, 1, 32, 32)
    out = landmark_overlay(img, torch.tensor([[[10.0, 20.0]] * 68]))
    assert out.shape == (1, 3, 32, 32)
    assert out[0, :, 20, 10].tolist() == [1.0, -1.0, -1.0] and out[0, :, 0, 0].tolist() == [-1.0, -1.0, -1.0]
    assert int(((out[0, 0] == 1)).sum()) == 36  # one 6×6 square


@pytest.mark.slow
def test_cartoon_model_shows_its_visuals_in_colour(toy):
    _, lists, ckpt = toy
    opt = TrainOptions().parse(["--dataroot", "cartoon", "--model", "geomgm_ifw_cartoon_fore", "--dataset_mode", "umlvd_ifw_cartoon",
                                "--output_nc", "3", "--blendbg", "1", "--netg_resb_disp", "3", "--list_dir", str(lists),
                                "--checkpoints_dir", str(ckpt), "--gpu_ids", "-1", "--ngf", "4", "--ndf", "4",
                                "--num_threads", "0", "--identity_loss", "0"], save=False)
    torch.manual_seed(0)
    model = create_model(opt)
    model.setup(opt)
    model.set_input(next(iter(create_dataset(opt))))
    model.optimize_parameters()
    model.compute_visuals()
    vis = model.get_current_visuals()
    # no temporal discriminator and no lip-line loss for cartoons: no clip pair, no lip-line maps
    expected = [v for v in DRAWING_VISUALS if not v.startswith(("real_B1", "real_B2", "real_B3", "real_B4", "liplinemask"))]
    assert list(vis) == expected
    for name in ("fake_B", "fake_B_lm_68_vist", "fake_B_ll", "real_B_ll", "fakeB_static_warp", "fake_B_warp"):
        assert vis[name].shape == (1, 3, 256, 256), name
