"""The neural predictor ``makeittalk``: AutoVC content features → content + speaker-aware branches.

Loads the released checkpoints once (``--load_AUTOVC_name``, ``--load_a2l_C_name``, ``--load_a2l_G_name``)
and the original's constant files (``module1_constants``). Per utterance it computes what the original
(AnimatePortrait's end-to-end script around MakeItTalk's inference) computes, frame for frame:

1. front end (Module1.audio): ffmpeg's 16-bit 16 kHz samples of every channel, pydub's −20 dBFS gain,
   channel 0 → mel S and F0 one-hot (RAPT in a fresh process);
2. two resemblyzer embeddings: of the file as decoded (the speaker branch's, × emb_coef) and of the
   normalised file (AutoVC's source speaker);
3. AutoVC conversion to the target speaker in chunks of 4096 frames, standardised with the 80 means/stds;
4. T−18 windows of 18 frames, segments of 512 windows, a last segment of fewer than 10 windows dropped;
   per segment: speaker branch (z = 0) smoothed, mouth closed, × amp_pos; content branch calibrated,
   lips × amp_lip_x/y; + face_id; inverted lips fixed — in float32 like the original;
5. nose top, Savitzky–Golay 5, the ``'%.6f'`` text round trip; then the end-to-end post-processing:
   un-normalise, eyelids and blinks (``RandomState(cfg.seed)``), Savitzky–Golay 15/5;
6. linear resampling from 62.5 fps to the output rate, ``round(duration·fps)`` frames.

Tail: the original's T' frames (one per kept window) end up to 27 feature frames (0.43 s) before the audio
does. They are kept unchanged, and the remaining frames up to the end of the audio are appended from a
separate prediction over the last 512 windows of the feature padded with its last frame (smoothed with the
original's last frames for continuity, never changing them).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.signal import savgol_filter
from tqdm import tqdm

from common import Audio, AudioError, CheckpointError, LandmarkSequence, UserError
from common.checkpoint import load_state_dict, read_checkpoint
from common.device import select_device

from .. import audio as fe
from ..config import Module1Config
from ..constants import load_constants, missing_constant
from ..data import WINDOW, windows
from ..face import (
    add_naive_eye,
    blink_times,
    calibrate_content,
    close_pose_mouth,
    denorm_face,
    fix_inverted_lips,
    fix_nose_top,
    norm_input_face,
    smooth_face,
    tweak_lips_eyes,
)
from ..nets import SPEAKER_DROP_PREFIXES, Audio2landmarkContent, Audio2landmarkPos, Generator
from .base import PREDICTORS, LandmarkPredictor

__all__ = [
    "MakeItTalkPredictor",
    "SEGMENT",
    "MIN_SEGMENT",
    "AUTOVC_CHUNK",
    "Trace",
    "load_networks",
    "autovc_convert",
    "segment_bounds",
    "speaker_sg_window",
    "text_round_trip",
]

log = logging.getLogger(__name__)

SEGMENT = 512  # windows per transformer sequence (its positional table has 512 rows)
MIN_SEGMENT = 10  # the original drops a shorter segment
AUTOVC_CHUNK = 4096
_PAD_BASE = 32


def load_networks(cfg: Module1Config, device: torch.device | str = "cpu") -> tuple[Generator, Audio2landmarkContent, Audio2landmarkPos]:
    """The three networks, strictly loaded from ``cfg``'s checkpoint paths, in eval mode on ``device``."""
    autovc = load_state_dict(cfg.load_AUTOVC_name, Generator(16, 256, 512, 16), key="model")
    content = load_state_dict(cfg.load_a2l_C_name, Audio2landmarkContent(), key="model_g_face_id")
    # released speaker files carry comb_mlp.* weights the inference class does not have
    speaker = load_state_dict(cfg.load_a2l_G_name, Audio2landmarkPos(), key="G", drop_prefixes=SPEAKER_DROP_PREFIXES)
    return tuple(n.to(device).eval() for n in (autovc, content, speaker))  # type: ignore[return-value]


