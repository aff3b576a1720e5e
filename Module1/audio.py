"""Audio front end of the neural predictor (MakeItTalk/AutoVC), one small pure function per step.

All functions work on in-memory arrays: the user's file is never touched. The frame rate of every
feature is 62.5 frames/s (16 kHz, hop 256). Steps, in the original's order:

1. :func:`pcm16_of` — the 16-bit 16 kHz samples of every channel (ffmpeg's, from ``decode_audio``).
2. :func:`normalize_pcm16` — −20 dBFS as pydub's ``apply_gain(target − dBFS)`` does on 16-bit samples
   (integer RMS over all channels, ``math.log(x, 10)``, ``floor`` and clipping); then channel 0.
3. :func:`pad_to_non_multiple` — append 1e-6 when the length is a multiple of 256.
4. :func:`highpass` — Butterworth order 5, 30 Hz, zero phase (``filtfilt``).
5. :func:`dither` — ``y·0.95 + (U[0,1) − 0.5)·1e-6`` from ``RandomState(0)``.
6. :func:`stft_magnitude`, :func:`mel_basis`, :func:`mel_spectrogram` — (T, 80) feature ``S``.
7. :func:`rapt_log_f0` (in a fresh process: RAPT keeps state), :func:`normalize_log_f0`, :func:`f0_onehot` —
   the 257-bin F0 one-hot of AutoVC.

:func:`front_end` chains them and returns a :class:`Features`.
"""
from __future__ import annotations

import functools
import math
import subprocess
import sys
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
    "pcm16_rms",
    "pcm16_dbfs",
    "apply_gain_pcm16",
    "normalize_pcm16",
    "normalize_loudness",
    "pad_to_non_multiple",
    "highpass",
    "dither",
    "stft_magnitude",
    "mel_basis",
    "mel_spectrogram",
    "rapt_input",
    "rapt_log_f0",
    "normalize_log_f0",
    "f0_onehot",
    "pcm16_of",
    "channel_mean",
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


def pcm16_rms(pcm: np.ndarray) -> int:
    """``audioop.rms`` over every sample of every channel: the integer (truncated) RMS."""
    v = np.asarray(pcm).astype(np.int64).reshape(-1)
    if v.size == 0:
        return 0
    # the sum of squares of int16 values is an exact integer far below 2**63
    return int(math.sqrt(float(np.sum(v * v)) / v.size))


def pcm16_dbfs(pcm: np.ndarray) -> float:
    """pydub's ``dBFS`` of 16-bit samples (any channel layout): ``20·log(int RMS / 32768, 10)``; −inf for silence.

    ``math.log(x, 10)`` as pydub computes it: ``np.log10`` can differ in the last bit and flip samples.
    """
    rms = pcm16_rms(pcm)
    return 20.0 * math.log(rms / 32768.0, 10) if rms > 0 else float("-inf")


def apply_gain_pcm16(pcm: np.ndarray, gain_db: float) -> np.ndarray:
    """pydub's ``apply_gain`` (``audioop.mul``): ``floor(clip(s·10^(gain/20), −32768, 32767))`` per sample."""
    factor = 10 ** (float(gain_db) / 20)
    val = np.asarray(pcm, np.float64) * factor
    return np.floor(np.clip(val, -32768.0, 32767.0)).astype(np.int16)


def normalize_pcm16(pcm: np.ndarray, target_dbfs: float = -20.0) -> tuple[np.ndarray, float]:
    """Loudness normalisation of int16 samples (N,) or (N, C) to ``target_dbfs`` as the original does with pydub.

    One gain ``target − dBFS`` (the dBFS of all channels together) for every sample. Returns
    (int16 samples of the same shape, gain in dB). Raises :class:`AudioError` for digital silence.
    """
    level = pcm16_dbfs(pcm)
    if not math.isfinite(level):
        raise AudioError("the speech is digital silence (no level to normalise)")
    gain = target_dbfs - level
    return apply_gain_pcm16(pcm, gain), gain


