"""pocketsphinx phone decoding of one piece of speech, shared by :class:`Module1.cues.PhoneRecognizer` and its
worker processes.

Kept free of numpy/scipy/project imports on purpose: a spawned worker imports only this module and
pocketsphinx, so it starts in a fraction of a second. The same :func:`decode` runs in the parent
and in the workers, so a piece gives the same phones wherever it is decoded.
"""
from __future__ import annotations

from typing import Any

__all__ = ["PhoneDecoder", "new_decoder", "decode", "init_worker", "decode_in_worker"]

SAMPLE_RATE = 16000


class PhoneDecoder:
    """A decoder built once, with its initial cepstral mean and frame length (seconds)."""

    def __init__(self, decoder: Any, cmn0: str, frame_s: float) -> None:
        self.decoder, self.cmn0, self.frame_s = decoder, cmn0, frame_s


def new_decoder() -> PhoneDecoder:
    """The phonetic ("allphone") decoder on the en-us model of the pocketsphinx wheel.

    Raises ``RuntimeError`` when pocketsphinx or its model is unavailable.
    """
    try:
        import pocketsphinx as ps
    except Exception as exc:  # optional dependency
        raise RuntimeError(f"pocketsphinx is not importable: {exc}") from None
    base = ps.get_model_path("en-us")
    hmm = f"{base}/en-us"
    try:
        config = ps.Config(hmm=hmm, allphone=f"{base}/en-us-phone.lm.bin", lw=2.0, beam=1e-20, pbeam=1e-20,
                           samprate=SAMPLE_RATE, loglevel="FATAL")
        decoder = ps.Decoder(config)
        frate = config["frate"]
    except Exception as exc:
        raise RuntimeError(f"pocketsphinx phone decoder unavailable ({hmm}): {exc}") from None
    return PhoneDecoder(decoder, decoder.get_cmn(), 1.0 / float(frate or 100))


def decode(dec: PhoneDecoder, pcm: bytes) -> list[tuple[str, float, float]]:
    """Phones ``(phone, start_s, end_s)`` of one utterance of 16 kHz little-endian int16 samples."""
    d = dec.decoder
    # Fresh feature state (noise estimate, CMN) per piece: the phones of a piece must not
    # depend on what the decoder heard before (same audio, same video, whichever process decodes it).
    d.reinit_feat()
    d.set_cmn(dec.cmn0)
    d.start_utt()
    d.process_raw(pcm, no_search=False, full_utt=True)
    d.end_utt()
    return [(str(s.word), s.start_frame * dec.frame_s, (s.end_frame + 1) * dec.frame_s) for s in d.seg()]


_WORKER: PhoneDecoder | None = None


def init_worker() -> None:
    """Process-pool initializer: one decoder per worker process, reused for every piece it gets."""
    global _WORKER
    _WORKER = new_decoder()


def decode_in_worker(pcm: bytes) -> list[tuple[str, float, float]]:
    """:func:`decode` with this worker's decoder (built by :func:`init_worker`)."""
    if _WORKER is None:
        init_worker()
    assert _WORKER is not None
    return decode(_WORKER, pcm)


def main() -> None:
    """Worker process: read ``<JSON list of byte counts>\\n<int16 pieces back to back>`` on stdin, write
    the JSON list of each piece's phones on stdout.

    Run as ``python -P .../phone_worker.py`` (a script, not ``-m``): nothing but pocketsphinx is
    imported, and the caller's main module is never re-executed (as a spawned multiprocessing
    worker would do); JSON keeps every float exactly (shortest repr round-trips).
    """
    import json
    import sys

    data = sys.stdin.buffer.read()  # all of it at once, first: the parent never waits on this pipe
    head, _, body = data.partition(b"\n")
    dec = new_decoder()
    out, pos = [], 0
    for n in json.loads(head):
        out.append(decode(dec, body[pos:pos + n]))
        pos += n
    sys.stdout.write(json.dumps(out))


if __name__ == "__main__":
    main()
