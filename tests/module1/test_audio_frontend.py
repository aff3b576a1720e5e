"""Audio front end of the neural predictor: each step against values computed independently here."""
from __future__ import annotations

import librosa
import numpy as np
import pytest

from common import Audio, AudioError
from Module1 import audio as fe

SR = 16000


def _tone(freq, seconds=1.0, amp=0.1, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return amp * np.sin(2 * np.pi * freq * t)


class TestLoudness:
    @pytest.mark.parametrize("amp", [0.02, 0.05, 0.5])  # int RMS ≥ 460: truncation < 0.02 dB
    def test_reaches_minus_20_dbfs(self, amp):
        y = fe.normalize_loudness(_tone(220, 0.5, amp))
        pcm = np.round(y * 32768).astype(np.int64)
        assert np.all(pcm == y * 32768)  # values stay on the 16-bit grid
        rms = np.sqrt(np.mean(pcm.astype(np.float64) ** 2))
        assert 20 * np.log10(rms / 32768) == pytest.approx(-20.0, abs=0.02)

    def test_dbfs_uses_integer_rms(self):
        pcm = np.array([3, -4, 3, -4], np.int16)  # rms = 3.54 → int 3
        assert fe.pcm16_dbfs(pcm) == pytest.approx(20 * np.log10(3 / 32768))

    def test_to_pcm16_rounds_and_clips(self):
        assert fe.to_pcm16(np.array([0.5 / 32768, 1.0, -1.5, -1 / 32768])).tolist() == [0, 32767, -32768, -1]

    def test_silence_is_rejected(self):
        with pytest.raises(AudioError, match="silence"):
            fe.normalize_loudness(np.zeros(1000))


def test_pad_to_non_multiple():
    assert fe.pad_to_non_multiple(np.ones(512)).shape == (513,)
    assert fe.pad_to_non_multiple(np.ones(512))[-1] == 1e-6
    assert fe.pad_to_non_multiple(np.ones(500)).shape == (500,)


def test_highpass_removes_10hz_keeps_300hz():
    t = np.arange(4 * SR) / SR
    low, high = np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 300 * t)
    y = fe.highpass(low + high)
    mid = slice(SR, 3 * SR)  # away from the edges
    amp = lambda ref: 2 * np.mean(y[mid] * ref[mid])  # noqa: E731  (projection onto a unit sinusoid)
    assert abs(amp(low)) < 0.01
    assert amp(high) == pytest.approx(1.0, abs=0.01)


def test_dither_is_seeded_uniform():
    y = np.linspace(-0.5, 0.5, 1000)
    expected = y * 0.95 + (np.random.RandomState(0).rand(1000) - 0.5) * 1e-6
    np.testing.assert_array_equal(fe.dither(y), expected)


def test_mel_basis_is_librosas():
    ref = librosa.filters.mel(sr=16000, n_fft=1024, fmin=90, fmax=7600, n_mels=80)
    np.testing.assert_allclose(fe.mel_basis(), ref)


def test_stft_and_mel_spectrogram_one_frame_by_hand():
    x = _tone(440, 0.25) + 0.01 * np.random.RandomState(1).randn(4000)
    S = fe.mel_spectrogram(x)
    assert S.shape == (4000 // 256 + 1, 80)
    k = 5
    padded = np.pad(x, 512, mode="reflect")
    n = np.arange(1024)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / 1024)  # periodic Hann
    mag = np.abs(np.fft.rfft(padded[k * 256 : k * 256 + 1024] * hann))
    mel = librosa.filters.mel(sr=16000, n_fft=1024, fmin=90, fmax=7600, n_mels=80) @ mag
    expected = (20 * np.log10(np.maximum(1e-5, mel)) - 16 + 100) / 100
    np.testing.assert_allclose(S[k], expected, rtol=1e-10, atol=1e-10)


def test_f0_onehot_bins():
    f0 = np.array([-1e10, 0.0, 1.0, 0.25, 0.5019607843])  # last: 128/255
    oh = fe.f0_onehot(f0)
    assert oh.shape == (5, 257)
    np.testing.assert_array_equal(oh.sum(1), 1)
    # a voiced frame clipped to 0 falls in the unvoiced bin, as AutoVC's quantiser (x <= 0) puts it
    assert oh.argmax(1).tolist() == [0, 0, 256, 65, 129]  # round(63.75)+1, round(128)+1


def test_normalize_log_f0():
    v = np.log(np.array([100.0, 200.0, 150.0, 400.0]))
    f0 = np.array([-1e10, v[0], v[1], -1e10, v[2], v[3]])
    out = fe.normalize_log_f0(f0)
    z = np.clip((v - v.mean()) / v.std() / 4, -1, 1)
    np.testing.assert_allclose(out[[1, 2, 4, 5]], (z + 1) / 2)
    assert out[0] == -1e10 and out[3] == -1e10


def test_rapt_finds_the_pitch_of_a_tone():
    f0 = fe.rapt_log_f0(fe.dither(_tone(200, 1.0, 0.3)), 100, 600)
    voiced = f0[f0 != -1e10]
    assert voiced.size > 40
    assert np.median(np.exp(voiced)) == pytest.approx(200, rel=0.03)


def test_front_end_shapes_and_input_untouched():
    sr = 22050
    x = (0.1 * np.sin(2 * np.pi * 180 * np.arange(sr) / sr)).astype(np.float32)
    audio = Audio(x.copy(), sr)
    feats = fe.front_end(audio)
    n16 = fe.resample_16k(audio).shape[0]
    assert n16 == 16000
    assert feats.mel.shape == (n16 // 256 + 1, 80)  # a multiple of 256 gets one extra sample
    assert feats.f0.shape == (feats.mel.shape[0], 257)
    np.testing.assert_array_equal(feats.f0.sum(1), 1)
    np.testing.assert_array_equal(audio.samples, x)
    assert feats.normalized.shape == (n16,)


def test_front_end_rejects_too_short():
    with pytest.raises(AudioError, match="too short"):
        fe.front_end(Audio(np.full(100, 0.1, np.float32), SR))