def normalize_loudness(x: np.ndarray, target_dbfs: float = -20.0) -> np.ndarray:
    """Mono float samples → 16 bit → :func:`normalize_pcm16`; returns float64 (N,) = int16/32768.

    >>> y = normalize_loudness(0.01 * np.sin(np.arange(16000) / 5.0))
    >>> round(pcm16_dbfs(np.round(y * 32768)), 1)
    -20.0
    """
    out, _ = normalize_pcm16(to_pcm16(x), target_dbfs)
    return out.astype(np.float64) / 32768.0


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


# RAPT (SPTK's C code under pysptk) keeps static state between calls: the same clip gets a different F0
# after another clip ran in the process. Each call therefore runs in a fresh interpreter that imports only
# numpy and pysptk (≈0.5 s), which is what the original's one-clip-per-process run computes.
_RAPT_WORKER = (
    "import sys, warnings\n"
    "warnings.simplefilter('ignore')\n"
    "import numpy as np, pysptk\n"
    "x = np.frombuffer(sys.stdin.buffer.read(), '<f4')\n"
    "lo, hi = float(sys.argv[1]), float(sys.argv[2])\n"
    "f0 = pysptk.sptk.rapt(x, 16000, 256, min=lo, max=hi, otype=2)\n"
    "sys.stdout.buffer.write(np.ascontiguousarray(f0, '<f4').tobytes())\n"
)


def rapt_input(wav: np.ndarray) -> np.ndarray:
    """What the original hands to RAPT: ``wav.astype(float32) * 32768`` (float32)."""
    return np.asarray(wav).astype(np.float32) * np.float32(32768)


