"""Module1 training as MakeItTalk trains: geometry of the data, losses, the trainers' artefacts, resume,
and (slow) the whole path from the project's own generated videos to ``--predictor makeittalk``."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from common import InputError, UserError
from common.checkpoint import read_checkpoint
from Module1 import train_content, train_speaker
from Module1.config import Module1Config
from Module1.constants import load_constants
from Module1.data import read_dataset, windows, write_clip, write_index
from Module1.predictors.makeittalk import MakeItTalkPredictor
from Module1.registration import (
    T_SHAPE,
    anchor_t_shape,
    kabsch,
    mouth_fan_area,
    normalize_frames,
    register_frames,
    resample_to_fps,
)
from Module1.train_common import closed_lip_index, laplacian, laplacian_l1, lip_weighted_l1, motion_l1


@pytest.fixture(scope="module")
def consts(reference_dir):
    return load_constants(reference_dir / "module1" / "data")


# ---- data geometry -------------------------------------------------------------------------------
def test_normalize_frames_puts_the_eye_corners_at_half(consts):
    face = consts.std_face * 80 + np.array([200.0, 150.0, 3.0])
    out = normalize_frames(face[None])[0]
    np.testing.assert_allclose(out[36], consts.std_face[36], atol=1e-12)
    np.testing.assert_allclose(out, consts.std_face, atol=1e-12)  # the STD face is in this frame


def test_resample_to_62_5_fps_grid():
    x = np.arange(10, dtype=float)[:, None]  # value = source frame index at 25 fps
    out = resample_to_fps(x, 25.0)
    assert out.shape == (25, 1)  # ceil(10 / 0.4)
    np.testing.assert_allclose(out[:4, 0], [0, 0.4, 0.8, 1.2])
    assert out[-1, 0] == 9.0  # 9.6 holds the last source frame


def test_registration_undoes_a_rigid_motion(consts, reference_dir):
    anchor = anchor_t_shape(np.loadtxt(reference_dir / "module1" / "data" / "ANCHOR_T_SHAPE_9.txt"))
    assert abs(anchor[5, 0] - anchor[8, 0]) == pytest.approx(1.0)
    np.testing.assert_allclose(anchor[[4, 5, 8]].mean(0), 0, atol=1e-12)
    rot = Rotation.from_euler("xyz", [0.1, -0.2, 0.3]).as_matrix()
    face = consts.std_face.copy()
    face[T_SHAPE] = anchor  # a face whose T-shape is exactly the anchor
    moved = face @ rot.T + np.array([0.3, -0.1, 0.05])
    reg, rt, quat = register_frames(moved[None], anchor)
    np.testing.assert_allclose(reg[0], face, atol=1e-9)
    np.testing.assert_allclose(rt[0, :, :3], rot.T, atol=1e-9)
    np.testing.assert_allclose(Rotation.from_quat(quat[0]).as_matrix(), rot.T, atol=1e-9)
    r, _ = kabsch(face[T_SHAPE], face[T_SHAPE] * np.array([1, 1, -1]))  # a mirror image: still a rotation
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_closed_lip_index_uses_the_unsigned_fan_area():
    fls = np.zeros((3, 68, 3))
    for i, h in enumerate([0.3, 0.05, 0.2]):  # inner-lip octagon of height 2h
        fls[i, 60:68, :2] = [[0, 0], [1, -h], [2, -h], [3, 0], [2, h], [1, h], [0, h], [-1, h]]
    assert closed_lip_index(fls.reshape(3, 204)) == 1
    flipped = fls[0].copy()
    flipped[60:68, 1] *= -1  # clockwise: the unsigned area is the same
    assert mouth_fan_area(flipped) == pytest.approx(mouth_fan_area(fls[0]))


# ---- losses ----------------------------------------------------------------------------------------
def test_laplacian_of_a_straight_contour_is_zero():
    v = torch.zeros(1, 68, 3)
    v[0, :17, 0] = torch.arange(17.0)  # jaw on a line, evenly spaced
    lap = laplacian(v)
    assert torch.allclose(lap[0, 1:16], torch.zeros(15, 3))
    assert lap[0, 0, 0] == pytest.approx(-1.0)  # the open end averages its single neighbour twice


def test_lip_weighted_l1_by_hand():
    target = torch.zeros(2, 204)
    target[0, 66 * 3 + 1] = 0.25  # mouth open 0.25 → lip weight 1/(1 + 0.1); row 1 closed → 10
    pred = torch.zeros(2, 204)
    pred[:, 0] = 1.0  # jaw error: weight 1
    pred[:, 50 * 3] = 1.0  # lip error: weighted
    # row 0: jaw 1, lip 1/1.1 and the open target's own 0.25 at point 66 (also a lip column); row 1: 1 + 10
    expected = (1 + 1 / 1.1 + 0.25 / 1.1 + 1 + 10) / (2 * 204)
    assert float(lip_weighted_l1(pred, target)) == pytest.approx(expected, rel=1e-6)
    assert float(lip_weighted_l1(pred, target, use_lip_weight=False)) == pytest.approx(4.25 / 408, rel=1e-6)


def test_laplacian_and_motion_terms():
    g = torch.randn(5, 204)
    assert float(laplacian_l1(g + 0.3, g)) == pytest.approx(0.0, abs=1e-6)  # a shift has no Laplacian
    assert float(motion_l1(g + 0.3, g)) == pytest.approx(0.0, abs=1e-6)  # nor any motion
    assert float(motion_l1(g * 2, g)) > 0


# ---- trainers on a small synthetic dataset -----------------------------------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory, consts):
    """Three 60-frame clips whose lower lip follows the audio feature."""
    rng = np.random.RandomState(0)
    out = tmp_path_factory.mktemp("a2l_data")
    anchor = anchor_t_shape(consts.anchor_t_shape)
    entries, aus = [], []
    for k in range(3):
        t = 60
        au = rng.rand(t, 80).astype(np.float32)
        fls = np.repeat(consts.std_face[None], t, axis=0)
        opening = 0.2 * au[:, :10].mean(1)
        fls[:, 57:60, 1] += opening[:, None]
        fls[:, 65:68, 1] += opening[:, None]
        reg, rt, quat = register_frames(fls, anchor)
        entries.append(write_clip(out, f"clip{k}", fls=fls.reshape(t, 204), reg_fls=reg.reshape(t, 204),
                                  rot_trans=rt, rot_quat=quat, au=au, emb=rng.randn(256) * 0.1))
        aus.append(au)
    frames = np.concatenate(aus).astype(np.float64)
    write_index(out, entries, "mel", None, np.concatenate([frames.mean(0), frames.std(0)]), consts.std_face, anchor)
    return out


def test_dataset_round_trip(dataset):
    ds = read_dataset(dataset)
    assert ds.feature == "mel" and len(ds.clips) == 3 and ds.mean_std.shape == (160,)
    c = ds.clips[0]
    assert c.fls.shape == (60, 204) and c.rot_trans.shape == (60, 3, 4) and c.emb.shape == (256,)
    assert windows(c.fls).shape == (42, 18, 204)


def test_dataset_errors(tmp_path):
    with pytest.raises(InputError, match="index.json"):
        read_dataset(tmp_path)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, dataset):
    root = tmp_path_factory.mktemp("runs")
    common = ["--dataset", str(dataset), "--root_dir", str(root), "--train", "--write", "--verbose", "3"]
    hist_c = train_content.main([*common, "--name", "c", "--nepoch", "3"])
    hist_s = train_speaker.main([*common, "--name", "s", "--nepoch", "2", "--ckpt_epoch_freq", "1"])
    return root, hist_c, hist_s


@pytest.mark.slow
def test_content_training_artefacts(runs, dataset):
    root, hist, _ = runs
    d = root / "ckpt" / "c"
    assert sorted(p.name for p in d.iterdir()) == ["ckpt_e_0.pth", "ckpt_e_1.pth", "ckpt_e_2.pth",
                                                  "ckpt_last_epoch.pth"]
    ck = read_checkpoint(d / "ckpt_last_epoch.pth")
    assert ck["epoch"] == 2 and set(ck["model_g_face_id"]) >= {"fc_prior.0.weight", "bilstm.weight_ih_l0"}
    assert ck["feature"] == "mel"
    np.testing.assert_allclose(ck["au_mean_std"].numpy(), read_dataset(dataset).mean_std)
    assert len(hist["train"]) == 3 and hist["train"][-1] < hist["train"][0]


@pytest.mark.slow
def test_speaker_training_artefacts_and_resume(runs, dataset):
    root, _, hist = runs
    d = root / "ckpt" / "s"
    ck = read_checkpoint(d / "ckpt_last_epoch.pth")
    assert ck["epoch"] == 1 and "pos_head" in ck and not any(k.startswith("pos") for k in ck["G"])
    assert hist["train"][-1] < hist["train"][0]
    more = train_speaker.main(["--dataset", str(dataset), "--root_dir", str(root), "--train", "--write",
                               "--verbose", "3", "--name", "s", "--nepoch", "3", "--resume"])
    assert more["train"][:2] == pytest.approx(hist["train"]) and len(more["train"]) == 3
    assert read_checkpoint(d / "ckpt_last_epoch.pth")["epoch"] == 2
    assert not (d / "ckpt_e_2.pth").exists()  # the speaker trainer's default period is 25 epochs


def test_without_train_one_evaluation_pass(runs, dataset, tmp_path):
    hist = train_content.main(["--dataset", str(dataset), "--root_dir", str(tmp_path), "--verbose", "3"])
    assert hist["train"] == [] and len(hist["eval"]) == 1
    assert not (tmp_path / "ckpt").exists()  # nothing is written without --write


def test_discriminator_options_refused(dataset, tmp_path):
    with pytest.raises(UserError, match="commented-out"):
        train_speaker.main(["--dataset", str(dataset), "--root_dir", str(tmp_path), "--train_DL", "1"])


@pytest.mark.slow
def test_trained_checkpoints_drive_the_predictor(runs, consts, tmp_path, reference_dir):
    root, _, _ = runs
    cfg = Module1Config(load_AUTOVC_name=tmp_path / "absent.pth",
                        load_a2l_C_name=root / "ckpt" / "c" / "ckpt_last_epoch.pth",
                        load_a2l_G_name=root / "ckpt" / "s" / "ckpt_last_epoch.pth",
                        module1_constants=tmp_path, feature="mel", quiet=True)  # no original file needed
    assert MakeItTalkPredictor.unavailable_reason(cfg) is None
    from common import Audio

    t = np.arange(16000) / 16000
    audio = Audio((0.2 * np.sin(2 * np.pi * 160 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32), 16000)
    pts = (consts.std_face[:, :2] * 100 + 256).astype(np.float32)
    seq = MakeItTalkPredictor(cfg).predict(audio, pts, 25.0)
    assert len(seq) == 25 and np.all(np.isfinite(seq.points))
    # branches trained on mel refuse AutoVC features
    with pytest.raises(UserError, match="--feature mel"):
        MakeItTalkPredictor(dataclasses.replace(cfg, feature="autovc", load_AUTOVC_name=cfg.load_a2l_C_name,
                                                module1_constants=reference_dir / "module1" / "data"))


def test_help_names_the_original_options():
    text = train_speaker.build_parser().format_help() + train_content.build_parser().format_help()
    for flag in ("--lambda_laplacian_smooth_loss", "--reg_lr", "--resume", "--dataset", "--emb_coef", "--pos_dim",
                 "--use_lip_weight", "--use_motion_loss", "--ckpt_epoch_freq", "--write", "--root_dir", "--name"):
        assert flag in text


# ---- the whole path, on clips the project makes itself ---------------------------------------------
def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


@pytest.mark.slow
def test_generated_videos_train_branches_that_drive_the_main_command(tmp_path, repo_root, reference_dir):
    from common.media import ffmpeg_exe, probe

    speech = tmp_path / "speech.wav"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(repo_root / "examples" / "speech.wav"),
                    "-t", "2.2", str(speech)], check=True)
    vids = tmp_path / "videos"
    vids.mkdir()
    for photo in ("hermione2.jpeg", "astronaut.jpg"):
        out = tmp_path / "gen"
        _run(["main_end2end_module2.py", "--jpg", str(repo_root / "examples" / photo), "--audio", str(speech),
              "--output_dir", str(out), "--predictor", "procedural", "-q"], repo_root)
        mp4 = next(out.glob(f"{Path(photo).stem}-speech/output_*.mp4"))
        mp4.rename(vids / f"{Path(photo).stem}.mp4")
    data = tmp_path / "data"
    proc = _run(["-m", "Module1.prepare", "--video_dir", str(vids), "--out", str(data), "--feature", "mel",
                 "--quiet"], repo_root)
    assert "--feature mel at inference" in proc.stdout
    ds = read_dataset(data)
    assert len(ds.clips) == 2 and ds.feature == "mel"
    c = ds.clips[0]
    assert abs(c.fls.shape[0] - (2.2 * 62.5)) <= 2  # 62.5 fps, as long as the audio feature
    np.testing.assert_allclose(c.fls.reshape(-1, 68, 3)[:, 45, 0] - c.fls.reshape(-1, 68, 3)[:, 36, 0], 1.0,
                               atol=1e-5)
    root = tmp_path / "runs"
    for mod, name in (("Module1.train_content", "c"), ("Module1.train_speaker", "s")):
        _run(["-m", mod, "--dataset", str(data), "--root_dir", str(root), "--name", name, "--train", "--write",
              "--nepoch", "2", "--verbose", "2"], repo_root)
    out = tmp_path / "out"
    _run(["main_end2end_module2.py", "--jpg", str(repo_root / "examples" / "hermione2.jpeg"), "--audio",
          str(speech), "--output_dir", str(out), "--predictor", "makeittalk", "--feature", "mel",
          "--load_a2l_C_name", str(root / "ckpt" / "c" / "ckpt_last_epoch.pth"),
          "--load_a2l_G_name", str(root / "ckpt" / "s" / "ckpt_last_epoch.pth"), "-q"], repo_root)
    video = next(out.glob("*/output_*.mp4"))
    info = probe(video)
    assert info.frames == round(2.2 * 25)
    config = next(out.glob("*/config_*.json")).read_text()
    assert '"predictor": "makeittalk"' in config

    # the AutoVC path of prepare: content codes from an AutoVC checkpoint (random weights here)
    from common.checkpoint import save_atomic
    from Module1.nets import Generator

    torch.manual_seed(0)
    save_atomic({"model": Generator().state_dict()}, tmp_path / "autovc.pth")
    data2 = tmp_path / "data_autovc"
    _run(["-m", "Module1.prepare", str(vids / "hermione2.mp4"), "--out", str(data2), "--load_AUTOVC_name",
          str(tmp_path / "autovc.pth"), "--module1_constants", str(reference_dir / "module1" / "data"), "--quiet"],
         repo_root)
    ds2 = read_dataset(data2)
    assert ds2.feature == "autovc" and ds2.f0_setting == "M"
    assert not np.allclose(ds2.clips[0].au, c.au if c.au.shape == ds2.clips[0].au.shape else 0)
