"""The weight-free default predictor: speech cues → mouth, blinks and head motion on the photo's landmarks.

Lips open with the speech envelope and take their shape from phones recognised by
pocketsphinx (bundled en-us model, phonetic decoding) mapped to visemes; when the
recogniser is unavailable or finds nothing, the spectral balance stands in for the
phones. Eyes blink at random, seeded intervals and the head drifts slightly.
"""
from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

from common import Audio, LandmarkSequence

from .. import cues, motion
from ..config import Module1Config
from .base import PREDICTORS, LandmarkPredictor

__all__ = ["ProceduralPredictor"]

log = logging.getLogger(__name__)

# Share of the opening that the phone (vowel height) modulates; the rest follows the loudness alone.
_VISEME_SHARE = 0.55
# Phone openings below this (p/b/m, f/v, silence) close the lips whatever the loudness.
_CLOSE_BELOW = 0.12
# Share of a phone's opening kept however quiet the sound (soft final syllables still open).
_LOUD_FLOOR = 0.4
# Opening on f/v: a gap of ~4 % of the mouth width, which the renderer fills with the upper teeth.
_LABIODENTAL_OPEN = 0.12
# A recognised /t d k g/ this many dB quieter than both sides is a closure the lips make (None: off):
# the recogniser mistakes a /b/ for a /d/ or /g/ far more often than it misses the closure itself.
_STOP_DIP_DB: float | None = 15.0
# Speech the recogniser missed must come within this many dB of the clip's peak level.
_MISSED_RANGE_DB = 25.0


def _digest(x16: np.ndarray) -> str:
    """Identity of the 16 kHz samples whose phones :meth:`ProceduralPredictor.prepare_audio` kept."""
    import hashlib

    return hashlib.blake2b(np.ascontiguousarray(x16, dtype=np.float32).tobytes(), digest_size=16).hexdigest()