def rapt_log_f0(wav: np.ndarray, fmin: float = 100.0, fmax: float = 600.0, fresh_process: bool = True) -> np.ndarray:
    """pysptk RAPT log-F0 per hop (T,), float32 as pysptk returns it; unvoiced frames are −1e10.

    ``fresh_process`` (default) runs RAPT in a new interpreter so the result does not depend on what
    ran before in this process; ``False`` calls pysptk here (stateful, for measurements).
    """
    x = rapt_input(wav)
    if not fresh_process:
        import pysptk

        return np.asarray(pysptk.sptk.rapt(x, SAMPLE_RATE, HOP, min=fmin, max=fmax, otype=2), np.float32)
    proc = subprocess.run(
        [sys.executable, "-c", _RAPT_WORKER, repr(float(fmin)), repr(float(fmax))],
        input=np.ascontiguousarray(x, "<f4").tobytes(), capture_output=True, check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["(no message)"]
        raise AudioError(f"F0 extraction (pysptk RAPT) failed: {tail[0]}")
    return np.frombuffer(proc.stdout, "<f4").astype(np.float32)


def normalize_log_f0(log_f0: np.ndarray) -> np.ndarray:
    """Speaker normalisation of voiced frames: ``((f0 − mean)/std/4)`` clipped to [−1, 1], then ``(·+1)/2``.

    mean/std are over this utterance's voiced frames, computed in the input's dtype (float32 from RAPT,
    as the original does); the result is float64; unvoiced frames keep their (negative) value.
    """
    src = np.asarray(log_f0)
    voiced = src != UNVOICED
    f0 = src.astype(np.float64)
    if not np.any(voiced):
        return f0
    mean, std = np.mean(src[voiced]), np.std(src[voiced])
    v = (f0[voiced] - mean) / (std if std > 0 else 1.0) / 4.0
    f0[voiced] = (np.clip(v, -1.0, 1.0) + 1.0) / 2.0
    return f0


def f0_onehot(f0_norm: np.ndarray) -> np.ndarray:
    """(T,) normalised F0 → (T, 257) one-hot: x ≤ 0 (unvoiced, or voiced at the clip floor) → bin 0,
    else bin ``round(x·255) + 1``."""
    f0 = np.asarray(f0_norm, np.float64)
    idx = np.where(f0 <= 0, 0, np.round(np.clip(f0, 0.0, 1.0) * 255).astype(np.int64) + 1)
    out = np.zeros((f0.shape[0], F0_BINS), np.float32)
    out[np.arange(f0.shape[0]), idx] = 1.0
    return out


@dataclass(frozen=True)
class Features:
    """Output of :func:`front_end` (every stage the original computes, for inspection and tests).

    Attributes:
        pcm16: int16 (N, C) 16 kHz samples as decoded (every channel).
        normalized_pcm16: int16 (N, C) after loudness normalisation (one gain for all channels).
        gain_db: that gain.
        raw: float32 (N,) mean of the channels of ``pcm16`` /32768: what resemblyzer reads from the raw file.
        normalized: float32 (N,) the same of ``normalized_pcm16`` (input of AutoVC's source embedding).
        mel: float64 (T, 80) feature ``S`` of channel 0 at 62.5 fps.
        log_f0: float32 (T,) RAPT log-F0 (None when F0 was not asked for).
        f0: float32 (T, 257) F0 one-hot aligned with ``mel`` (zeros when F0 was not asked for).
    """

    pcm16: np.ndarray
    normalized_pcm16: np.ndarray
    gain_db: float
    raw: np.ndarray
    normalized: np.ndarray
    mel: np.ndarray
    log_f0: np.ndarray | None
    f0: np.ndarray


def pcm16_of(audio: Audio) -> np.ndarray:
    """int16 (N, C) 16 kHz samples of ``audio``.

    Audio decoded by :func:`common.media.decode_audio` carries ffmpeg's own 16-bit samples of every
    channel (``pcm16``), exactly what the original's ``ffmpeg -ar 16000`` writes; other audio is
    resampled here (soxr) and quantised as ffmpeg does.
    """
    pcm = getattr(audio, "pcm16", None)
    if pcm is not None and audio.sample_rate == SAMPLE_RATE:
        pcm = np.asarray(pcm, np.int16)
        return pcm.reshape(pcm.shape[0], -1)
    return to_pcm16(resample_16k(audio))[:, None]


def channel_mean(pcm: np.ndarray) -> np.ndarray:
    """float32 (N,) mean of the channels of int16 (N, C), as librosa loads a 16-bit file in mono."""
    return np.mean(np.asarray(pcm).astype(np.float32) / np.float32(32768), axis=1)


def front_end(audio: Audio, f0_setting: str = "F", with_f0: bool = True) -> Features:
    """The original's audio path on ``audio`` (any rate): 16-bit samples, loudness, channel 0, mel, F0."""
    pcm = pcm16_of(audio)
    if pcm.shape[0] < N_FFT:
        raise AudioError(f"the speech is too short ({pcm.shape[0] / SAMPLE_RATE:.3f} s at 16 kHz)")
    norm, gain = normalize_pcm16(pcm)
    # soundfile reads 16-bit as int/32768 (float64); the original keeps the first channel
    wav = dither(highpass(pad_to_non_multiple(norm[:, 0].astype(np.float64) / 32768.0)))
    mel = mel_spectrogram(wav)
    log_f0 = None
    onehot = np.zeros((mel.shape[0], F0_BINS), np.float32)
    if with_f0:
        lo, hi = F0_RANGES[f0_setting]
        log_f0 = rapt_log_f0(wav, lo, hi)
        f0n = normalize_log_f0(log_f0)
        if f0n.shape[0] != mel.shape[0]:  # never seen: RAPT gives len//256+1 frames like the STFT
            f0n = np.concatenate([f0n, np.full(max(0, mel.shape[0] - f0n.shape[0]), UNVOICED)])[: mel.shape[0]]
        onehot = f0_onehot(f0n)
    return Features(pcm16=pcm, normalized_pcm16=norm, gain_db=gain, raw=channel_mean(pcm),
                    normalized=channel_mean(norm), mel=mel, log_f0=log_f0, f0=onehot)
