"""Lip-sync mechanisms of the weight-free predictor on synthetic cases (the real-speech scores live in
bench/bench_lipsync.py): closures in the audio and silences close the lips, bilabials close a whole
frame, a transcript changes the visemes (and one that does not fit falls back), rounded vowels are
narrower than spread ones."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from common import Audio
from Module1 import cues, motion
from Module1.config import Module1Config
from Module1.predictors.procedural import ProceduralPredictor
from tests.module1.synthetic_face import synthetic_face

REPO = Path(__file__).resolve().parents[2]
FPS = 25.0
SR = 16000


def vowel(dur: float, f0: float = 120.0, amp: float = 0.2) -> np.ndarray:
    """A voiced, vowel-like harmonic sound with soft 10 ms edges."""
    t = np.arange(int(dur * SR)) / SR
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 30))
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)
    return (amp * x * ramp / np.abs(x).max()).astype(np.float32)


def quiet(dur: float, seed: int = 0) -> np.ndarray:
    return (1e-4 * np.random.default_rng(seed).standard_normal(int(dur * SR))).astype(np.float32)


@pytest.fixture(scope="module")
def predictor() -> ProceduralPredictor:
    return ProceduralPredictor(Module1Config(quiet=True, head_motion=0.0))


def gap_of(mouth: np.ndarray) -> np.ndarray:
    return motion.inner_lip_gap(motion.mouth_shape(synthetic_face(), mouth[:, 0], mouth[:, 1], mouth[:, 2]))


def frames(a: float, b: float) -> slice:
    return slice(int(np.floor(a * FPS)), int(np.ceil(b * FPS)))


@pytest.mark.parametrize("use_phones", [True, False], ids=["phones", "envelope"])
def test_closure_in_the_audio_closes_the_lips(predictor, use_phones):
    # vowel, a 120 ms stop closure (silence), vowel: the lips meet inside the closure.
    x = np.concatenate([quiet(0.3), vowel(0.5), quiet(0.12, 1), vowel(0.5, 140), quiet(0.3, 2)])
    T = cues.n_frames(x.size / SR, FPS)
    mouth, _ = predictor.mouth_tracks(x, T, FPS, use_phones=use_phones)
    gap = gap_of(mouth)
    level = np.percentile(gap, 95)
    assert gap[frames(0.45, 0.75)].max() > 0.5 * level  # open on the vowel
    assert gap[frames(0.80, 0.92)].min() <= 0.15 * level  # shut in the closure


def test_silence_closes_the_lips(predictor):
    x = np.concatenate([vowel(0.8), quiet(0.6), vowel(0.8, 150)])
    T = cues.n_frames(x.size / SR, FPS)
    gap = gap_of(predictor.mouth_tracks(x, T, FPS)[0])
    level = np.percentile(gap, 95)
    inside = gap[frames(0.9, 1.3)]
    assert inside.size >= 8 and np.all(inside <= 0.15 * level)


def test_short_bilabial_closes_a_whole_frame(predictor):
    """A 30 ms /b/ between loud vowels straddling a frame edge still shuts the lips in one frame."""
    x = np.concatenate([quiet(0.3), vowel(1.2), quiet(0.3, 1)])
    T = cues.n_frames(x.size / SR, FPS)
    segs = [("SIL", 0.0, 0.3), ("AA", 0.3, 0.90), ("B", 0.90, 0.93), ("AA", 0.93, 1.5), ("SIL", 1.5, 1.8)]
    closed = cues.closure_frames(segs, T, FPS)
    assert closed.sum() == 1
    gap = gap_of(predictor.mouth_tracks(x, T, FPS, segments=segs)[0])
    level = np.percentile(gap, 95)
    assert gap[closed].max() <= 0.15 * level
    assert gap[frames(0.5, 0.8)].min() > 0.5 * level


def test_closure_frames_cover_long_bilabials():
    segs = [("M", 0.11, 0.29), ("P", 0.50, 0.51)]
    c = cues.closure_frames(segs, 25, FPS, lead_s=0.0)
    # 0.11–0.29 s covers frames 3–6 wholly and frames 2 and 7 under half; the 10 ms /p/ marks frame 12.
    assert c[3:7].all() and not c[2] and not c[7] and c[12] and c.sum() == 5


@pytest.mark.slow  # recognition twice and an alignment of 8.8 s of speech
def test_transcript_changes_the_visemes(predictor, caplog):
    wav = REPO / "examples" / "speech.wav"
    if not wav.is_file():
        pytest.skip("no examples/speech.wav")
    import soundfile as sf

    x, sr = sf.read(wav, dtype="float32")
    x16 = cues.to_16k(x, sr)
    T = cues.n_frames(x16.size / SR, FPS)
    text = ("The quick brown fox jumps over the lazy dog near the quiet river bank. "
            "Then the sun went down, and everyone walked slowly home for dinner.")
    rec = predictor.mouth_tracks(x16, T, FPS)[0]
    with caplog.at_level(logging.INFO, logger="Module1.predictors.procedural"):
        aligned = predictor.mouth_tracks(x16, T, FPS, transcript=text)[0]
    assert "lips follow the transcript" in caplog.text
    assert np.abs(aligned - rec).max() > 0.2
    # Every bilabial of the words (brown, jumps, bank, home, ... ) shuts the lips.
    segs = predictor.phones
    assert segs is not None
    bil = [(a, b) for p, a, b in segs if p in ("P", "B", "M")]
    assert len(bil) >= 5
    gap = gap_of(aligned)
    level = np.percentile(gap, 95)
    for a, b in bil:
        assert gap[max(0, int(a * FPS) - 1): int(np.ceil(b * FPS)) + 1].min() <= 0.15 * level, (a, b)
    # Words that do not fit the audio: one notice, then recognition as without a transcript.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="Module1.predictors.procedural"):
        fallback = predictor.mouth_tracks(x16, T, FPS, transcript="hello")[0]
    assert sum("transcript was not used" in r.getMessage() for r in caplog.records) == 1
    np.testing.assert_allclose(fallback, rec, atol=1e-6)


def test_unknown_words_do_not_fit():
    al = cues.TranscriptAligner()
    with pytest.raises(cues.AlignmentError, match="not in the pronouncing dictionary"):
        al.words("hello zzqxv")
    assert al.words("Hello, world's end!") == ["hello", "world's", "end"]


def test_transcript_from_a_file(tmp_path):
    p = tmp_path / "words.txt"
    p.write_text("hello there\n", encoding="utf-8")
    assert cues.read_transcript(str(p)).strip() == "hello there"
    assert cues.read_transcript("just words") == "just words"


def test_rounded_vowels_are_narrower_than_spread():
    src = synthetic_face()
    names = ["OW", "UW", "W", "IY", "EH", "AE"]
    v = [cues.VISEMES[n] for n in names]
    pts = motion.mouth_shape(src, np.array([x.open for x in v]), np.array([x.spread for x in v]),
                             np.array([x.round for x in v]))
    width = dict(zip(names, np.linalg.norm(pts[:, 54] - pts[:, 48], axis=1)))
    assert max(width[n] for n in ("OW", "UW", "W")) < min(width[n] for n in ("IY", "EH", "AE"))
    assert min(width[n] for n in ("IY", "EH", "AE")) > 1.02 * max(width[n] for n in ("OW", "UW", "W"))


def test_predict_uses_the_config_transcript(caplog):
    x = np.concatenate([quiet(0.2), vowel(0.6), quiet(0.2, 3)])
    pred = ProceduralPredictor(Module1Config(quiet=True, head_motion=0.0, transcript="zzqxv"))
    with caplog.at_level(logging.INFO, logger="Module1.predictors.procedural"):
        seq = pred.predict(Audio(x, SR), synthetic_face(), FPS)
    assert len(seq) == cues.n_frames(x.size / SR, FPS)
    assert "transcript was not used" in caplog.text


def test_labiodental_brings_the_lower_lip_up(predictor):
    """An /f/ between open vowels: a narrow gap (lower lip under the teeth) for a whole frame, not shut."""
    x = np.concatenate([quiet(0.3), vowel(1.2), quiet(0.3, 1)])
    T = cues.n_frames(x.size / SR, FPS)
    segs = [("SIL", 0.0, 0.3), ("AA", 0.3, 0.90), ("F", 0.90, 0.96), ("AA", 0.96, 1.5), ("SIL", 1.5, 1.8)]
    fv = cues.closure_frames(segs, T, FPS, phones=("F", "V"))
    assert fv.sum() >= 1
    gap = gap_of(predictor.mouth_tracks(x, T, FPS, segments=segs)[0])
    level = np.percentile(gap, 95)
    assert np.all(gap[fv] <= 0.2 * level)
    assert np.all(gap[fv] > 1.5)  # apart (the teeth show), unlike a p/b/m


def test_clear_stop_closure_becomes_a_lip_closure():
    """A /d/ the audio shows as a silent closure (20 dB under both sides) shuts the lips; a /d/ inside
    loud sound stays as it is."""
    rms = np.full(100, 0.1, np.float32)
    rms[40:46] = 0.005  # -26 dB dip
    segs = [("AH", 0.0, 0.40), ("D", 0.40, 0.46), ("AH", 0.46, 0.70), ("D", 0.70, 0.76), ("AH", 0.76, 1.0)]
    out = cues.stop_closures(segs, rms, min_dip_db=15.0)
    assert [p for p, _, _ in out] == ["AH", "B", "AH", "D", "AH"]


def test_recognition_does_not_depend_on_what_came_before():
    """Same audio, same phones, even after loud noise (whose noise estimate used to carry over)."""
    wav = REPO / "examples" / "female12.wav"
    if not wav.is_file():
        pytest.skip("no example speech")
    import soundfile as sf

    rng = np.random.default_rng(0)
    a = cues.to_16k(*sf.read(wav, dtype="float32"))
    a = (0.1 * a + 0.003 * rng.standard_normal(a.size)).astype(np.float32)  # quiet, a little noisy
    noise = (0.3 * rng.standard_normal(2 * SR)).astype(np.float32)
    rec = cues.PhoneRecognizer()
    first = rec(a)
    rec(noise)
    assert rec(a) == first
