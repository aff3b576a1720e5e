"""Audio front end of the neural predictor (MakeItTalk/AutoVC), one small pure function per step.

All functions work on in-memory arrays: the user's file is never touched. The frame rate of every
feature is 62.5 frames/s (16 kHz, hop 256). Steps, in the original's order:

1. :func:`resample_16k` — mono 16 kHz (soxr through librosa).
2. :func:`to_pcm16` / :func:`pcm16_dbfs` / :func:`normalize_loudness` — −20 dBFS as pydub's
   ``apply_gain(target − dBFS)`` does on 16-bit samples (integer RMS, ``floor`` and clipping).
3. :func:`pad_to_non_multiple` — append 1e-6 when the length is a multiple of 256.
4. :func:`highpass` — Butterworth order 5, 30 Hz, zero phase (``filtfilt``).
5. :func:`dither` — ``y·0.95 + (U[0,1) − 0.5)·1e-6`` from ``RandomState(0)``.
6. :func:`stft_magnitude`, :func:`mel_basis`, :func:`mel_spectrogram` — (T, 80) feature ``S``.
7. :func:`rapt_log_f0`, :func:`normalize_log_f0`, :func:`f0_onehot` — the 257-bin F0 one-hot of AutoVC.

:func:`front_end` chains them and returns a :class:`Features`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import signal

from common import Audio, AudioError

__all__ = [
    "SAMPLE_RATE",
    "HOP",
    "FPS",
    "N_FFT",
    "N_MELS",
    "F0_BINS",
    "F0_RANGES",
    "Features",
    "resample_16k",
    "to_pcm16",
    "pcm16_dbfs",
    "normalize_loudness",
    "pad_to_non_multiple",
    "highpass",
    "dither",
    "stft_magnitude",
    "mel_basis",
    "mel_spectrogram",
    "rapt_log_f0",
    "normalize_log_f0",
    "f0_onehot",
    "front_end",
]

SAMPLE_RATE = 16000
HOP = 256
FPS = SAMPLE_RATE / HOP  # 62.5 frames per second
N_FFT = 1024
N_MELS = 80
F0_BINS = 257
UNVOICED = -1e10  # pysptk's log-F0 value for unvoiced frames
#: RAPT search range (Hz) per speaker setting; the end-to-end path uses 'F' for everyone
F0_RANGES = {"F": (100.0, 600.0), "M": (50.0, 250.0)}
_MIN_LEVEL = np.exp(-100 / 20 * np.log(10))  # 1e-5


def resample_16k(audio: Audio) -> np.ndarray:
    """Mono float32 (N,) samples of ``audio`` at 16 kHz (soxr high quality)."""
    return audio.resampled(SAMPLE_RATE).samples


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] → int16 as ffmpeg writes a 16-bit wav (round to nearest, clip)."""
    return np.clip(np.rint(np.asarray(x, np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def pcm16_dbfs(pcm: np.ndarray) -> float:
    """pydub's ``dBFS`` of 16-bit samples: 20·log10(int RMS / 32768); −inf for silence."""
    v = np.asarray(pcm, np.float64)
    if v.size == 0:
        return float("-inf")
    rms = int(np.sqrt(np.sum(v * v) / v.size))  # audioop.rms truncates to an integer
    return 20.0 * np.log10(rms / 32768.0) if rms > 0 else float("-inf")


def normalize_loudness(x: np.ndarray, target_dbfs: float = -20.0) -> np.ndarray:
    """Quantise to 16 bit and apply pydub's ``apply_gain(target − dBFS)``; returns float64 (N,) = int16/32768.

    The gain is applied as ``audioop.mul`` does: multiply, clip to the int16 range, round
    towards −∞. Raises :class:`AudioError` for digital silence (no level to normalise).

    >>> y = normalize_loudness(0.01 * np.sin(np.arange(16000) / 5.0))
    >>> round(pcm16_dbfs(np.round(y * 32768)), 1)
    -20.0
    """
    pcm = to_pcm16(x)
    level = pcm16_dbfs(pcm)
    if not np.isfinite(level):
        raise AudioError("the speech is digital silence (no level to normalise)")
    factor = 10.0 ** ((target_dbfs - level) / 20.0)
    val = pcm.astype(np.float64) * factor
    val = np.where(val > 32767.0, 32767.0, val)
    val = np.where(val < -32768.0 + 1.0, -32768.0, val)
    return np.floor(val) / 32768.0


def pad_to_non_multiple(x: np.ndarray) -> np.ndarray:
    """Append one sample 1e-6 when ``len(x)`` is a multiple of the hop (256), as the original does."""
    x = np.asarray(x, np.float64)
    if x.shape[0] % HOP == 0:
        x = np.concatenate([x, [1e-6]])
    return x


@functools.cache
def _butter_highpass(cutoff: float, order: int) -> tuple[np.ndarray, np.ndarray]:
    b, a = signal.butter(order, cutoff / (0.5 * SAMPLE_RATE), btype="high", analog=False)
    return b, a


def highpass(x: np.ndarray, cutoff: float = 30.0, order: int = 5) -> np.ndarray:
    """Zero-phase Butterworth high-pass (cutoff in Hz at 16 kHz), ``scipy.signal.filtfilt``."""
    b, a = _butter_highpass(float(cutoff), int(order))
    return signal.filtfilt(b, a, np.asarray(x, np.float64))


def dither(y: np.ndarray, seed: int = 0) -> np.ndarray:
    """``y·0.95 + (U[0,1) − 0.5)·1e-6`` with a fresh ``RandomState(seed)`` stream."""
    prng = np.random.RandomState(seed)
    y = np.asarray(y, np.float64)
    return y * 0.95 + (prng.rand(y.shape[0]) - 0.5) * 1e-6


def stft_magnitude(wav: np.ndarray, fft_length: int = N_FFT, hop_length: int = HOP) -> np.ndarray:
    """|rfft| of periodic-Hann frames after reflect-padding by ``fft_length//2``: (T, fft_length//2+1).

    T = (len + 2·pad − (fft_length − hop)) // hop, i.e. ``len//256 + 1`` for the defaults.
    """
    x = np.pad(np.asarray(wav, np.float64), fft_length // 2, mode="reflect")
    n = (x.shape[0] - (fft_length - hop_length)) // hop_length
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(n, fft_length), strides=(hop_length * x.strides[0], x.strides[0]), writeable=False
    )
    window = signal.get_window("hann", fft_length, fftbins=True)
    return np.abs(np.fft.rfft(window * frames, n=fft_length, axis=1))


@functools.cache
def mel_basis() -> np.ndarray:
    """librosa's mel filter bank (80, 513) for sr 16 kHz, n_fft 1024, 90–7600 Hz."""
    import librosa

    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, fmin=90, fmax=7600, n_mels=N_MELS)
    basis.setflags(write=False)
    return basis


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """The AutoVC feature ``S`` (T, 80): ``(20·log10(max(1e-5, mel)) − 16 + 100)/100`` (not clipped)."""
    mel = stft_magnitude(wav) @ mel_basis().T
    d_db = 20.0 * np.log10(np.maximum(_MIN_LEVEL, mel)) - 16.0
    return (d_db + 100.0) / 100.0


def rapt_log_f0(wav: np.ndarray, fmin: float = 100.0, fmax: float = 600.0) -> np.ndarray:
    """pysptk RAPT log-F0 per hop (T,), float64; unvoiced frames are −1e10."""
    import pysptk

    x = (np.asarray(wav, np.float64).astype(np.float32) * 32768).astype(np.float32)
    f0 = pysptk.sptk.rapt(x, SAMPLE_RATE, HOP, min=fmin, max=fmax, otype=2)
    return np.asarray(f0, np.float64)


def normalize_log_f0(log_f0: np.ndarray) -> np.ndarray:
    """Speaker normalisation of voiced frames: ``((f0 − mean)/std/4)`` clipped to [−1, 1], then ``(·+1)/2``.

    mean/std are over this utterance's voiced frames; unvoiced frames keep their (negative) value.
    """
    f0 = np.asarray(log_f0, np.float64).copy()
    voiced = f0 != UNVOICED
    if not np.any(voiced):
        return f0
    v = f0[voiced]
    mean, std = np.mean(v), np.std(v)
    v = (v - mean) / (std if std > 0 else 1.0) / 4.0
    f0[voiced] = (np.clip(v, -1.0, 1.0) + 1.0) / 2.0
    return f0


def f0_onehot(f0_norm: np.ndarray) -> np.ndarray:
    """(T,) normalised F0 → (T, 257) one-hot: unvoiced (negative) → bin 0, voiced x → ``round(x·255) + 1``."""
    f0 = np.asarray(f0_norm, np.float64)
    idx = np.where(f0 < 0, 0, np.round(np.clip(f0, 0.0, 1.0) * 255).astype(np.int64) + 1)
    out = np.zeros((f0.shape[0], F0_BINS), np.float32)
    out[np.arange(f0.shape[0]), idx] = 1.0
    return out


@dataclass(frozen=True)
class Features:
    """Output of :func:`front_end`.

    Attributes:
        normalized: float64 (N,) 16 kHz samples after loudness normalisation (input of the speaker encoder).
        mel: float32 (T, 80) feature ``S`` at 62.5 fps.
        f0: float32 (T, 257) F0 one-hot aligned with ``mel``.
    """

    normalized: np.ndarray
    mel: np.ndarray
    f0: np.ndarray


def front_end(audio: Audio, f0_setting: str = "F", with_f0: bool = True) -> Features:
    """Run steps 1–7 on ``audio`` (any rate); ``with_f0=False`` skips RAPT (mel-only datasets)."""
    x = resample_16k(audio)
    if x.size < N_FFT:
        raise AudioError(f"the speech is too short ({x.size / SAMPLE_RATE:.3f} s at 16 kHz)")
    normalized = normalize_loudness(x)
    wav = dither(highpass(pad_to_non_multiple(normalized)))
    mel = mel_spectrogram(wav).astype(np.float32)
    if with_f0:
        lo, hi = F0_RANGES[f0_setting]
        f0n = normalize_log_f0(rapt_log_f0(wav, lo, hi))
        # RAPT may differ from the STFT by a frame at the end; align on the mel
        if f0n.shape[0] < mel.shape[0]:
            f0n = np.concatenate([f0n, np.full(mel.shape[0] - f0n.shape[0], UNVOICED)])
        onehot = f0_onehot(f0n[: mel.shape[0]])
    else:
        onehot = np.zeros((mel.shape[0], F0_BINS), np.float32)
    return Features(normalized=normalized, mel=mel, f0=onehot)
