"""Audio cues for the weight-free landmark predictor: envelope, voice activity, phones → visemes.

Everything here is pure array maths on mono float32 samples except :class:`PhoneRecognizer`,
which wraps pocketsphinx's phonetic ("allphone") decoder with the en-us model shipped inside
the pocketsphinx wheel. Tracks come in two time bases:

* the *analysis grid*: one value every :data:`HOP_S` seconds (10 ms), value ``k`` centred at ``k·HOP_S``;
* *output frames*: ``T`` frames at ``fps``, frame ``i`` covering ``[i/fps, (i+1)/fps)``.

:func:`to_frames` box-averages an analysis-grid track onto output frames.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from common import Audio

from . import phone_worker

__all__ = [
    "TARGET_SR",
    "HOP_S",
    "VISEMES",
    "Viseme",
    "PhoneRecognizer",
    "TranscriptAligner",
    "AlignmentError",
    "read_transcript",
    "n_frames",
    "to_16k",
    "frame_envelope",
    "rms_track",
    "to_frames",
    "loudness",
    "voice_activity",
    "spectral_shape",
    "phone_segments",
    "check_closures",
    "stop_closures",
    "fill_missed_speech",
    "viseme_tracks",
    "closure_frames",
    "speech_track",
    "TRANSITION",
    "UNKNOWN",
]

log = logging.getLogger(__name__)

TARGET_SR = 16000
HOP_S = 0.01


def n_frames(duration: float, fps: float) -> int:
    """Number of output frames for ``duration`` seconds at ``fps``: ``round(duration·fps)``, at least 1."""
    return max(1, int(round(duration * fps)))


def to_16k(samples: np.ndarray, sr: int) -> np.ndarray:
    """Mono float32 samples resampled to :data:`TARGET_SR` (16 kHz); see :meth:`common.Audio.resampled`."""
    return Audio(np.asarray(samples, dtype=np.float32), int(sr)).resampled(TARGET_SR).samples


def _energy_between(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, block: int = 1 << 18) -> np.ndarray:
    """``sum(x[lo:hi] ** 2)`` (float64) for each pair, without whole-signal float64 copies.

    Same numbers as ``cumsum(x*x)`` on the whole signal (the running sum carries across
    blocks in the same order), but memory stays flat with the audio's length.
    """
    pos = np.concatenate([np.asarray(lo, np.int64), np.asarray(hi, np.int64)])
    order = np.argsort(pos, kind="stable")
    sp = pos[order]
    at = np.zeros(sp.size, dtype=np.float64)  # prefix sum at each position; position 0 → 0
    carry = 0.0
    for a in range(0, x.size, block):
        b = min(a + block, x.size)
        c = np.cumsum(np.concatenate([[carry], np.square(x[a:b], dtype=np.float64)]))  # c[i] = sum x[:a+i]**2
        i0, i1 = np.searchsorted(sp, a, "right"), np.searchsorted(sp, b, "right")
        at[i0:i1] = c[sp[i0:i1] - a]
        carry = float(c[-1])
    vals = np.empty_like(at)
    vals[order] = at
    return vals[lo.size:] - vals[:lo.size]


def frame_envelope(samples: np.ndarray, sr: int, fps: float, n: int | None = None) -> np.ndarray:
    """RMS of the samples inside each output frame.

    Args:
        samples: (N,) mono samples.
        sr: sample rate.
        fps: frame rate; frame ``i`` covers samples ``[round(i·sr/fps), round((i+1)·sr/fps))``.
        n: number of frames (default ``round(N/sr·fps)``, at least 1); frames past the end are 0.

    Returns:
        float32 (T,) linear RMS per frame.

    >>> env = frame_envelope(np.r_[np.zeros(800), np.ones(800)].astype(np.float32), 16000, 20)
    >>> env.tolist()
    [0.0, 1.0]
    """
    x = np.asarray(samples).reshape(-1)  # squared in float64 block by block
    T = n_frames(x.size / sr, fps) if n is None else int(n)
    edges = np.round(np.arange(T + 1) * (sr / fps)).astype(np.int64)
    edges = np.clip(edges, 0, x.size)
    energy = _energy_between(x, edges[:-1], edges[1:])
    count = edges[1:] - edges[:-1]
    out = np.zeros(T, dtype=np.float64)
    ok = count > 0
    out[ok] = np.sqrt(np.maximum(energy[ok], 0.0) / count[ok])
    return out.astype(np.float32)


def rms_track(samples16: np.ndarray, win_s: float = 0.025) -> np.ndarray:
    """RMS of 16 kHz samples (N,) on the analysis grid.

    Returns float32 (K,), ``K = ceil(N/160)``: one value per 10 ms hop, over a window of
    ``win_s`` seconds centred on the hop.
    """
    x = np.asarray(samples16).reshape(-1)  # squared in float64 block by block
    hop = int(round(HOP_S * TARGET_SR))
    K = max(1, int(np.ceil(x.size / hop)))
    half = int(round(win_s * TARGET_SR / 2))
    centres = np.arange(K) * hop
    lo = np.clip(centres - half, 0, x.size)
    hi = np.clip(centres + half, 0, x.size)
    cnt = np.maximum(hi - lo, 1)
    return np.sqrt(np.maximum(_energy_between(x, lo, hi), 0.0) / cnt).astype(np.float32)


def to_frames(track: np.ndarray, T: int, fps: float, hop_s: float = HOP_S) -> np.ndarray:
    """Box-average an analysis-grid track (K,) or (K, C) onto ``T`` output frames at ``fps``.

    The grid value ``k`` is taken as constant over ``[(k-½)·hop, (k+½)·hop)``; frames past the
    track's end repeat its last value. Returns float32 (T,) or (T, C).
    """
    a = np.asarray(track, dtype=np.float64)
    flat = a.reshape(a.shape[0], -1)
    K = flat.shape[0]
    # Piecewise-constant integral sampled at frame edges gives an exact box average.
    grid_edges = (np.arange(K + 1) - 0.5) * hop_s
    cum = np.vstack([np.zeros((1, flat.shape[1])), np.cumsum(flat * hop_s, axis=0)])
    f_edges = np.arange(T + 1) / fps
    f_clip = np.clip(f_edges, grid_edges[0], grid_edges[-1])
    cum_at = np.stack([np.interp(f_clip, grid_edges, cum[:, c]) for c in range(flat.shape[1])], axis=1)
    extra = np.maximum(f_edges - grid_edges[-1], 0.0)[:, None] * flat[-1][None, :]
    cum_at = cum_at + extra
    out = (cum_at[1:] - cum_at[:-1]) * fps
    out = out.reshape((T,) + a.shape[1:])
    return out.astype(np.float32)


def loudness(rms: np.ndarray, active: np.ndarray | None = None, power: float = 0.6) -> np.ndarray:
    """Normalised loudness in [0, 1] from a linear RMS track (any length).

    The reference level is the 95th percentile of the RMS over ``active`` values (all when
    ``None``), so normal speech peaks near 1 whatever the recording gain; ``power`` < 1
    compresses the dynamics so soft syllables still move the lips.
    """
    r = np.asarray(rms, dtype=np.float64)
    pool = r[active] if active is not None and np.any(active) else r
    ref = float(np.percentile(pool, 95)) if pool.size else 0.0
    if ref <= 1e-8:
        return np.zeros_like(r, dtype=np.float32)
    return np.clip(r / ref, 0.0, 1.0) ** power


def voice_activity(
    rms: np.ndarray,
    hop_s: float = HOP_S,
    margin_db: float = 12.0,
    range_db: float = 35.0,
    floor_dbfs: float = -55.0,
    min_pause_s: float = 0.08,
    min_burst_s: float = 0.04,
) -> np.ndarray:
    """Boolean (K,) voice activity of an RMS track sampled every ``hop_s`` seconds.

    A value is active when its level is ``margin_db`` above the noise floor (10th percentile),
    within ``range_db`` of the peak (99th percentile) and above ``floor_dbfs``. Pauses shorter
    than ``min_pause_s`` are bridged and bursts shorter than ``min_burst_s`` dropped.
    """
    r = np.asarray(rms, dtype=np.float64)
    if r.size == 0:
        return np.zeros(0, dtype=bool)
    db = 20.0 * np.log10(np.maximum(r, 1e-10))
    floor = float(np.percentile(db, 10))
    peak = float(np.percentile(db, 99))
    thr = max(floor + margin_db, peak - range_db, floor_dbfs)
    act = db > thr
    close = max(1, int(round(min_pause_s / hop_s)))
    opn = max(1, int(round(min_burst_s / hop_s)))
    # Pad so that closing does not shrink activity touching the ends.
    pad = close + opn
    act = np.pad(act, pad, mode="edge")
    act = ndimage.binary_closing(act, structure=np.ones(close, bool))
    act = ndimage.binary_opening(act, structure=np.ones(opn, bool))
    return act[pad:-pad]


def spectral_shape(samples16: np.ndarray, K: int | None = None) -> np.ndarray:
    """Lip-spread cue in [-1, 1] on the analysis grid (K,), from the spectral balance.

    The log ratio of energy in 1.8–5 kHz (high F2/F3 and frication: /i/, /s/) to energy in
    0.25–1.2 kHz (low F1/F2: /u/, /o/, /w/) is mapped so that > 0 means spread lips and
    < 0 rounded lips. Used only when no phone recogniser is available.
    """
    x = np.asarray(samples16, dtype=np.float32)
    hop = int(round(HOP_S * TARGET_SR))
    K = max(1, int(np.ceil(x.size / hop))) if K is None else int(K)
    if x.size < 512:
        return np.zeros(K, dtype=np.float32)
    n_fft, win = 512, 400
    # Frames centred on the 10 ms grid (a plain numpy STFT: it is all this needs).
    xp = np.pad(x, (win // 2, win // 2 + hop))
    frames = np.lib.stride_tricks.sliding_window_view(xp, win)[::hop][:K]
    S = np.abs(np.fft.rfft(frames * np.hanning(win).astype(np.float32), n=n_fft, axis=1)) ** 2
    f = np.fft.rfftfreq(n_fft, 1.0 / TARGET_SR)
    lo = S[:, (f >= 250) & (f < 1200)].sum(axis=1)
    hi = S[:, (f >= 1800) & (f < 5000)].sum(axis=1)
    ratio_db = 10.0 * np.log10((hi + 1e-10) / (lo + 1e-10))
    # Vowels sit around -25..0 dB; -12 dB is roughly neutral (/a/, /@/).
    cue = np.tanh((ratio_db + 12.0) / 10.0)
    out = np.zeros(K, dtype=np.float32)
    m = min(K, cue.size)
    out[:m] = cue[:m]
    if m < K:
        out[m:] = cue[-1] if cue.size else 0.0
    return out


class Viseme(NamedTuple):
    """Mouth target of one phone: ``open`` [0,1], ``spread`` [-1,1], ``round`` [0,1], coarticulation ``weight``."""

    open: float
    spread: float
    round: float
    weight: float


_REST = Viseme(0.0, 0.0, 0.0, 1.5)
# ARPAbet phones of the pocketsphinx en-us model. Bilabials carry a high weight so that
# smoothing cannot blur their closure away; vowels are the most open.
VISEMES: dict[str, Viseme] = {
    "SIL": _REST,
    "P": Viseme(0.0, 0.0, 0.0, 6.0), "B": Viseme(0.0, 0.0, 0.0, 6.0), "M": Viseme(0.0, 0.0, 0.0, 6.0),
    "F": Viseme(0.08, 0.15, 0.0, 3.0), "V": Viseme(0.08, 0.15, 0.0, 3.0),
    "TH": Viseme(0.22, 0.1, 0.0, 1.5), "DH": Viseme(0.22, 0.1, 0.0, 1.5),
    "T": Viseme(0.22, 0.25, 0.0, 1.0), "D": Viseme(0.22, 0.25, 0.0, 1.0), "N": Viseme(0.2, 0.2, 0.0, 1.0),
    "L": Viseme(0.3, 0.15, 0.0, 0.8), "S": Viseme(0.12, 0.45, 0.0, 1.5), "Z": Viseme(0.12, 0.45, 0.0, 1.5),
    "K": Viseme(0.32, 0.1, 0.0, 0.8), "G": Viseme(0.32, 0.1, 0.0, 0.8), "NG": Viseme(0.28, 0.1, 0.0, 0.8),
    "HH": Viseme(0.4, 0.0, 0.0, 0.5),
    "CH": Viseme(0.18, -0.2, 0.6, 1.5), "JH": Viseme(0.18, -0.2, 0.6, 1.5),
    "SH": Viseme(0.15, -0.2, 0.7, 1.5), "ZH": Viseme(0.15, -0.2, 0.7, 1.5),
    "R": Viseme(0.22, -0.1, 0.5, 1.0), "ER": Viseme(0.3, -0.1, 0.5, 1.0),
    "W": Viseme(0.1, -0.3, 1.0, 2.0), "Y": Viseme(0.2, 0.6, 0.0, 1.0),
    "AA": Viseme(1.0, 0.0, 0.0, 1.0), "AE": Viseme(0.85, 0.4, 0.0, 1.0), "AH": Viseme(0.7, 0.0, 0.0, 1.0),
    "AO": Viseme(0.8, -0.2, 0.5, 1.0), "AW": Viseme(0.8, -0.1, 0.4, 1.0), "AY": Viseme(0.9, 0.2, 0.0, 1.0),
    "EH": Viseme(0.6, 0.5, 0.0, 1.0), "EY": Viseme(0.5, 0.6, 0.0, 1.0), "IH": Viseme(0.38, 0.7, 0.0, 1.0),
    "IY": Viseme(0.25, 1.0, 0.0, 1.0), "OW": Viseme(0.55, -0.3, 0.8, 1.0), "OY": Viseme(0.6, -0.2, 0.6, 1.0),
    "UH": Viseme(0.35, -0.3, 0.7, 1.0), "UW": Viseme(0.2, -0.4, 1.0, 1.2),
}
# Noise / filler units (+NSN+, +SPN+, +BREATH+...): mouth mostly at rest, weak pull.
_NOISE = Viseme(0.05, 0.0, 0.0, 0.5)
# A segment that only carries its neighbours' shape (a rejected recognition).
TRANSITION = "~"
_TRANSITION = Viseme(0.0, 0.0, 0.0, 0.02)
# Speech the recogniser missed (it said silence): a neutral, half-open mouth that the loudness scales.
UNKNOWN = "?"
_UNKNOWN = Viseme(0.6, 0.0, 0.0, 0.5)
_BILABIALS = ("P", "B", "M")
_VOWELS = frozenset(("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"))


def _viseme(phone: str) -> Viseme:
    p = phone.strip().upper().rstrip("012")
    if p == TRANSITION:
        return _TRANSITION
    if p in (UNKNOWN, "+SPN+"):  # spoken noise is speech the model has no phone for
        return _UNKNOWN
    if p in VISEMES:
        return VISEMES[p]
    return _NOISE if p.startswith("+") or p.startswith("<") or p == "" else _REST


class PhoneRecognizer:
    """pocketsphinx phonetic decoder (en-us model from the wheel), built once and reused.

    Audio longer than one piece is decoded piece by piece in ``workers`` processes at once
    (default: the usable cores; 1 = all in this one): this process decodes some pieces while
    worker processes decode the others. The phones are the same as sequential decoding: every piece is
    one utterance on fresh feature state (:func:`Module1.phone_worker.decode`).
    Raises ``RuntimeError`` from ``__init__`` when pocketsphinx or its model is unavailable.
    """

    def __init__(self, quiet: bool = True, piece_s: float = 20.0, workers: int | None = None) -> None:
        self._dec = phone_worker.new_decoder()
        self.frame_s = self._dec.frame_s
        self.quiet = quiet
        self.piece_s = piece_s
        self.workers = workers

    def __call__(self, samples16: np.ndarray) -> list[tuple[str, float, float]]:
        """Phone segments ``(phone, start_s, end_s)`` of 16 kHz mono float samples.

        Long audio is cut at quiet points into pieces of about ``piece_s`` seconds,
        each decoded as one utterance (batch cepstral normalisation), so the result does
        not depend on what the decoder heard before, nor on which process decoded it.
        """
        x = np.asarray(samples16, dtype=np.float32)
        if x.size and (float(x.max()) > 1.0 or float(x.min()) < -1.0):  # decoded audio never is: no copy then
            x = np.clip(x, -1.0, 1.0)
        cuts = _quiet_cuts(x, self.piece_s)
        # Pieces too short to hold a phone are skipped.
        pieces = [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b - a >= TARGET_SR // 10]

        def pcm(i: int) -> bytes:  # one piece at a time (long speech)
            a, b = pieces[i]
            return (x[a:b] * 32767.0).astype("<i2").tobytes()

        found = self._decode_all([b - a for a, b in pieces], pcm)
        segs: list[tuple[str, float, float]] = []
        for (a, _), piece in zip(pieces, found):
            off = a / TARGET_SR
            segs.extend((phone, off + s, off + e) for phone, s, e in piece)
        return segs

    def _n_workers(self, n_pieces: int) -> int:
        """Worker processes to start besides this one: 0 for one piece, one core, or in a batch worker."""
        import multiprocessing

        if n_pieces < 2 or multiprocessing.parent_process() is not None:  # batch jobs already fill the cores
            return 0
        want = self.workers if self.workers is not None else len(os.sched_getaffinity(0))
        return max(0, min(int(want) - 1, n_pieces - 1))

    def _decode_all(self, sizes: list[int], pcm) -> list[list[tuple[str, float, float]]]:
        """Phones of the pieces of ``sizes`` samples, in order (``pcm(i)`` gives piece ``i``'s int16 bytes)."""
        from tqdm import tqdm

        n = len(sizes)
        out: list[list[tuple[str, float, float]] | None] = [None] * n
        bar = tqdm(total=n, desc="phones", unit="piece", disable=self.quiet or n < 2, leave=False)
        with bar:
            workers = self._n_workers(n)
            if workers:
                self._decode_parallel(sizes, pcm, out, workers, bar)
            for i in range(n):  # everything (sequential), or what the workers could not do
                if out[i] is None:
                    out[i] = phone_worker.decode(self._dec, pcm(i))
                    bar.update()
        return [o for o in out if o is not None]

    # Worker start-up (interpreter, pocketsphinx, model) in samples of decoding it could have done instead.
    _WORKER_START = 5 * TARGET_SR

    def _decode_parallel(self, sizes: list[int], pcm, out: list, workers: int, bar) -> None:
        """Fill ``out`` with the phones of pieces decoded by ``workers`` worker processes and by this one.

        Pieces are shared out longest first to whoever has the least to do (a worker counts its
        start-up); this process decodes its share while the workers decode theirs. Workers run
        :mod:`Module1.phone_worker` as a script (``python -P``): the caller's main module is not
        re-run, unlike multiprocessing's spawn. A worker that fails leaves its pieces to this process.
        """
        import json
        import subprocess
        import sys

        groups: list[list[int]] = [[] for _ in range(workers + 1)]  # 0: this process
        load = [0] + [self._WORKER_START] * workers
        for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
            k = int(np.argmin(load))
            groups[k].append(i)
            load[k] += sizes[i]
        procs: list[tuple[subprocess.Popen, list[int]]] = []
        try:
            for g in groups[1:]:
                if not g:
                    continue
                proc = None
                try:
                    proc = subprocess.Popen([sys.executable, "-P", phone_worker.__file__], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                    assert proc.stdin is not None
                    blob = [pcm(i) for i in g]
                    proc.stdin.write(json.dumps([len(b) for b in blob]).encode() + b"\n" + b"".join(blob))
                    proc.stdin.close()  # the worker reads everything first, so this returns at once
                    procs.append((proc, g))
                except OSError as exc:
                    log.warning("phones: no worker process (%s); decoding its pieces here", exc)
                    if proc is not None:
                        proc.kill()
                        proc.wait()
            for i in groups[0]:
                out[i] = phone_worker.decode(self._dec, pcm(i))
                bar.update()
            for proc, g in procs:
                assert proc.stdout is not None
                text = proc.stdout.read()
                try:
                    if proc.wait() != 0:
                        raise ValueError(f"exit status {proc.returncode}")
                    done = [[(str(p), float(s), float(e)) for p, s, e in piece] for piece in json.loads(text)]
                    if len(done) != len(g):
                        raise ValueError(f"{len(done)} pieces back of {len(g)}")
                except ValueError as exc:  # JSONDecodeError is one too
                    log.warning("phones: a worker process failed (%s); decoding its pieces here", exc)
                    continue
                for i, piece in zip(g, done):
                    out[i] = piece
                    bar.update()
        finally:
            for proc, _ in procs:  # only left running when this process was interrupted
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


class AlignmentError(Exception):
    """The transcript cannot be aligned with the audio (unknown words, or it does not fit)."""


def read_transcript(text_or_path: str) -> str:
    """The transcript text: ``text_or_path`` itself, or the contents of the ``.txt`` file it names."""
    from pathlib import Path

    t = str(text_or_path)
    if t.lower().endswith(".txt") and "\n" not in t:
        path = Path(t)
        if not path.is_file():
            raise FileNotFoundError(f"transcript file not found: {path}")
        return path.read_text(encoding="utf-8", errors="replace")
    return t


class TranscriptAligner:
    """Forced alignment of a transcript's words with pocketsphinx (en-us model and dictionary from the wheel).

    Alignment needs a decoder without a language model: the words are looked up in the
    bundled CMU dictionary and aligned in two passes (words, then phones). Raises
    ``RuntimeError`` from ``__init__`` when pocketsphinx is unavailable.
    """

    # Largest share of the voiced frames left to silence, and of the words' frames over silence.
    MAX_MISSED = 0.25
    MAX_OVER_SILENCE = 0.35
    # A phone held this long means the words were stretched over sound that is not there.
    MAX_PHONE_S = 0.6

    def __init__(self) -> None:
        try:
            import pocketsphinx as ps
        except Exception as exc:  # optional dependency
            raise RuntimeError(f"pocketsphinx is not importable: {exc}") from None
        base = ps.get_model_path("en-us")
        self._ps = ps
        # Wide beams: synthetic or accented voices fall far from the model and would be pruned away.
        self._config = dict(hmm=f"{base}/en-us", dict=f"{base}/cmudict-en-us.dict", lm=None,
                            samprate=TARGET_SR, loglevel="FATAL", beam=1e-80, wbeam=1e-60, pbeam=1e-80)
        self._decoder = self._new()
        self.phone_level = False  # whether the last call's phone timings came from the phone-level pass

    def _new(self):
        return self._ps.Decoder(self._ps.Config(**self._config))

    def words(self, text: str) -> list[str]:
        """Dictionary words of ``text`` (lower case, punctuation dropped); raises on unknown words."""
        toks = re.findall(r"[a-z0-9']+", text.lower().replace("\u2019", "'"))
        toks = [t.strip("'") for t in toks if t.strip("'")]
        if not toks:
            raise AlignmentError("the transcript has no words")
        unknown = sorted({t for t in toks if self._decoder.lookup_word(t) is None})
        if unknown:
            raise AlignmentError(f"words not in the pronouncing dictionary: {', '.join(unknown[:5])}")
        return toks

    def __call__(self, samples16: np.ndarray, text: str) -> list[tuple[str, float, float]]:
        """Phone segments ``(phone, start_s, end_s)`` of the transcript aligned to 16 kHz samples.

        Raises :class:`AlignmentError` when the words are unknown or do not fit the audio.
        """
        words = self.words(text)
        x = np.clip(np.asarray(samples16, dtype=np.float32), -1.0, 1.0)
        pcm = (x * 32767.0).astype("<i2").tobytes()
        # A fresh decoder per call: a reused one carries state (noise estimate, cepstral mean,
        # search) that changes, and can break, the next alignment.
        d = self._decoder = self._new()
        try:
            d.set_align_text(" ".join(words))
            # Prime the live cepstral mean on this audio first (from the model's default the
            # first words can fall out of the beam).
            d.start_utt()
            d.process_raw(pcm, no_search=True, full_utt=True)
            d.end_utt()
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            if d.hyp() is None:
                raise AlignmentError("the words do not fit the audio")
            word_segs = [(str(w.word), int(w.start_frame), int(w.end_frame) + 1) for w in d.seg()]
        except RuntimeError as exc:
            raise AlignmentError(f"the words do not fit the audio ({exc})") from None
        try:  # second pass: phone (state) level
            d.set_alignment()
            d.start_utt()
            d.process_raw(pcm, full_utt=True)
            d.end_utt()
            al = d.get_alignment()
            phones = [(str(p.name), int(p.start), int(p.duration)) for p in al.phones()]
            self.phone_level = True
        except RuntimeError:
            self.phone_level = False
            # The state-level pass sometimes cannot finish where the word pass did: share each
            # aligned word's time among its dictionary phones instead (vowels twice as long).
            phones = self._split_words(d, word_segs)
        if not phones:
            raise AlignmentError("the words do not fit the audio")
        frame_s = HOP_S
        # Fit: the words must cover the sound (speech aligned to silence, or words stretched
        # over pauses, mean the transcript is not what was said).
        act = voice_activity(rms_track(x))
        said = np.zeros(act.size, bool)
        for name, st, dur in phones:
            if name != "SIL":
                said[st:st + dur] = True
        n_act = max(1, int(act.sum()))
        missed = float((act & ~said[: act.size]).sum()) / n_act
        over_silence = float((~act & said[: act.size]).sum()) / max(1, int(said.sum()))
        if missed > self.MAX_MISSED or over_silence > self.MAX_OVER_SILENCE:
            raise AlignmentError(f"the words do not fit the audio ({100 * missed:.0f} % of the speech left out, "
                                 f"{100 * over_silence:.0f} % of the words over silence)")
        longest = max((p[2] for p in phones if p[0] != "SIL"), default=0) * frame_s
        if longest > self.MAX_PHONE_S:
            raise AlignmentError(f"the words do not fit the audio (a phone held {longest:.1f} s)")
        return [(name, s * frame_s, (s + dur) * frame_s) for name, s, dur in phones]

    @staticmethod
    def _split_words(d, word_segs: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        """Phones ``(name, start_frame, n_frames)`` from word segments and the dictionary."""
        out: list[tuple[str, int, int]] = []
        for word, a, b in word_segs:
            pron = None if word.startswith(("<", "[", "+")) else d.lookup_word(word)
            if not pron:
                out.append(("SIL", a, b - a))
                continue
            ph = pron.split()
            w = np.array([2.0 if p.rstrip("012") in _VOWELS else 1.0 for p in ph])
            edges = a + np.round(np.r_[0.0, np.cumsum(w)] / w.sum() * (b - a)).astype(int)
            out += [(p, int(s), int(e - s)) for p, s, e in zip(ph, edges[:-1], edges[1:]) if e > s]
        return out


def _quiet_cuts(x16: np.ndarray, piece_s: float) -> list[int]:
    """Sample indices ``[0, ..., N]`` cutting ``x16`` at its quietest 10 ms within ±25 % of every ``piece_s``."""
    n = x16.size
    step = int(piece_s * TARGET_SR)
    if n <= 1.5 * step:
        return [0, n]
    r = rms_track(x16)
    hop = int(round(HOP_S * TARGET_SR))
    cuts = [0]
    while n - cuts[-1] > 1.5 * step:
        lo = (cuts[-1] + int(0.75 * step)) // hop
        hi = (cuts[-1] + int(1.25 * step)) // hop
        cuts.append(int((lo + int(np.argmin(r[lo:hi]))) * hop))
    cuts.append(n)
    return cuts


def phone_segments(samples: np.ndarray, sr: int, recognizer: PhoneRecognizer | None = None
                   ) -> list[tuple[str, float, float]]:
    """Phones of mono speech as ``[(phone, start_s, end_s), ...]`` (ARPAbet, ``SIL`` for pauses).

    Uses ``recognizer`` or builds one; raises ``RuntimeError`` when pocketsphinx is unavailable.
    """
    rec = recognizer if recognizer is not None else PhoneRecognizer()
    return rec(to_16k(samples, sr))


def check_closures(
    segments: Sequence[tuple[str, float, float]],
    rms: np.ndarray,
    hop_s: float = HOP_S,
    min_dip_db: float = 6.0,
    context_s: float = 0.12,
) -> list[tuple[str, float, float]]:
    """Reject bilabials (P, B, M) that the audio does not support.

    Lips closed on /p b m/ silence or muffle the sound, so a true bilabial's quietest
    10 ms lies at least ``min_dip_db`` below the loudest sound within ``context_s``
    around it. Bilabials without that dip (recognition errors inside loud vowels) are
    relabelled :data:`TRANSITION` so that they take their neighbours' shape instead of
    snapping the mouth shut. ``rms`` is the analysis-grid RMS (:func:`rms_track`).
    """
    db = _db_track(rms)
    out = []
    ctx = max(1, int(round(context_s / hop_s)))
    for phone, start, end in segments:
        if phone.upper() in _BILABIALS and db.size:
            before, inside, after = _around(db, start, end, hop_s, ctx)
            around = np.r_[before, after]
            if around.size == 0 or around.max() - inside.min() < min_dip_db:
                phone = TRANSITION
        out.append((phone, start, end))
    return out


def stop_closures(
    segments: Sequence[tuple[str, float, float]],
    rms: np.ndarray,
    hop_s: float = HOP_S,
    min_dip_db: float = 12.0,
    context_s: float = 0.12,
    stops: Sequence[str] = ("T", "D", "K", "G"),
) -> list[tuple[str, float, float]]:
    """Shut the lips on stop closures the audio clearly shows, whatever place the recogniser gave.

    The recogniser often hears a /b/ or /p/ as /d/, /g/ or /t/ (the place of a closure is
    what it gets wrong, not the closure). A stop whose quietest 10 ms lies ``min_dip_db`` below
    the loudest sound on both sides within ``context_s`` is a silent closure: it becomes a
    bilabial, so the lips meet there. Costs closures on some true /t d k g/ (counted by the
    benchmark's "closed elsewhere" column).
    """
    db = _db_track(rms)
    if db.size == 0:
        return list(segments)
    ctx = max(1, int(round(context_s / hop_s)))
    want = {p.upper() for p in stops}
    out = []
    for phone, start, end in segments:
        if phone.upper() in want:
            before, inside, after = _around(db, start, end, hop_s, ctx)
            if before.size and after.size and min(before.max(), after.max()) - inside.min() >= min_dip_db:
                phone = "B"
        out.append((phone, start, end))
    return out


def _db_track(rms: np.ndarray) -> np.ndarray:
    """The analysis-grid RMS in dB (floored at -200 dB)."""
    return 20.0 * np.log10(np.maximum(np.asarray(rms, dtype=np.float64), 1e-10))


def _around(
    db: np.ndarray, start: float, end: float, hop_s: float, ctx: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``db`` before, inside and after the segment [start, end) on the grid (``ctx`` hops each side)."""
    a = int(np.clip(np.floor(start / hop_s), 0, db.size - 1))
    b = int(np.clip(np.ceil(end / hop_s), a + 1, db.size))
    return db[max(0, a - ctx):a], db[a:b], db[b:b + ctx]


def fill_missed_speech(
    segments: Sequence[tuple[str, float, float]],
    active: np.ndarray,
    hop_s: float = HOP_S,
    min_s: float = 0.08,
) -> list[tuple[str, float, float]]:
    """Relabel the parts of ``SIL`` segments where ``active`` (voice activity on the grid) says speech.

    Runs of activity of at least ``min_s`` inside a pause become :data:`UNKNOWN` segments, so
    the lips keep moving with the sound where the recogniser lost track of it.
    """
    act = np.asarray(active, dtype=bool)
    out: list[tuple[str, float, float]] = []
    for phone, start, end in segments:
        if phone.upper() != "SIL" or act.size == 0:
            out.append((phone, start, end))
            continue
        a = int(np.clip(np.ceil(start / hop_s), 0, act.size))
        b = int(np.clip(np.floor(end / hop_s), a, act.size))
        run = act[a:b].astype(np.int8)
        edges = np.flatnonzero(np.diff(np.r_[0, run, 0]))
        t = start
        for ra, rb in zip(edges[::2], edges[1::2]):
            if (rb - ra) * hop_s < min_s:
                continue
            ta, tb = (a + ra) * hop_s, (a + rb) * hop_s
            if ta > t:
                out.append((phone, t, ta))
            out.append((UNKNOWN, ta, tb))
            t = tb
        if end > t:
            out.append((phone, t, end))
    return out


def _gauss_weighted(values: np.ndarray, weights: np.ndarray, sigma: float) -> np.ndarray:
    num = ndimage.gaussian_filter1d(values * weights[:, None], sigma, axis=0, mode="nearest")
    den = ndimage.gaussian_filter1d(weights, sigma, mode="nearest")
    return num / np.maximum(den, 1e-9)[:, None]


def viseme_tracks(
    segments: Iterable[tuple[str, float, float]],
    T: int,
    fps: float,
    sigma_s: float = 0.03,
    lead_s: float = 0.02,
) -> np.ndarray:
    """Per-frame mouth targets from phone segments.

    Each phone's :class:`Viseme` is laid on the 10 ms grid, the grid is smoothed by a
    dominance-weighted Gaussian (``sigma_s``; heavy bilabials keep their closure) and
    shifted ``lead_s`` earlier (lips anticipate the sound), then box-averaged to frames.

    Returns:
        float32 (T, 3): columns ``open`` [0,1], ``spread`` [-1,1], ``round`` [0,1].
    """
    K = max(1, int(np.ceil((T / fps) / HOP_S)) + 1)
    vals = np.zeros((K, 3), dtype=np.float64)
    wts = np.full(K, _REST.weight, dtype=np.float64)
    t = np.arange(K) * HOP_S + lead_s
    for phone, start, end in segments:
        v = _viseme(phone)
        sel = (t >= start) & (t < end)
        vals[sel] = (v.open, v.spread, v.round)
        wts[sel] = v.weight
    sm = _gauss_weighted(vals, wts, sigma_s / HOP_S)
    out = to_frames(sm, T, fps)
    out[:, 0] = np.clip(out[:, 0], 0.0, 1.0)
    out[:, 1] = np.clip(out[:, 1], -1.0, 1.0)
    out[:, 2] = np.clip(out[:, 2], 0.0, 1.0)
    return out.astype(np.float32)


def closure_frames(
    segments: Iterable[tuple[str, float, float]],
    T: int,
    fps: float,
    lead_s: float = 0.02,
    phones: Sequence[str] = _BILABIALS,
) -> np.ndarray:
    """Frames where the lips must meet: bool (T,).

    Every segment of ``phones`` (shifted ``lead_s`` earlier, as :func:`viseme_tracks`) marks the
    frame it overlaps most, and every frame it covers for at least half its length, so that a
    30 ms /b/ still closes the mouth for one whole frame after the smoothing that blurs it.
    """
    out = np.zeros(int(T), dtype=bool)
    want = {p.upper() for p in phones}
    for phone, start, end in segments:
        if phone.strip().upper().rstrip("012") not in want or end <= start:
            continue
        a, b = (start - lead_s) * fps, (end - lead_s) * fps
        i0, i1 = int(np.floor(a)), int(np.ceil(b))
        idx = np.arange(max(0, i0), min(int(T), max(i1, i0 + 1)))
        if idx.size == 0:
            continue
        overlap = np.minimum(idx + 1, b) - np.maximum(idx, a)
        out[idx[int(np.argmax(overlap))]] = True
        out[idx[overlap >= 0.5]] = True
    return out


def speech_track(segments: Iterable[tuple[str, float, float]], T: int, fps: float, lead_s: float = 0.02) -> np.ndarray:
    """Share of each frame covered by speech phones (anything but SIL and noise units): float32 (T,)."""
    K = max(1, int(np.ceil((T / fps) / HOP_S)) + 1)
    grid = np.zeros(K, dtype=np.float64)
    t = np.arange(K) * HOP_S + lead_s
    for phone, start, end in segments:
        p = phone.strip().upper().rstrip("012")
        if p in VISEMES and p != "SIL" or p in (UNKNOWN, "+SPN+"):
            grid[(t >= start) & (t < end)] = 1.0
    return np.clip(to_frames(grid, T, fps), 0.0, 1.0)
