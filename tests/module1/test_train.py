"""CPU smoke training of both branches on a tiny synthetic dataset; the checkpoints load into the predictor."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from common import Audio, InputError
from common.checkpoint import read_checkpoint, save_atomic
from Module1 import train_content, train_speaker
from Module1.config import Module1Config
from Module1.constants import load_constants
from Module1.data import read_dataset, windows, write_clip, write_index
from Module1.nets import Generator
from Module1.predictors.makeittalk import MakeItTalkPredictor
from Module1.train_common import closed_lip_index, laplacian


@pytest.fixture(scope="module")
def consts_dir(reference_dir):
    return reference_dir / "module1" / "data"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, consts_dir):
    """Two 30-frame clips whose lower lip follows the (standardised) audio feature."""
    c = load_constants(consts_dir)
    rng = np.random.RandomState(0)
    out = tmp_path_factory.mktemp("a2l_data")
    entries = []
    for k in range(2):
        T = 30
        z = rng.randn(T, 80)
        au = c.mel_mean + c.mel_std * z
        base = c.std_face.copy()
        base[:, 2] *= 0.1
        fls = np.repeat(base.reshape(1, 204), T, axis=0)
        opening = 0.1 * np.tanh(z[:, :10].mean(1))
        fls[:, 57 * 3 + 1] += opening
        fls[:, 66 * 3 + 1] += opening
        entries.append(write_clip(out, f"clip{k}", fls, au, rng.randn(256) * 0.1))
    write_index(out, entries, "mel")
    return out


def test_dataset_round_trip(dataset):
    clips, feature = read_dataset(dataset)
    assert feature == "mel" and len(clips) == 2
    assert clips[0].fls.shape == (30, 204) and clips[0].au.shape == (30, 80) and clips[0].emb.shape == (256,)
    assert windows(clips[0].fls).shape == (12, 18, 204)


def test_dataset_errors(tmp_path):
    with pytest.raises(InputError, match="index.json"):
        read_dataset(tmp_path)


def test_laplacian_of_a_straight_contour_is_zero():
    v = torch.zeros(1, 68, 3)
    v[0, :17, 0] = torch.arange(17.0)  # jaw on a line, evenly spaced
    lap = laplacian(v)
    assert torch.allclose(lap[0, 1:16], torch.zeros(15, 3))
    assert lap[0, 0, 0] == pytest.approx(-1.0)  # the open end averages itself with its single neighbour


def test_closed_lip_index():
    fls = np.zeros((3, 68, 3))
    for i, h in enumerate([0.3, 0.05, 0.2]):  # inner-lip square of height h
        fls[i, 60:68, :2] = [[0, 0], [1, 0], [2, 0], [2, h], [2, 2 * h], [1, 2 * h], [0, 2 * h], [0, h]]
    assert closed_lip_index(fls.reshape(3, 204)) == 1


@pytest.fixture(scope="module")
def trained(tmp_path_factory, dataset, consts_dir):
    d = tmp_path_factory.mktemp("a2l_ckpt")
    common = ["--dataset", str(dataset), "--module1_constants", str(consts_dir), "--quiet"]
    # in-process (the same main() that `python -m Module1.train_content` runs): saves a torch start-up
    train_content.main([*common, "--nepoch", "3", "--save_name", str(d / "content.pth")])
    hist_g = train_speaker.main([*common, "--nepoch", "2", "--save_name", str(d / "speaker.pth"),
                                 "--load_a2l_C_name", str(d / "content.pth")])
    return d, hist_g


def test_content_training_loss_falls(trained):
    d, _ = trained
    ck = read_checkpoint(d / "content.pth")
    hist = ck["loss_history"]
    assert ck["epoch"] == 3 and len(hist) == 3
    assert hist[-1] < hist[0]


def test_speaker_training_loss_falls_and_resumes(trained, dataset, consts_dir):
    d, hist = trained
    assert len(hist) == 2 and hist[-1] < hist[0]
    more = train_speaker.main(["--dataset", str(dataset), "--module1_constants", str(consts_dir), "--quiet",
                               "--nepoch", "3", "--save_name", str(d / "speaker.pth"), "--resume"])
    assert len(more) == 3 and more[:2] == pytest.approx(hist)
    assert read_checkpoint(d / "speaker.pth")["epoch"] == 3


def test_trained_checkpoints_load_into_predictor(trained, consts_dir):
    d, _ = trained
    torch.manual_seed(0)
    save_atomic({"model": Generator().state_dict()}, d / "autovc.pth")
    cfg = Module1Config(load_AUTOVC_name=d / "autovc.pth", load_a2l_C_name=d / "content.pth",
                        load_a2l_G_name=d / "speaker.pth", module1_constants=consts_dir, quiet=True)
    std = load_constants(consts_dir).std_face
    pts = (std[:, :2] * 150 + 256).astype(np.float32)
    sr = 16000
    t = np.arange(int(0.4 * sr)) / sr
    audio = Audio((0.2 * np.sin(2 * np.pi * 160 * t)).astype(np.float32), sr)
    seq = MakeItTalkPredictor(cfg).predict(audio, pts, 25.0)
    assert len(seq) == round(0.4 * 25) and np.all(np.isfinite(seq.points))


def test_help_explains():
    text = train_speaker.build_parser().format_help()
    for flag in ("--lambda_laplacian_smooth_loss", "--reg_lr", "--resume", "--dataset", "--emb_coef"):
        assert flag in text
    assert "Module1/data.py" in text


def test_prepare_builds_a_mel_dataset_from_a_video(tmp_path, repo_root, consts_dir):
    import subprocess

    from common.media import ffmpeg_exe
    from Module1 import prepare

    video = tmp_path / "talk.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-loop", "1", "-i",
                    str(repo_root / "examples" / "hermione2.jpeg"), "-i", str(repo_root / "examples" / "speech.wav"),
                    "-t", "0.8", "-vf", "scale=256:-2", "-r", "25", "-pix_fmt", "yuv420p", "-c:v", "libx264",
                    "-c:a", "aac", str(video)], check=True)
    out = tmp_path / "data"
    prepare.main([str(video), "--out", str(out), "--load_AUTOVC_name", str(tmp_path / "absent.pth"),
                  "--module1_constants", str(consts_dir), "--landmarker", "dlib", "--quiet"])
    clips, feature = read_dataset(out)
    assert feature == "mel" and len(clips) == 1
    c = clips[0]
    assert abs(c.fls.shape[0] - 0.8 * 62.5) <= 2 and c.au.shape == (c.fls.shape[0], 80)
    pts = c.fls.reshape(-1, 68, 3)
    np.testing.assert_allclose(pts[:, 16, 0] - pts[:, 0, 0], 1.6, atol=0.05)  # a still face: width 1.6
    assert np.abs(np.linalg.norm(c.emb) - 1) < 1e-3
