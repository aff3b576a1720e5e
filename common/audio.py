"""In-memory audio: mono float32 samples and their rate."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Audio", "level_dbfs"]


@dataclass(frozen=True)
class Audio:
    """Mono speech held in memory (the user's file is never rewritten).

    Attributes:
        samples: float32 (N,) in [-1, 1].
        sample_rate: samples per second.
    """

    samples: np.ndarray
    sample_rate: int

    def __post_init__(self) -> None:
        s = np.asarray(self.samples, dtype=np.float32)
        if s.ndim != 1:
            raise ValueError(f"samples must be 1-D (mono); got shape {s.shape}")
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive; got {self.sample_rate}")
        object.__setattr__(self, "samples", s)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / float(self.sample_rate)

    def resampled(self, sample_rate: int) -> Audio:
        """The same speech at ``sample_rate`` (soxr high quality, as librosa's ``soxr_hq``)."""
        if int(sample_rate) == self.sample_rate:
            return self  # immutable: sharing the samples costs nothing (long speech is tens of MB)
        if self.samples.size == 0:
            return Audio(self.samples, int(sample_rate))
        import soxr  # imported here: librosa's resample path costs ~1 s of import time

        y = soxr.resample(self.samples, self.sample_rate, int(sample_rate), quality="HQ")
        return Audio(np.asarray(y, dtype=np.float32), int(sample_rate))

    def rms_dbfs(self) -> float:
        """Root-mean-square level in dB relative to full scale (-inf for digital silence)."""
        return level_dbfs(self.samples)


def level_dbfs(samples: np.ndarray, block: int = 1 << 20) -> float:
    """RMS level of ``samples`` (any shape; float in [-1, 1]) in dBFS, -inf for digital silence.

    Summed in float64 block by block: no whole-signal float64 copy of long speech.
    """
    flat = np.asarray(samples).reshape(-1)
    if flat.size == 0:
        return float("-inf")
    total = 0.0
    for a in range(0, flat.size, block):
        total += float(np.square(flat[a:a + block], dtype=np.float64).sum())
    rms = float(np.sqrt(total / flat.size))
    return 20.0 * float(np.log10(rms)) if rms > 0 else float("-inf")
