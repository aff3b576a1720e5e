"""Speaker embedding with resemblyzer's ``VoiceEncoder`` (weights ship in the wheel), built once."""
from __future__ import annotations

import logging

import numpy as np

__all__ = ["SpeakerEncoder", "SEGMENT_SAMPLES"]

log = logging.getLogger(__name__)

SEGMENT_SAMPLES = 16000 * 60  # the original embeds one-minute pieces and averages them


class SpeakerEncoder:
    """Holds one ``resemblyzer.VoiceEncoder``; :meth:`embed` may be called many times."""

    def __init__(self, device: str = "cpu") -> None:
        from resemblyzer import VoiceEncoder

        self.encoder = VoiceEncoder(device=device, verbose=False)

    def embed(self, samples_16k: np.ndarray) -> np.ndarray:
        """Mean utterance embedding (256,) float32 of 16 kHz speech, as resemblyzer embeds a file.

        The original calls it twice: on the file as decoded (the speaker branch's embedding) and on the
        loudness-normalised file (AutoVC's source speaker); both are mono means of the channels.

        resemblyzer's ``preprocess_wav`` (volume to −30 dBFS, long silences trimmed) runs first;
        pieces of one minute are embedded (``rate=2``) and their means averaged.
        """
        from resemblyzer import preprocess_wav

        wav = preprocess_wav(np.asarray(samples_16k, np.float32), source_sr=16000)
        if wav.size == 0:  # everything was trimmed as silence: embed what we were given
            wav = np.asarray(samples_16k, np.float32)
        n = max(1, len(wav) // SEGMENT_SAMPLES)
        embeds = []
        for i in range(n):
            piece = wav[SEGMENT_SAMPLES * i : SEGMENT_SAMPLES * (i + 1)]
            mean_embed, _, _ = self.encoder.embed_utterance(piece, return_partials=True, rate=2)
            embeds.append(mean_embed)
        return np.mean(np.asarray(embeds), axis=0).astype(np.float32)
