"""``--predictor makeittalk`` against the original, stage by stage, on the shared end-to-end fixture.

The fixture (``../shared/reference/fixtures/module1_e2e/``) holds every intermediate of the original's
Module1 path on a mono and a stereo real-speech clip with its branch checkpoints. As its README asks,
the two resemblyzer embeddings and AutoVC's output (whose checkpoint is not shipped) are pinned.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from common.checkpoint import save_atomic
from common.media import decode_audio
from Module1 import audio as fe
from Module1.config import Module1Config
from Module1.face import fix_inverted_lips, signed_area
from Module1.nets import Generator
from Module1.predictors import PREDICTORS
from Module1.predictors.makeittalk import MakeItTalkPredictor, Trace, segment_bounds, text_round_trip

CLIPS = ["mono", "stereo"]


def _maxdiff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.fixture(scope="module")
def fixture_dir(reference_dir) -> Path:
    d = reference_dir / "fixtures" / "module1_e2e"
    if not d.is_dir():
        pytest.skip("module1_e2e fixture absent")
    return d


@pytest.fixture(scope="module")
def ref(fixture_dir):
    return {c: dict(np.load(fixture_dir / f"ref_librivox_{c}16k.npz")) for c in CLIPS}


@pytest.fixture(scope="module")
def photo(fixture_dir) -> np.ndarray:
    return np.load(fixture_dir / "photo_landmarks_px.npy")


@pytest.fixture(scope="module")
def predictor(tmp_path_factory, fixture_dir, reference_dir) -> MakeItTalkPredictor:
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("autovc")
    torch.manual_seed(0)  # AutoVC's weights are not shipped: its output is pinned in the tests below
    save_atomic({"model": Generator(16, 256, 512, 16).state_dict()}, d / "ckpt_autovc.pth")
    cfg = Module1Config(load_AUTOVC_name=d / "ckpt_autovc.pth",
                        load_a2l_C_name=fixture_dir / "checkpoints" / "ckpt_content_branch.pth",
                        load_a2l_G_name=fixture_dir / "checkpoints" / "ckpt_speaker_branch.pth",
                        module1_constants=reference_dir / "module1" / "data", device="cpu", seed=0, quiet=True)
    pred = PREDICTORS.get("makeittalk")(cfg)
    assert isinstance(pred, MakeItTalkPredictor)
    return pred


@pytest.mark.parametrize("clip", CLIPS)
def test_front_end_matches_the_original(clip, ref, fixture_dir):
    r = ref[clip]
    audio = decode_audio(fixture_dir / "audio" / f"librivox_{clip}16k.wav", 16000)
    f = fe.front_end(audio)
    n = r["wav_16k_int16"].shape[0]
    np.testing.assert_array_equal(f.pcm16, r["wav_16k_int16"].reshape(n, -1))
    assert fe.pcm16_rms(f.pcm16) == int(r["pydub_rms_before"])
    assert fe.pcm16_dbfs(f.pcm16) == float(r["pydub_dbfs_before"])
    assert f.gain_db == float(r["pydub_gain_db"])
    np.testing.assert_array_equal(f.normalized_pcm16, r["wav_normalized_int16"].reshape(n, -1))
    assert fe.pcm16_dbfs(f.normalized_pcm16) == float(r["pydub_dbfs_after"])
    assert _maxdiff(f.mel, r["mel_S"]) <= 1e-7
    np.testing.assert_array_equal(f.log_f0, r["f0_rapt"])
    np.testing.assert_array_equal(fe.normalize_log_f0(f.log_f0), r["f0_norm"])
    np.testing.assert_array_equal(f.f0, r["f0_onehot"])


def test_dbfs_uses_math_log_not_log10():
    # an RMS where 20·log(x, 10) and 20·log10(x) differ in the last bit
    import math

    rms = next(r for r in range(1, 30000) if math.log(r / 32768, 10) != np.log10(r / 32768))
    pcm = np.full(10, rms, np.int16)
    assert fe.pcm16_dbfs(pcm) == 20 * math.log(rms / 32768, 10)


def test_f0_does_not_depend_on_the_previous_clip(ref):
    """pysptk's RAPT keeps state between calls: the mono clip after the (longer) stereo one, twice."""
    wavs = {}
    for c in CLIPS:
        norm = ref[c]["wav_normalized_int16"]
        ch0 = norm if norm.ndim == 1 else norm[:, 0]
        wavs[c] = fe.dither(fe.highpass(fe.pad_to_non_multiple(ch0.astype(np.float64) / 32768.0)))
    for c in ["stereo", "stereo", "mono", "mono"]:
        np.testing.assert_array_equal(fe.rapt_log_f0(wavs[c]), ref[c]["f0_rapt"])


@pytest.mark.parametrize("clip", CLIPS)
def test_windows_and_segments(clip, ref):
    r = ref[clip]
    n = r["feature_std"].shape[0] - 18
    assert n == int(r["n_windows"])
    bounds = segment_bounds(n)
    np.testing.assert_array_equal([(s, e) for s, e, _ in bounds], r["segment_bounds"])
    np.testing.assert_array_equal([k for _, _, k in bounds], r["segment_kept"])