@torch.no_grad()
def autovc_convert(
    generator: Generator,
    mel: np.ndarray,
    f0: np.ndarray,
    emb: np.ndarray,
    target_emb: np.ndarray,
    device: torch.device | str = "cpu",
    quiet: bool = True,
) -> np.ndarray:
    """Convert (T, 80) mel with its (T, 257) F0 one-hot from speaker ``emb`` to ``target_emb``.

    Chunks of 4096 frames, each zero-padded to a multiple of 32; the post-net mels are concatenated
    and the padding removed: (T, 80) float32.
    """
    dev = torch.device(device)
    emb_src = torch.from_numpy(np.asarray(emb, np.float32)[None]).to(dev)
    emb_trg = torch.from_numpy(np.asarray(target_emb, np.float32)[None]).to(dev)
    outs = []
    for i in tqdm(range(0, mel.shape[0], AUTOVC_CHUNK), desc="AutoVC", disable=quiet, leave=False):
        x, f = mel[i : i + AUTOVC_CHUNK], f0[i : i + AUTOVC_CHUNK]
        pad = (-x.shape[0]) % _PAD_BASE
        xt = torch.from_numpy(np.pad(x.astype(np.float32), ((0, pad), (0, 0)))[None]).to(dev)
        ft = torch.from_numpy(np.pad(f.astype(np.float32), ((0, pad), (0, 0)))[None]).to(dev)
        _, post, _ = generator(xt, emb_src, ft, emb_trg, ft)
        outs.append(post[0, : post.shape[1] - pad].cpu().numpy())
    return np.concatenate(outs, axis=0).astype(np.float32)


def segment_bounds(n_windows: int) -> list[tuple[int, int, bool]]:
    """(start, end, kept) of each segment of 512 windows; a segment of fewer than 10 windows is not kept."""
    return [(j, min(j + SEGMENT, n_windows), min(j + SEGMENT, n_windows) - j >= MIN_SEGMENT)
            for j in range(0, n_windows, SEGMENT)]


def speaker_sg_window(b: int) -> int:
    """The original's Savitzky–Golay window for a segment of ``b`` windows: 2·⌊min(b−1, 31)/2⌋ + 1."""
    return 2 * (min(b - 1, 31) // 2) + 1


def _savgol(x: np.ndarray, window: int, order: int = 3) -> np.ndarray:
    """``savgol_filter`` over axis 0 in the input's dtype; too short a sequence is returned as is."""
    window = min(window, x.shape[0] if x.shape[0] % 2 else x.shape[0] - 1)
    if window <= order:
        return np.array(x, copy=True)
    return savgol_filter(x, window, order, axis=0)


def text_round_trip(x: np.ndarray) -> np.ndarray:
    """Values as the original writes them with ``'%.6f'`` and reads them back: float64.

    ``k / 1e6`` is the double nearest to the decimal ``'%.6f'`` prints (IEEE division rounds correctly);
    only values whose scaled fraction is near one half are formatted as text to choose ``k``.
    """
    v = np.asarray(x, np.float64)
    scaled = v * 1e6
    k = np.rint(scaled)
    near_half = np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) < 1e-3
    if np.any(near_half):
        k[near_half] = np.char.mod("%.6f", v[near_half]).astype(np.float64) * 1e6
        k[near_half] = np.rint(k[near_half])
    return k / 1e6


