"""The ``makeittalk`` predictor end to end on random-weight checkpoints in the released layout."""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from common import Audio, CheckpointError
from common.checkpoint import save_atomic
from common.landmarks import resample_points as resample_frames
from Module1.config import Module1Config
from Module1.constants import CONSTANT_FILES, load_constants
from Module1.nets import Audio2landmarkContent, Audio2landmarkPos, Generator
from Module1.predictors import NEURAL_PREDICTOR, PREDICTORS, resolve_predictor
from Module1.predictors.makeittalk import MakeItTalkPredictor, segment_bounds


@pytest.fixture(scope="module")
def cfg(tmp_path_factory, reference_dir) -> Module1Config:
    d = tmp_path_factory.mktemp("m1ckpt")
    torch.manual_seed(0)
    save_atomic({"model": Generator(16, 256, 512, 16).state_dict()}, d / "ckpt_autovc.pth")
    save_atomic({"model_g_face_id": Audio2landmarkContent().state_dict()}, d / "ckpt_content_branch.pth")
    g = dict(Audio2landmarkPos().state_dict())
    g["comb_mlp.0.weight"] = torch.zeros(4, 4)  # released files carry these; the loader drops them
    save_atomic({"G": g}, d / "ckpt_speaker_branch.pth")
    return Module1Config(
        load_AUTOVC_name=d / "ckpt_autovc.pth",
        load_a2l_C_name=d / "ckpt_content_branch.pth",
        load_a2l_G_name=d / "ckpt_speaker_branch.pth",
        module1_constants=reference_dir / "module1" / "data",
        quiet=True,
        seed=3,
    )


@pytest.fixture(scope="module")
def predictor(cfg) -> MakeItTalkPredictor:
    return MakeItTalkPredictor(cfg)


def _speech(seconds: float, sr: int = 22050) -> Audio:
    t = np.arange(int(round(seconds * sr))) / sr
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    x = 0.2 * env * np.sin(2 * np.pi * (150 + 30 * np.sin(2 * np.pi * t)) * t)
    return Audio(x.astype(np.float32), sr)


@pytest.fixture(scope="module")
def photo_points(reference_dir) -> np.ndarray:
    std = np.loadtxt(reference_dir / "module1" / "data" / "STD_FACE_LANDMARKS.txt").reshape(68, 3)
    return (std[:, :2] * 150 + np.array([256, 270])).astype(np.float32)


def test_registered_and_chosen_by_auto(cfg):
    assert PREDICTORS.get(NEURAL_PREDICTOR) is MakeItTalkPredictor
    assert resolve_predictor("auto", cfg) == ("makeittalk", None)


@pytest.mark.parametrize("field", ["load_AUTOVC_name", "load_a2l_C_name", "load_a2l_G_name"])
def test_missing_checkpoint_is_named(cfg, tmp_path, field):
    bad = dataclasses.replace(cfg, **{field: tmp_path / "nope.pth"})
    reason = MakeItTalkPredictor.unavailable_reason(bad)
    assert reason is not None and "nope.pth" in reason
    with pytest.raises(CheckpointError, match="nope.pth"):
        MakeItTalkPredictor(bad)


@pytest.mark.parametrize("name", list(CONSTANT_FILES))
def test_missing_constant_is_named(cfg, tmp_path, reference_dir, name):
    for other in CONSTANT_FILES:
        if other != name:
            shutil.copy(reference_dir / "module1" / "data" / other, tmp_path / other)  # tmp only
    bad = dataclasses.replace(cfg, module1_constants=tmp_path)
    assert name in MakeItTalkPredictor.unavailable_reason(bad)
    with pytest.raises(CheckpointError, match=name):
        load_constants(tmp_path)


def test_constants_default_next_to_checkpoints(cfg):
    default = dataclasses.replace(cfg, module1_constants=None)
    assert default.constants_dir == Path(cfg.load_a2l_C_name).parent
    assert "STD_FACE_LANDMARKS.txt" in MakeItTalkPredictor.unavailable_reason(default)