@pytest.mark.parametrize("clip", CLIPS)
def test_feature_branches_and_post_processing(clip, ref, predictor, photo):
    """From AutoVC's output (pinned) and the speaker branch's embedding (pinned) to the pixel landmarks."""
    r = ref[clip]
    feature = predictor.standardise(r["autovc_out"])
    assert _maxdiff(feature, r["feature_std"]) <= 1e-12
    trace = Trace()
    px, n_orig, tweaked = predictor.landmarks_62_5(feature, r["emb_speaker_branch"], photo, trace)
    np.testing.assert_array_equal(tweaked, r["face_tweaked_px"])
    assert n_orig == r["pred_fls_exact"].shape[0]
    assert px.shape == (r["feature_std"].shape[0], 68, 2)  # + tail frames up to the audio's end
    for key, tol in (("g_out", 1e-5), ("spk_encode", 1e-5), ("c_out", 1e-5), ("spk_sg", 2e-5), ("spk_post", 2e-5),
                     ("c_calib", 2e-5), ("pos_plus_content", 2e-5), ("after_lipfix", 2e-5)):
        assert _maxdiff(trace[key], r["seg_" + key]) <= tol, key
    assert _maxdiff(trace["after_nose_fix"][:, 81:84], r["nose27_after_fix"]) <= 2e-5
    assert _maxdiff(trace["pred_fls_exact"], r["pred_fls_exact"]) <= 2e-5
    assert _maxdiff(px[:n_orig], r["final_landmarks_px"]) <= 1e-3
    assert np.all(np.isfinite(px)) and _maxdiff(px[n_orig:], px[n_orig - 1 : n_orig]) < 40  # tail near the last


@pytest.mark.parametrize("clip", CLIPS)
def test_post_processing_from_the_written_text(clip, ref, predictor):
    r = ref[clip]
    out = predictor.postprocess(r["pred_fls_exact"], float(r["scale"]), r["shift"])
    assert _maxdiff(out, r["final_landmarks_px"]) <= 1e-9


def test_text_round_trip_equals_printf():
    x = np.random.RandomState(0).randn(300, 204).astype(np.float32)
    expected = np.array([[float(f"{v:.6f}") for v in row] for row in x])
    np.testing.assert_array_equal(text_round_trip(x), expected)


def test_inverted_lip_repair_cases(fixture_dir):
    z = np.load(fixture_dir / "lipfix_cases.npz")
    out = fix_inverted_lips(z["input"])
    np.testing.assert_array_equal(out, z["output"])
    areas = [signed_area(f.reshape(68, 3)[60:68, :2]) for f in out]
    np.testing.assert_allclose(areas, z["signed_area_out"], atol=1e-6)


class _PinnedEncoder:
    """Returns the fixture's embeddings, after checking which samples the predictor embeds."""

    def __init__(self, r: dict) -> None:
        n = r["wav_16k_int16"].shape[0]
        self.by_input = [(fe.channel_mean(r["wav_16k_int16"].reshape(n, -1)), r["emb_resemblyzer_raw"]),
                         (fe.channel_mean(r["wav_normalized_int16"].reshape(n, -1)), r["emb_resemblyzer_norm"])]
        self.calls: list[str] = []

    def embed(self, samples: np.ndarray) -> np.ndarray:
        for (x, emb), name in zip(self.by_input, ("raw", "normalised")):
            if x.shape == samples.shape and np.array_equal(x, samples):
                self.calls.append(name)
                return emb
        raise AssertionError("the speaker encoder got samples that are neither the file nor the normalised file")


def _run_end_to_end(predictor, r, wav: Path, photo, monkeypatch) -> np.ndarray:
    enc = _PinnedEncoder(r)
    monkeypatch.setattr(predictor, "spk_encoder", enc)

    def pinned_convert(mel, f0, emb):
        assert _maxdiff(mel, r["mel_S"]) <= 1e-7
        np.testing.assert_array_equal(f0, r["f0_onehot"])
        np.testing.assert_array_equal(emb, r["emb_autovc_src"])  # AutoVC's source: the normalised file
        return r["autovc_out"]

    monkeypatch.setattr(predictor, "convert", pinned_convert)
    audio = decode_audio(wav, 16000)
    seq = predictor.predict(audio, photo, 62.5)
    assert sorted(enc.calls) == ["normalised", "raw"]
    assert len(seq) == round(audio.duration * 62.5) and seq.fps == 62.5
    np.testing.assert_array_equal(seq.source, r["face_tweaked_px"])
    return seq.points


@pytest.mark.slow
def test_end_to_end_and_order_independent(ref, predictor, photo, fixture_dir, monkeypatch):
    """The public ``predict`` on the decoded files: the original's frames first, whichever clip ran before."""
    wav = {c: fixture_dir / "audio" / f"librivox_{c}16k.wav" for c in CLIPS}
    first = {}
    for clip in ["mono", "stereo", "mono"]:
        r = ref[clip]
        pts = _run_end_to_end(predictor, r, wav[clip], photo, monkeypatch)
        n = r["final_landmarks_px"].shape[0]
        assert _maxdiff(pts[:n], r["final_landmarks_px"]) <= 1e-3
        if clip in first:
            np.testing.assert_array_equal(pts, first[clip])
        first[clip] = pts


def test_other_rates_decode_like_the_originals_ffmpeg_call(fixture_dir, tmp_path):
    """A 44.1 kHz stereo file: decode_audio's 16-bit samples equal the wav of ``ffmpeg -i in -ar 16000 out.wav``."""
    import subprocess
    import wave

    from common.media import ffmpeg_exe

    src = tmp_path / "in44k.wav"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(fixture_dir / "audio" / "librivox_stereo16k.wav"),
                    "-ar", "44100", str(src)], check=True)
    ref = tmp_path / "ref16k.wav"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(src), "-ar", "16000", str(ref)], check=True)
    with wave.open(str(ref)) as w:
        expected = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())
    audio = decode_audio(src, 16000)
    np.testing.assert_array_equal(audio.pcm16, expected)
    np.testing.assert_array_equal(fe.pcm16_of(audio), expected)