@dataclass
class Trace:
    """Intermediates of one utterance, filled when passed to the stages (tests, debugging).

    Keys follow the stages: per kept segment ``g_out``, ``spk_encode``, ``spk_sg``, ``spk_post``,
    ``c_out``, ``c_calib``, ``pos_plus_content``, ``after_lipfix`` (concatenated over the kept
    segments), and ``segment_bounds``, ``after_nose_fix``, ``pred_fls_exact`` (T', 204), ``final_landmarks_px`` (T', 68, 2).
    """

    arrays: dict[str, list[np.ndarray]] = field(default_factory=dict)
    values: dict[str, object] = field(default_factory=dict)

    def add(self, key: str, value: np.ndarray) -> None:
        self.arrays.setdefault(key, []).append(np.array(value, copy=True))

    def __getitem__(self, key: str) -> object:
        if key in self.values:
            return self.values[key]
        return np.concatenate(self.arrays[key], axis=0)


@PREDICTORS.register("makeittalk")
class MakeItTalkPredictor(LandmarkPredictor):
    """MakeItTalk/AnimatePortrait Module1 with the released (or retrained) checkpoints."""

    name = "makeittalk"

    @classmethod
    def unavailable_reason(cls, cfg: Module1Config) -> str | None:
        from . import makeittalk_unavailable  # one check, shared with the lazy registry entry

        return makeittalk_unavailable(cfg)

    def __init__(self, cfg: Module1Config) -> None:
        super().__init__(cfg)
        reason = self.unavailable_reason(cfg)
        if reason is not None:
            raise CheckpointError(reason)
        if cfg.feature not in ("autovc", "mel"):
            raise UserError(f"Module1 feature must be 'autovc' or 'mel'; got {cfg.feature!r}")
        self.device = select_device(cfg.device, who="Module1")
        self._load_statistics(cfg)
        if cfg.feature == "mel":
            self.autovc = None
            self.content = load_state_dict(cfg.load_a2l_C_name, Audio2landmarkContent(), key="model_g_face_id")
            self.speaker = load_state_dict(cfg.load_a2l_G_name, Audio2landmarkPos(), key="G",
                                           drop_prefixes=SPEAKER_DROP_PREFIXES)
            self.content.to(self.device).eval()
            self.speaker.to(self.device).eval()
        else:
            self.autovc, self.content, self.speaker = load_networks(cfg, self.device)
        from ..speaker import SpeakerEncoder

        self.spk_encoder = SpeakerEncoder(device=str(self.device))

    def _load_statistics(self, cfg: Module1Config) -> None:
        """Feature mean/std and reference face: those a Module1 trainer stored in the content checkpoint
        (its dataset's own), else the original's constant files; AutoVC's target speaker from the latter."""
        ck = read_checkpoint(cfg.load_a2l_C_name)
        trained = ck.get("feature")
        if trained is not None and trained != cfg.feature:
            raise UserError(f"{cfg.load_a2l_C_name} was trained on '{trained}' features: run with --feature {trained}")
        consts = load_constants(cfg.constants_dir) if missing_constant(cfg.constants_dir) is None else None
        if "au_mean_std" in ck:
            ms = np.asarray(ck["au_mean_std"], np.float64).reshape(-1)
            self.mel_mean, self.mel_std = ms[:80], ms[80:]
        elif consts is not None:
            self.mel_mean, self.mel_std = consts.mel_mean, consts.mel_std
        else:
            raise CheckpointError(f"no feature statistics: {cfg.load_a2l_C_name} carries none and "
                                  f"{missing_constant(cfg.constants_dir)} is missing (set --module1_constants)")
        if "std_face" in ck:
            self.std_face = np.asarray(ck["std_face"], np.float64).reshape(68, 3)
        elif consts is not None:
            self.std_face = consts.std_face
        else:
            raise CheckpointError(f"no reference face: {missing_constant(cfg.constants_dir)} is missing")
        self.target_emb = consts.target_emb if consts is not None else None

    # ---- stages -------------------------------------------------------------------------
    def convert(self, mel: np.ndarray, f0: np.ndarray, emb: np.ndarray) -> np.ndarray:
        """AutoVC: (T, 80) mel + (T, 257) F0 one-hot + source embedding → (T, 80) post-net mel."""
        if self.autovc is None or self.target_emb is None:
            raise UserError("AutoVC is not loaded (--feature mel)")
        return autovc_convert(self.autovc, mel, f0, emb, self.target_emb, self.device, self.cfg.quiet)

    def standardise(self, autovc_out: np.ndarray) -> np.ndarray:
        """(T, 80) AutoVC output → (T, 80) float64 feature, (x − MEAN)/STD."""
        return (np.asarray(autovc_out) - self.mel_mean) / self.mel_std

    def audio_feature(self, audio: Audio) -> tuple[np.ndarray, np.ndarray]:
        """Standardised (T, 80) float64 feature and the speaker branch's (256,) embedding of ``audio``.

        The speaker branch gets the embedding of the samples as decoded; AutoVC's source embedding is
        that of the loudness-normalised samples (the original embeds the file before and after
        normalising it in place).
        """
        if self.cfg.feature == "mel":  # branches trained on the plain mel (Module1.prepare --feature mel)
            feats = fe.front_end(audio, with_f0=False)
            return self.standardise(feats.mel.astype(np.float32)), self.spk_encoder.embed(feats.raw)
        feats = fe.front_end(audio)
        emb_raw = self.spk_encoder.embed(feats.raw)
        emb_norm = self.spk_encoder.embed(feats.normalized)
        return self.standardise(self.convert(feats.mel, feats.f0, emb_norm)), emb_raw

    @torch.no_grad()
    def _segment(self, au: np.ndarray, emb: np.ndarray, face_id: np.ndarray, trace: Trace | None) -> np.ndarray:
        """One segment of B windows (B, 18, 80) float32 → (B, 204) float32 landmarks (before the nose fix)."""
        cfg, dev = self.cfg, self.device
        b = au.shape[0]
        au_t = torch.from_numpy(np.ascontiguousarray(au, np.float32)).to(dev)
        face = torch.from_numpy(np.asarray(face_id, np.float32).reshape(1, 204)).to(dev)
        emb_t = torch.from_numpy(np.asarray(emb, np.float32).reshape(1, 256) * np.float32(cfg.emb_coef)).to(dev)
        disp, _, spk_code = self.speaker(au_t, emb_t.repeat(b, 1), face.repeat(b, 1),
                                         torch.zeros(b, 204, device=dev), torch.zeros(b, 128, device=dev))
        g_out = disp.cpu().numpy()
        spk_sg = _savgol(g_out, speaker_sg_window(b), 3)
        spk_post = close_pose_mouth(spk_sg, 0.99) * np.float32(cfg.amp_pos)
        c_out = self.content(au_t, face)[0].cpu().numpy()
        c_calib = calibrate_content(c_out, cfg.amp_lip_x, cfg.amp_lip_y)
        both = (spk_post + c_calib).astype(np.float32)
        fls = fix_inverted_lips(both + np.asarray(face_id, np.float32).reshape(1, 204))
        if trace is not None:
            for key, arr in (("g_out", g_out), ("spk_encode", spk_code.cpu().numpy()), ("spk_sg", spk_sg),
                             ("spk_post", spk_post), ("c_out", c_out), ("c_calib", c_calib),
                             ("pos_plus_content", both), ("after_lipfix", fls)):
                trace.add(key, arr)
        return fls

    def predict_normalized(self, feature: np.ndarray, emb: np.ndarray, face_id: np.ndarray,
                           trace: Trace | None = None) -> np.ndarray:
        """(T, 80) standardised feature → (T', 204) float32 normalised landmarks, the original's
        ``pred_fls`` before it is written as text (T' = windows of the kept segments; 0 when none)."""
        au_all = windows(np.asarray(feature).astype(np.float32))  # (T−18, 18, 80)
        bounds = segment_bounds(au_all.shape[0])
        if trace is not None:
            trace.values["segment_bounds"] = bounds
        out = [self._segment(au_all[s:e], emb, face_id, trace)
               for s, e, kept in tqdm(bounds, desc="landmarks", disable=self.cfg.quiet, leave=False) if kept]
        if not out:
            return np.zeros((0, 204), np.float32)
        fls = fix_nose_top(np.concatenate(out, axis=0))
        if trace is not None:
            trace.values["after_nose_fix"] = fls
        return _savgol(fls, 5, 3)

    def _tail_normalized(self, feature: np.ndarray, emb: np.ndarray, face_id: np.ndarray, first: int) -> np.ndarray:
        """Normalised landmarks for feature frames ``first`` … T−1, which no kept window of the original
        covers: the feature is padded with its last frame so that every frame starts a window, and the last
        512 (or all) windows form one segment, processed like the original's."""
        padded = np.concatenate([feature, np.repeat(feature[-1:], WINDOW, axis=0)], axis=0)
        au_all = windows(padded.astype(np.float32))  # (T, 18, 80)
        start = max(0, au_all.shape[0] - SEGMENT)
        fls = _savgol(fix_nose_top(self._segment(au_all[start:], emb, face_id, None)), 5, 3)
        return fls[first - start :]

    def postprocess(self, pred_fls: np.ndarray, scale: float, shift: np.ndarray) -> np.ndarray:
        """The end-to-end script on Module1's written text: (T', 204) → (T', 68, 2) float64 pixels."""
        fl = denorm_face(text_round_trip(pred_fls).reshape(-1, 68, 3), scale, shift)
        # the original draws blinks from the global NumPy RNG, which is RandomState(0) at that point
        rng = np.random.RandomState(self.cfg.seed)
        fl = add_naive_eye(fl, times=blink_times(fl.shape[0], rng))
        return smooth_face(fl)[:, :, :2]

    def landmarks_62_5(self, feature: np.ndarray, emb: np.ndarray, source: np.ndarray,
                       trace: Trace | None = None) -> tuple[np.ndarray, int, np.ndarray]:
        """(T, 80) standardised feature → ((T, 68, 2) pixel landmarks at 62.5 fps, T', tweaked photo points).

        The first T' frames are the original's; the rest cover the audio to its end (see module docstring).
        """
        tweaked = tweak_lips_eyes(np.asarray(source, np.float64)[:, :2])
        norm, scale, shift = norm_input_face(tweaked, self.std_face)
        face_id = norm.reshape(204)
        pred = self.predict_normalized(feature, emb, face_id, trace)
        n_orig = pred.shape[0]
        px = self.postprocess(pred, scale, shift) if n_orig else np.zeros((0, 68, 2))
        if trace is not None:
            trace.values["pred_fls_exact"] = pred
            trace.values["final_landmarks_px"] = px
        total = feature.shape[0]
        if total > n_orig:
            tail = self._tail_normalized(feature, emb, face_id, n_orig)
            tail_fl = add_naive_eye(denorm_face(text_round_trip(tail).reshape(-1, 68, 3), scale, shift), times=[])
            # smooth the tail together with the original's last frames; only the tail rows are kept
            k = min(n_orig, 15)
            head = np.zeros((k, 68, 3))
            head[:, :, :2] = px[n_orig - k :]
            head[:, :, 2] = tail_fl[:1, :, 2]
            tail_px = smooth_face(np.concatenate([head, tail_fl], axis=0))[k:, :, :2]
            px = np.concatenate([px, tail_px], axis=0)
        return px, n_orig, tweaked

    def predict(self, audio: Audio, source: np.ndarray, fps: float) -> LandmarkSequence:
        if audio.duration <= 0:
            raise AudioError("the speech is empty")
        feature, emb = self.audio_feature(audio)
        px, _, tweaked = self.landmarks_62_5(feature, emb, source)
        n = max(1, int(round(audio.duration * fps)))
        # source = the tweaked photo landmarks, as the original writes ori.txt
        return LandmarkSequence(px, fe.FPS, tweaked).resample(fps, n)
