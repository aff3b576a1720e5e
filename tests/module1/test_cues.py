"""Module1.cues: envelope, voice activity, spectral cue, phones and visemes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from Module1 import cues

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "speech.wav"


def tone_burst(sr: int = 16000, amp: float = 0.5, freq: float = 440.0) -> np.ndarray:
    """1 s silence, 1 s sine of amplitude ``amp``, 1 s silence."""
    t = np.arange(sr) / sr
    return np.concatenate([np.zeros(sr), amp * np.sin(2 * np.pi * freq * t), np.zeros(sr)]).astype(np.float32)


def read_example() -> tuple[np.ndarray, int]:
    if not EXAMPLE.is_file():
        pytest.skip("examples/speech.wav is not present")
    import soundfile as sf

    x, sr = sf.read(EXAMPLE, dtype="float32")
    return (x.mean(axis=1) if x.ndim > 1 else x), sr


class TestFrames:
    def test_n_frames(self):
        assert cues.n_frames(3.0, 25) == 75
        assert cues.n_frames(1.23, 30) == 37
        assert cues.n_frames(0.001, 25) == 1
        assert cues.n_frames(0.0, 25) == 1

    @pytest.mark.parametrize("sr,fps", [(16000, 25.0), (22050, 30.0), (44100, 24.0)])
    def test_envelope_of_tone_burst(self, sr, fps):
        env = cues.frame_envelope(tone_burst(sr), sr, fps)
        assert env.shape == (round(3 * fps),) and env.dtype == np.float32
        f = int(fps)
        burst = env[f + 1: 2 * f - 1]
        assert burst == pytest.approx(np.full(burst.shape, 0.5 / np.sqrt(2)), rel=0.03)
        assert np.all(env[: f - 1] == 0.0) and np.all(env[2 * f + 1:] == 0.0)

    def test_envelope_explicit_length_pads_with_zeros(self):
        env = cues.frame_envelope(np.ones(1600, np.float32), 16000, 25, n=6)  # 2.5 frames of samples
        assert env.tolist() == pytest.approx([1, 1, 1, 0, 0, 0])

    def test_rms_track(self):
        x = tone_burst()
        r = cues.rms_track(x)
        assert r.shape == (300,)
        assert r[150] == pytest.approx(0.5 / np.sqrt(2), rel=0.02)
        assert r[50] == 0.0 and r[250] == 0.0

    def test_to_frames_box_average(self):
        track = np.r_[np.zeros(100), np.ones(100)]  # 10 ms grid: step at 0.995 s
        out = cues.to_frames(track, 4, 2.0)  # frames of 0.5 s
        assert out.tolist() == pytest.approx([0.0, 0.01, 1.0, 1.0], abs=1e-6)
        two = cues.to_frames(np.c_[np.ones(50), 2 * np.ones(50)], 10, 20.0)
        assert two.shape == (10, 2) and np.allclose(two, [1.0, 2.0])

    def test_to_16k(self):
        y = cues.to_16k(tone_burst(44100), 44100)
        assert y.dtype == np.float32 and abs(y.size - 48000) <= 1
        assert np.sqrt(np.mean(y[20000:28000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)


class TestActivity:
    def test_voice_activity_of_burst(self):
        rng = np.random.default_rng(0)
        x = tone_burst() + 1e-4 * rng.standard_normal(48000).astype(np.float32)
        act = cues.voice_activity(cues.rms_track(x))
        assert act.dtype == bool and act.shape == (300,)
        assert act[105:195].all()
        assert not act[:95].any() and not act[205:].any()

    def test_short_pause_is_bridged_short_click_dropped(self):
        r = np.full(200, 1e-4)
        r[20:80] = 0.3
        r[85:150] = 0.3      # 50 ms pause: bridged
        r[180:182] = 0.3     # 20 ms click: dropped
        act = cues.voice_activity(r)
        assert act[20:150].all() and not act[175:].any()

    def test_digital_silence(self):
        act = cues.voice_activity(cues.rms_track(np.zeros(16000, np.float32)))
        assert not act.any()

    def test_loudness(self):
        r = np.r_[np.zeros(10), np.linspace(0, 1, 100)]
        loud = cues.loudness(r)
        assert loud.min() == 0.0 and loud.max() == pytest.approx(1.0)
        assert np.all(np.diff(loud[10:]) >= 0)
        assert np.all(cues.loudness(np.zeros(20)) == 0.0)

    def test_spectral_shape(self):
        rng = np.random.default_rng(0)
        t = np.arange(16000) / 16000
        low = (0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
        hiss = np.fft.irfft(np.fft.rfft(rng.standard_normal(16000)) * (np.fft.rfftfreq(16000, 1 / 16000) > 2500))
        hi = (0.3 * hiss / np.abs(hiss).max()).astype(np.float32)
        cue_lo = cues.spectral_shape(low)
        cue_hi = cues.spectral_shape(hi)
        assert cue_lo.shape == (100,)
        assert cue_lo[10:90].max() < -0.5
        assert cue_hi[10:90].min() > 0.5


class TestVisemes:
    SEGS = [("SIL", 0.0, 0.5), ("AA", 0.5, 1.0), ("M", 1.0, 1.1), ("IY", 1.1, 1.6), ("UW", 1.6, 2.1),
            ("SIL", 2.1, 3.0)]

    def test_tracks(self):
        fps = 25.0
        v = cues.viseme_tracks(self.SEGS, 75, fps)
        assert v.shape == (75, 3) and v.dtype == np.float32
        at = lambda s: v[int(s * fps)]  # noqa: E731 - frame covering time s
        assert at(0.2).tolist() == pytest.approx([0, 0, 0], abs=1e-3)
        assert at(0.75)[0] > 0.85
        assert at(1.04)[0] < 0.15  # the bilabial closes despite the open neighbours
        assert at(1.35)[1] > 0.8 and at(1.35)[0] < 0.35
        assert at(1.85)[2] > 0.8 and at(1.85)[1] < 0
        assert at(2.6).tolist() == pytest.approx([0, 0, 0], abs=1e-3)
        # Coarticulated: at 100 fps no value moves more than a fifth of its range per 10 ms.
        fine = cues.viseme_tracks(self.SEGS, 300, 100.0)
        assert np.abs(np.diff(fine, axis=0)).max() < 0.2

    def test_anticipation(self):
        v = cues.viseme_tracks([("SIL", 0, 1.0), ("AA", 1.0, 2.0)], 200, 100.0, sigma_s=0.001, lead_s=0.05)
        assert v[93, 0] < 0.01 and v[96, 0] > 0.99  # opens 50 ms before the sound
        v0 = cues.viseme_tracks([("SIL", 0, 1.0), ("AA", 1.0, 2.0)], 200, 100.0, sigma_s=0.001, lead_s=0.0)
        assert v0[98, 0] < 0.01 and v0[101, 0] > 0.99

    def test_unknown_and_noise_phones(self):
        v = cues.viseme_tracks([("+NSN+", 0.0, 1.0), ("XX", 1.0, 2.0)], 50, 25.0)
        assert v[:, 0].max() <= 0.1

    def test_bilabials_close_and_open_vowels_open(self):
        for p in "PBM":
            assert cues.VISEMES[p].open == 0.0
        assert min(cues.VISEMES[v].open for v in ("AA", "AE", "AH")) >= 0.7
        assert cues.VISEMES["UW"].round == 1.0 and cues.VISEMES["IY"].spread == 1.0


class TestClosures:
    def test_bilabial_needs_an_energy_dip(self):
        rms = np.full(100, 0.3)
        rms[40:46] = 0.01  # a real closure: 30 dB quieter
        segs = [("AA", 0.2, 0.4), ("M", 0.4, 0.46), ("AA", 0.46, 0.6), ("B", 0.7, 0.75), ("AA", 0.75, 0.9)]
        out = cues.check_closures(segs, rms)
        assert [p for p, _, _ in out] == ["AA", "M", "AA", cues.TRANSITION, "AA"]
        assert [(a, b) for _, a, b in out] == [(a, b) for _, a, b in segs]

    def test_rejected_bilabial_takes_neighbours_shape(self):
        segs = [("SIL", 0, 0.5), ("AA", 0.5, 1.0), (cues.TRANSITION, 1.0, 1.06), ("AA", 1.06, 1.5), ("SIL", 1.5, 2)]
        v = cues.viseme_tracks(segs, 50, 25.0)
        assert v[23:28, 0].min() > 0.95  # stays open through 0.92-1.12 s
        kept = cues.viseme_tracks([(p if p != cues.TRANSITION else "M", a, b) for p, a, b in segs], 50, 25.0)
        assert kept[23:28, 0].min() < 0.3

    def test_missed_speech_inside_pause(self):
        active = np.zeros(200, bool)
        active[50:90] = True    # 0.5-0.9 s: speech the recogniser called silence
        active[150:153] = True  # 30 ms: too short to matter
        segs = [("AA", 0.0, 0.3), ("SIL", 0.3, 1.8), ("IY", 1.8, 2.0)]
        out = cues.fill_missed_speech(segs, active)
        assert [p for p, _, _ in out] == ["AA", "SIL", cues.UNKNOWN, "SIL", "IY"]
        assert [round(a, 3) for _, a, _ in out] == [0.0, 0.3, 0.5, 0.9, 1.8]
        assert out[-2][2] == 1.8
        v = cues.viseme_tracks(out, 50, 25.0)
        assert v[17, 0] == pytest.approx(0.6, abs=0.02) and v[30, 0] < 0.01


class TestPhones:
    def test_phone_segments_on_speech(self):
        x, sr = read_example()
        rec = cues.PhoneRecognizer()  # pocketsphinx is a requirement: failing to load it is a failure
        segs = cues.phone_segments(x, sr, rec)
        dur = x.size / sr
        assert len(segs) > 3 * dur  # a few phones per second
        phones = [p for p, _, _ in segs]
        starts = np.array([s for _, s, _ in segs])
        ends = np.array([e for _, _, e in segs])
        assert np.all(np.diff(starts) > 0) and np.all(ends > starts) and ends[-1] <= dur + 0.05
        assert set(phones) & {"AA", "AE", "AH", "AO", "EH", "IY", "IH", "UW", "OW", "AY", "EY"}
        assert set(phones) & {"P", "B", "M"}
        # At another sample rate the same phones come out (resampled inside).
        import soxr

        x44 = soxr.resample(x, sr, 44100)
        segs44 = cues.phone_segments(x44, 44100, rec)
        assert abs(len(segs44) - len(segs)) <= 0.2 * len(segs)

    def test_recogniser_is_stateless_and_splits_long_audio(self):
        x, sr = read_example()
        rec = cues.PhoneRecognizer(piece_s=3.0)
        x16 = cues.to_16k(x, sr)
        first = rec(x16)
        rec(np.flip(x16).copy())  # something else in between
        assert rec(x16) == first
        starts = [s for _, s, _ in first]
        assert np.all(np.diff(starts) > 0) and len(first) > 3 * x16.size / 16000
