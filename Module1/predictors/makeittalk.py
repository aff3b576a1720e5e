"""The neural predictor ``makeittalk``: AutoVC content features → content + speaker-aware branches.

Loads the released checkpoints once (``--load_AUTOVC_name``, ``--load_a2l_C_name``, ``--load_a2l_G_name``)
and the original's constant files (``module1_constants``). Per utterance, as the original does it:

1. front end (Module1.audio) → mel S and F0 one-hot; resemblyzer embedding (Module1.speaker);
2. AutoVC conversion to the target speaker in chunks of 4096 frames, standardised with the 80 means/stds;
3. windows of 18 frames in segments of 512; speaker branch (emb × emb_coef, z = 0) smoothed, mouth
   closed, × amp_pos; content branch calibrated, lips × amp_lip_x/y; + face_id; inverted lips fixed;
4. nose top, Savitzky–Golay 5; then the original driver's post-processing: un-normalise,
   eyelids and blinks (seeded ``RandomState(cfg.seed)``), Savitzky–Golay 15/5;
5. linear resampling from 62.5 fps to the output rate, ``round(duration·fps)`` frames.

Tail choice: the original's windowing gives T−18 predictions for T feature frames and skips a final
segment of fewer than 10 windows. Here the standardised feature is padded at its end by repeating its
last frame 18 times, so every feature frame starts a window (prediction i ↔ time i/62.5 s as in the
original), and a final segment shorter than 10 windows is predicted as the tail of a segment made of
the last 512 (or all) windows instead of being dropped. The sequence therefore covers the whole audio.
"""
from __future__ import annotations

import logging

import numpy as np
import torch
from tqdm import tqdm

from common import Audio, AudioError, CheckpointError, LandmarkSequence
from common.checkpoint import load_state_dict
from common.device import select_device

from .. import audio as fe
from ..config import Module1Config
from ..constants import load_constants
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
    savgol_safe,
    smooth_face,
    tweak_lips_eyes,
)
from ..nets import SPEAKER_DROP_PREFIXES, Audio2landmarkContent, Audio2landmarkPos, Generator
from .base import PREDICTORS, LandmarkPredictor

__all__ = ["MakeItTalkPredictor", "SEGMENT", "AUTOVC_CHUNK", "load_networks", "autovc_convert"]

log = logging.getLogger(__name__)

SEGMENT = 512  # windows per transformer sequence (its positional table has 512 rows)
MIN_SEGMENT = 10  # the original skips shorter segments
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


def _segments(n: int) -> list[tuple[int, int, int]]:
    """(start, stop, keep_from) per segment of ``n`` windows; a short tail reuses the last full span."""
    segs = []
    for j in range(0, n, SEGMENT):
        stop = min(j + SEGMENT, n)
        if stop - j < MIN_SEGMENT and j > 0:
            start = max(0, stop - SEGMENT)
            segs.append((start, stop, j - start))
        else:
            segs.append((j, stop, 0))
    return segs


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
        self.device = select_device(cfg.device, who="Module1")
        self.constants = load_constants(cfg.constants_dir)
        self.autovc, self.content, self.speaker = load_networks(cfg, self.device)
        from ..speaker import SpeakerEncoder

        self.spk_encoder = SpeakerEncoder(device=str(self.device))

    # ---- stages -------------------------------------------------------------------------
    def convert(self, mel: np.ndarray, f0: np.ndarray, emb: np.ndarray) -> np.ndarray:
        """AutoVC: (T, 80) mel + (T, 257) F0 one-hot + source embedding → (T, 80) post-net mel."""
        return autovc_convert(self.autovc, mel, f0, emb, self.constants.target_emb, self.device, self.cfg.quiet)

    def audio_feature(self, audio: Audio) -> tuple[np.ndarray, np.ndarray]:
        """Standardised (T, 80) feature and (256,) speaker embedding of ``audio``."""
        feats = fe.front_end(audio)
        emb = self.spk_encoder.embed(feats.normalized)
        conv = self.convert(feats.mel, feats.f0, emb)
        c = self.constants
        return ((conv - c.mel_mean) / c.mel_std).astype(np.float32), emb

    @torch.no_grad()
    def predict_normalized(self, feature: np.ndarray, emb: np.ndarray, face_id: np.ndarray) -> np.ndarray:
        """(T, 80) standardised feature → (T, 204) normalised landmarks at 62.5 fps (steps 2–3 above)."""
        cfg, dev = self.cfg, self.device
        padded = np.concatenate([feature, np.repeat(feature[-1:], WINDOW, axis=0)], axis=0)
        au_all = windows(padded)  # (T, 18, 80)
        face = torch.from_numpy(np.asarray(face_id, np.float32).reshape(1, 204)).to(dev)
        emb_t = torch.from_numpy(np.asarray(emb, np.float32)[None] * cfg.emb_coef).to(dev)
        out = []
        for start, stop, keep in tqdm(_segments(au_all.shape[0]), desc="landmarks", disable=cfg.quiet, leave=False):
            b = stop - start
            au = torch.from_numpy(au_all[start:stop]).to(dev)
            face_b = face.repeat(b, 1)
            z = torch.zeros(b, 128, device=dev)
            disp, _, _ = self.speaker(au, emb_t.repeat(b, 1), face_b, torch.zeros(b, 204, device=dev), z)
            disp = disp.cpu().numpy().astype(np.float64)
            # the original's window (min(B-1, 31) rounded up to odd); shrunk only for B < 10
            disp = savgol_safe(disp, int(min(b - 1, 31) // 2 * 2 + 1), 3)
            disp = close_pose_mouth(disp, 0.99) * cfg.amp_pos
            pred, _ = self.content(au, face)
            disp += calibrate_content(pred.cpu().numpy(), cfg.amp_lip_x, cfg.amp_lip_y)
            fls = fix_inverted_lips(disp + face_id.reshape(1, 204))
            out.append(fls[keep:])
        fls = fix_nose_top(np.concatenate(out, axis=0))
        return savgol_safe(fls, 5, 3)

    def predict(self, audio: Audio, source: np.ndarray, fps: float) -> LandmarkSequence:
        if audio.duration <= 0:
            raise AudioError("the speech is empty")
        src = np.asarray(source, np.float64)
        tweaked = tweak_lips_eyes(src[:, :2])
        norm, scale, shift = norm_input_face(tweaked, self.constants.std_face)
        feature, emb = self.audio_feature(audio)
        fls = self.predict_normalized(feature, emb, norm.reshape(204))
        fl = denorm_face(fls.reshape(-1, 68, 3), scale, shift)
        rng = np.random.RandomState(self.cfg.seed)
        fl = smooth_face(add_naive_eye(fl, times=blink_times(fl.shape[0], rng)))
        n = max(1, int(round(audio.duration * fps)))
        # source = the tweaked photo landmarks, as the original writes ori.txt
        return LandmarkSequence(fl[:, :, :2], fe.FPS, tweaked).resample(fps, n)