@pytest.mark.parametrize("seconds, fps", [(1.3, 25.0), (0.77, 30.0)])
def test_end_to_end_frame_count(predictor, photo_points, seconds, fps):
    audio = _speech(seconds)
    before = audio.samples.copy()
    seq = predictor.predict(audio, photo_points, fps)
    assert len(seq) == round(audio.duration * fps)
    assert seq.fps == fps and seq.points.shape == (len(seq), 68, 2)
    assert np.all(np.isfinite(seq.points))
    np.testing.assert_array_equal(audio.samples, before)
    # source = the photo's points after the original's lip/eye tweak
    np.testing.assert_allclose(seq.source[37, 1], photo_points[37, 1] - 2)
    np.testing.assert_allclose(seq.source[0], photo_points[0])
    # random weights move the face, but it stays a face-sized thing around the photo's
    assert np.abs(seq.points.mean(axis=(0, 1)) - photo_points.mean(0)).max() < 256


def test_prediction_covers_every_feature_frame(predictor, photo_points):
    """The original's T−18 frames (short last segment dropped), then tail frames up to the feature's end."""
    rng = np.random.RandomState(0)
    feat = rng.randn(40, 80)
    emb = rng.randn(256).astype(np.float32) * 0.05
    px, n_orig, _ = predictor.landmarks_62_5(feat, emb, photo_points)
    assert n_orig == 40 - 18 and px.shape == (40, 68, 2) and np.all(np.isfinite(px))


def test_tail_leaves_the_original_frames_alone(predictor, photo_points):
    """530 feature frames give 512 windows; 5 more frames add a dropped 5-window segment and tail frames."""
    rng = np.random.RandomState(2)
    feat = rng.randn(535, 80)
    emb = rng.randn(256).astype(np.float32) * 0.05
    px_short, n_short, _ = predictor.landmarks_62_5(feat[:530], emb, photo_points)
    px_long, n_long, _ = predictor.landmarks_62_5(feat, emb, photo_points)
    assert n_short == n_long == 512
    np.testing.assert_array_equal(px_long[:512], px_short[:512])
    assert px_long.shape == (535, 68, 2)


def test_too_short_for_any_window(predictor, photo_points):
    rng = np.random.RandomState(1)
    px, n_orig, _ = predictor.landmarks_62_5(rng.randn(20, 80), rng.randn(256).astype(np.float32) * 0.05,
                                             photo_points)
    assert n_orig == 0 and px.shape == (20, 68, 2) and np.all(np.isfinite(px))


def test_autovc_conversion_keeps_length(predictor):
    rng = np.random.RandomState(0)
    f0 = np.zeros((70, 257), np.float32)
    f0[:, 0] = 1
    out = predictor.convert(rng.rand(70, 80).astype(np.float32), f0, rng.randn(256).astype(np.float32))
    assert out.shape == (70, 80)


def test_deterministic_with_seed(predictor, photo_points):
    audio = _speech(0.9)
    a = predictor.predict(audio, photo_points, 25.0).points
    b = predictor.predict(audio, photo_points, 25.0).points
    np.testing.assert_array_equal(a, b)


def test_segments():
    assert segment_bounds(100) == [(0, 100, True)]
    assert segment_bounds(1024 + 30) == [(0, 512, True), (512, 1024, True), (1024, 1054, True)]
    assert segment_bounds(512 + 9) == [(0, 512, True), (512, 521, False)]  # < 10 windows: dropped
    assert segment_bounds(512 + 10)[-1] == (512, 522, True)


def test_resample_frames():
    x = np.arange(10, dtype=float)[:, None]  # value = frame index at 62.5 fps
    out = resample_frames(x, 62.5, 4, 25.0)
    np.testing.assert_allclose(out[:, 0], [0, 2.5, 5, 7.5])
    np.testing.assert_allclose(resample_frames(x, 62.5, 6, 25.0)[-1, 0], 9)  # past the end: hold


def test_autovc_chunks_are_independent(predictor, monkeypatch):
    """Long inputs go through AutoVC in chunks (4096 frames; 32 here to keep the test small)."""
    from Module1.predictors import makeittalk

    monkeypatch.setattr(makeittalk, "AUTOVC_CHUNK", 32)
    rng = np.random.RandomState(1)
    mel = rng.rand(70, 80).astype(np.float32)
    f0 = np.zeros((70, 257), np.float32)
    f0[:, 0] = 1
    emb = rng.randn(256).astype(np.float32)
    whole = predictor.convert(mel, f0, emb)
    assert whole.shape == (70, 80)
    np.testing.assert_allclose(whole[32:64], predictor.convert(mel[32:64], f0[32:64], emb), atol=1e-5)
    np.testing.assert_allclose(whole[64:], predictor.convert(mel[64:], f0[64:], emb), atol=1e-5)