@PREDICTORS.register("procedural")
class ProceduralPredictor(LandmarkPredictor):
    """Envelope- and viseme-driven lips, random blinks and gentle head motion; needs no weights.

    Config used: ``seed`` (blinks, head motion), ``quiet`` (progress bars), ``amp_lip_y`` /
    ``amp_lip_x`` (lip opening / width gain, 2.0 = nominal, as MakeItTalk's defaults) and
    ``head_motion`` (multiplier of the head motion, 0 = still head; default 1.0).
    """

    name = "procedural"

    def __init__(self, cfg: Module1Config, use_phones: bool = True) -> None:
        super().__init__(cfg)
        self._recognizer: cues.PhoneRecognizer | None = None
        self._recognizer_error: str | None = None
        self._aligner: cues.TranscriptAligner | None = None
        if use_phones:
            try:
                self._recognizer = cues.PhoneRecognizer(quiet=cfg.quiet)
            except Exception as exc:  # optional: fall back to spectral cues
                self._recognizer_error = str(exc)
        else:
            self._recognizer_error = "phone recognition disabled"
        self._ahead: tuple[str, list[tuple[str, float, float]]] | None = None  # prepare_audio's phones
        # Phone segments (phone, start_s, end_s) that shaped the lips in the last predict() call,
        # None when lips followed energy and spectrum; read by the quality report, never re-recognised.
        self.phones: list[tuple[str, float, float]] | None = None

    def prepare_audio(self, audio: Audio, fps: float) -> None:
        """Recognise the phones of ``audio`` now (the slow, audio-only part); :meth:`predict` reuses them."""
        if self._recognizer is None or getattr(self.cfg, "transcript", None):
            return
        x = cues.to_16k(audio.samples, audio.sample_rate)
        key = _digest(x)
        if self._ahead is None or self._ahead[0] != key:
            self._ahead = (key, self._recognizer(x))

    def _recognise(self, x16: np.ndarray) -> list[tuple[str, float, float]]:
        assert self._recognizer is not None
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == _digest(x16):
            return ahead[1]
        return self._recognizer(x16)

    def predict(self, audio: Audio, source: np.ndarray, fps: float) -> LandmarkSequence:
        """Landmarks for ``audio``: (round(duration·fps), 68, 2), deterministic for ``cfg.seed``."""
        if not fps > 0:
            raise ValueError(f"fps must be positive; got {fps}")
        src = np.asarray(source, dtype=np.float32)
        if src.shape != (68, 2) or not np.all(np.isfinite(src)):
            raise ValueError(f"source must be a finite (68, 2) array; got {src.shape}")
        T = cues.n_frames(audio.duration, fps)
        x = cues.to_16k(audio.samples, audio.sample_rate)
        self.phones = None

        mouth, activity = self.mouth_tracks(x, T, fps, transcript=getattr(self.cfg, "transcript", None))
        amp_y = max(0.0, float(getattr(self.cfg, "amp_lip_y", 2.0)) / 2.0)
        amp_x = max(0.0, float(getattr(self.cfg, "amp_lip_x", 2.0)) / 2.0)
        pts = motion.mouth_shape(src, mouth[:, 0] * amp_y, mouth[:, 1] * amp_x, mouth[:, 2] * amp_x)

        rng = np.random.default_rng(self.cfg.seed)
        rng_blink, rng_head = rng.spawn(2)
        pts = motion.apply_blinks(pts, motion.blink_track(T, fps, rng_blink))

        amount = float(getattr(self.cfg, "head_motion", 1.0))
        if amount != 0.0:
            pose = motion.head_pose_track(T, fps, rng_head, activity=activity, amount=amount)
            pts = motion.apply_head_pose(pts, pose, motion.head_pivot(src), motion.face_size(src))
        return LandmarkSequence(points=pts, fps=float(fps), source=src)

    def mouth_tracks(self, x16: np.ndarray, T: int, fps: float, *, segments=None, transcript: str | None = None,
                     use_phones: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(T, 3) open/spread/round targets and (T,) voice activity for 16 kHz samples.

        ``segments`` (phone, start_s, end_s) replace recognition (the benchmark's true phones);
        ``use_phones=False`` gives the loudness-only mouth.
        """
        rms = cues.rms_track(x16)
        active = cues.voice_activity(rms)
        gate_grid = ndimage.gaussian_filter1d(active.astype(np.float64), 2.0, mode="nearest")
        loud_grid = cues.loudness(ndimage.gaussian_filter1d(rms.astype(np.float64), 1.5), active)
        gate = cues.to_frames(gate_grid, T, fps)
        loud = cues.to_frames(loud_grid, T, fps)
        if not np.any(active):
            log.info("landmarks: no speech found; mouth stays at rest")
            return np.zeros((T, 3), np.float32), gate

        segs = segments
        aligned = segs is not None
        if segs is None and transcript:
            segs = self._align(x16, transcript)
            aligned = segs is not None
        if segs is None and use_phones:
            segs = self._phones(x16, rms, active)
        if segs is not None:
            shape = cues.viseme_tracks(segs, T, fps)
            said = cues.speech_track(segs, T, fps)
            # A phone within _MISSED_RANGE_DB of the clip's peak level is speech, even under the
            # activity threshold (a soft final syllable); one over near-silence is not.
            db = 20.0 * np.log10(np.maximum(rms.astype(np.float64), 1e-10))
            loud_enough = db > float(np.percentile(db, 99)) - _MISSED_RANGE_DB
            # ... bridging quiet gaps under 150 ms (stop closures inside words).
            loud_enough = ndimage.binary_closing(np.pad(loud_enough, 15, mode="edge"), np.ones(15, bool))[15:-15]
            audible = cues.to_frames(loud_enough.astype(np.float64), T, fps)
            if aligned:  # true or aligned phones say where the speech is
                gate = ndimage.gaussian_filter1d(said * audible, 0.5, mode="nearest")
            else:  # per-clip adaptive voice activity
                gate = np.maximum(gate, ndimage.gaussian_filter1d(said * audible, 0.5, mode="nearest"))
            # The phone sets the opening (open vowels most, /i/ less), the loudness scales it;
            # quiet syllables keep a floor so that a soft final vowel still opens.
            vis = shape[:, 0]
            level = _LOUD_FLOOR + (1.0 - _LOUD_FLOOR) * loud
            open_ = level * (1.0 - _VISEME_SHARE + _VISEME_SHARE * vis) * np.clip(vis / _CLOSE_BELOW, 0.0, 1.0)
            # f/v: the lower lip comes up under the upper teeth (a narrow gap the teeth fill);
            # p/b/m: the lips meet. Both for at least one whole frame, whatever the smoothing did.
            fv = cues.closure_frames(segs, T, fps, phones=("F", "V"))
            open_[fv] = np.minimum(open_[fv], _LABIODENTAL_OPEN)
            open_[cues.closure_frames(segs, T, fps)] = 0.0
            spread, round_ = shape[:, 1], shape[:, 2]
        else:
            cue = cues.to_frames(ndimage.gaussian_filter1d(cues.spectral_shape(x16, rms.size), 3.0), T, fps)
            open_ = loud
            spread = np.clip(cue, 0.0, 1.0) * 0.8
            round_ = np.clip(-cue, 0.0, 1.0) * 0.8
        out = np.stack([open_ * gate, spread * gate, round_ * gate], axis=1)
        return out.astype(np.float32), gate

    def _align(self, x16: np.ndarray, transcript: str) -> list | None:
        """Phones of ``transcript`` aligned to the audio, or ``None`` after one notice (then recognition is used)."""
        try:
            if self._aligner is None:
                self._aligner = cues.TranscriptAligner()
            segs = self._aligner(x16, cues.read_transcript(transcript))
        except (cues.AlignmentError, RuntimeError, OSError) as exc:
            log.warning("NOTICE: the transcript was not used (%s); the lips follow recognised phones", exc)
            return None
        log.info("landmarks: lips follow the transcript, aligned to the speech (%d phones)",
                 sum(1 for p in segs if p[0] != "SIL"))
        self.phones = list(segs)
        return segs

    def _phones(self, x16: np.ndarray, rms: np.ndarray, active: np.ndarray) -> list | None:
        """Recognised phone segments (checked against the audio), or ``None`` (logged) to use spectral cues."""
        if self._recognizer is None:
            log.info("landmarks: phone recogniser unavailable (%s); lips follow energy and spectrum",
                     self._recognizer_error)
            return None
        try:
            segs = self._recognise(x16)
        except Exception as exc:  # never let the optional recogniser break the run
            log.warning("landmarks: phone recognition failed (%s); lips follow energy and spectrum", exc)
            return None
        speech = [s for s in segs if s[0].upper() in cues.VISEMES and s[0].upper() != "SIL"]
        if not speech:
            log.info("landmarks: no phones recognised; lips follow energy and spectrum")
            return None
        log.info("landmarks: lips follow %d recognised phones (pocketsphinx) and the energy envelope", len(speech))
        # Where the recogniser heard silence, only clear sound (within _MISSED_RANGE_DB of the
        # speech peak: not a breath, a room tail or a click) re-opens the mouth.
        db = 20.0 * np.log10(np.maximum(rms.astype(np.float64), 1e-10))
        strong = active & (db > float(np.percentile(db, 99)) - _MISSED_RANGE_DB)
        segs = cues.check_closures(segs, rms)
        if _STOP_DIP_DB is not None:
            segs = cues.stop_closures(segs, rms, min_dip_db=_STOP_DIP_DB)
        segs = cues.fill_missed_speech(segs, strong)
        self.phones = list(segs)
        return segs
