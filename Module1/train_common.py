"""What MakeItTalk's two landmark trainers share (TRAINING §2–§5): data loading, windowing, the reference face,
the random start crop, segments, losses, checkpoints, resume, logging.

- Clips are ordered once by Python ``random.Random(0).shuffle`` (the original's ``random.seed(0)``) and
  visited in that order every epoch, ``--batch_size`` clips at a time (their windows concatenated).
- The audio feature is standardised with the dataset's own ``mean_std.txt`` (``--mean_std`` overrides it,
  e.g. with the released MEAN_STD_AUTOVC_RETRAIN_MEL_AU.txt to fine-tune the released weights); the
  statistics and the reference face travel inside every checkpoint, so the predictor uses the same ones.
- Windows of 18 frames, the target of a window being its first landmark frame; segments of 512 windows, a
  segment of fewer than 10 skipped, one Adam step per segment.
- Checkpoints (with ``--write``): ``<root_dir>/ckpt/<name>/ckpt_last_epoch.pth`` after every pass and
  ``ckpt_e_<epoch>.pth`` every ``--ckpt_epoch_freq`` epochs, in the released layout (``{key: state_dict,
  'epoch': e}``) plus what ``--resume`` needs (optimizer, loss history) and the data statistics.
"""
from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common import InputError, UserError
from common.checkpoint import read_checkpoint, save_atomic
from common.device import select_device
from common.options import relative_subpath

from .data import Clip, Dataset, read_dataset, windows
from .registration import mouth_fan_area, register_to

__all__ = [
    "add_common_args",
    "laplacian",
    "lip_weighted_l1",
    "laplacian_l1",
    "motion_l1",
    "closed_lip_index",
    "reference_face",
    "Batch",
    "Trainer",
    "main_guard",
    "xavier_init",
    "NEIGHBOURS",
    "SEGMENT",
    "MIN_SEGMENT",
]

log = logging.getLogger(__name__)

SEGMENT = 512
MIN_SEGMENT = 10

# contour neighbours (a, b) of every point for the Laplacian term; open contours repeat their single neighbour
_N1 = ([1] + list(range(0, 16)) + [18] + list(range(17, 21)) + [23] + list(range(22, 26)) + [28]
       + list(range(27, 35)) + [41] + list(range(36, 41)) + [47] + list(range(42, 47)) + [59]
       + list(range(48, 59)) + [67] + list(range(60, 67)))
_N2 = (list(range(1, 17)) + [15] + list(range(18, 22)) + [20] + list(range(23, 27)) + [25]
       + list(range(28, 36)) + [34] + list(range(37, 42)) + [36] + list(range(43, 48)) + [42]
       + list(range(49, 60)) + [48] + list(range(61, 68)) + [60])
NEIGHBOURS: tuple[list[int], list[int]] = (_N1, _N2)
_LIP_COLS = list(range(48 * 3, 68 * 3))


def _store_false(p: argparse.ArgumentParser, flag: str, what: str) -> None:
    p.add_argument(flag, action="store_false", default=True, help=f"{what} is ON; this flag turns it OFF")


def add_common_args(p: argparse.ArgumentParser, *, lr: float, reg_lr: float, ckpt_epoch_freq: int) -> None:
    """Options both trainers share, with MakeItTalk's names; defaults differ per trainer where the original's do."""
    p.add_argument("--dataset", required=True, type=Path,
                   help="training dataset made by python -m Module1.prepare (replaces the original's <root>/dump pickles)")
    p.add_argument("--eval_dataset", type=Path, default=None,
                   help="dataset of the evaluation pass after every training epoch (the original's test/val split)")
    p.add_argument("--root_dir", type=Path, default=Path("runs/module1"),
                   help="run folder: checkpoints go to <root_dir>/ckpt/<name>/ (default: %(default)s)")
    p.add_argument("--name", type=relative_subpath, default="tmp", help="run name (default: %(default)s)")
    p.add_argument("--train", action="store_true", help="train; without it, one evaluation pass (the original's test())")
    p.add_argument("--write", action="store_true", help="save checkpoints (the original saves only with --write)")
    p.add_argument("--resume", action="store_true",
                   help="continue from <root_dir>/ckpt/<name>/ckpt_last_epoch.pth (weights, optimizer, epoch)")
    p.add_argument("--nepoch", type=int, default=1001, help="epochs (default: %(default)s)")
    p.add_argument("--batch_size", type=int, default=1, help="clips per step, windows concatenated (default: %(default)s)")
    p.add_argument("--in_batch_nepoch", type=int, default=1,
                   help="passes over each batch per epoch, each with a new random start (default: %(default)s)")
    p.add_argument("--num_window_frames", type=int, default=18, help="window length W (default: %(default)s)")
    p.add_argument("--num_window_step", type=int, default=1, help="window step (only 1 works, as in the original)")
    p.add_argument("--lr", type=float, default=lr, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--reg_lr", type=float, default=reg_lr, help="Adam weight decay (default: %(default)s)")
    p.add_argument("--lambda_laplacian_smooth_loss", type=float, default=1.0,
                   help="> 0 enables the Laplacian L1 term (default: %(default)s)")
    _store_false(p, "--use_reg_as_std", "registering the reference face to the STD face's T-shape")
    p.add_argument("--ckpt_epoch_freq", type=int, default=ckpt_epoch_freq,
                   help="save ckpt_e_<epoch>.pth every N epochs (default: %(default)s)")
    p.add_argument("--mean_std", type=Path, default=None,
                   help="160-number feature statistics to use instead of the dataset's mean_std.txt")
    p.add_argument("--verbose", type=int, default=1, help="<=1: a line per batch, <=2: a line per pass (default: 1)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0 (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random start crops and torch (default: 0)")


def laplacian(v: torch.Tensor) -> torch.Tensor:
    """Laplacian coordinates of (B, 68, 3) landmarks: p − (a + b)/2 with the contour neighbours a, b."""
    return v - 0.5 * (v[:, _N1, :] + v[:, _N2, :])


def laplacian_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean |L(P) − L(G)| over B×68×3."""
    return torch.mean(torch.abs(laplacian(pred.reshape(-1, 68, 3)) - laplacian(target.reshape(-1, 68, 3))))


def lip_weighted_l1(pred: torch.Tensor, target: torch.Tensor, use_lip_weight: bool = True) -> torch.Tensor:
    """mean |P − G|·M: M is 1 except on points 48–67, weighted 1/(4g + 0.1) with g = |G66.y − G62.y| per row."""
    err = torch.abs(pred - target)
    if not use_lip_weight:
        return err.mean()
    gap = torch.abs(target[:, 66 * 3 + 1] - target[:, 62 * 3 + 1])
    w = torch.ones_like(target)
    w[:, _LIP_COLS] = (1.0 / (4.0 * gap + 0.1))[:, None]
    return (err * w).mean()


def motion_l1(pred_disp: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the frame-to-frame differences of the prediction and of the target."""
    return torch.mean(torch.abs((pred_disp[:-1] - pred_disp[1:]) - (target[:-1] - target[1:])))


def closed_lip_index(fls: np.ndarray) -> int:
    """Index of the frame with the smallest inner-lip fan area (unsigned triangles; search starts at 999)."""
    best, idx = 999.0, 0
    for i, f in enumerate(fls):
        a = mouth_fan_area(f)
        if a < best:
            best, idx = a, i
    return idx


def reference_face(first_frames: np.ndarray, std_face: np.ndarray, use_reg_as_std: bool) -> np.ndarray:
    """face_id (204,) float32: among the first frames of windows 0, 10, 20, …, the most closed mouth,
    registered rigidly (T-shape) to ``std_face`` when ``use_reg_as_std``."""
    cands = first_frames[::10]
    face = cands[closed_lip_index(cands)].reshape(68, 3)
    if use_reg_as_std:
        face = register_to(face, std_face)
    return np.asarray(face, np.float32).reshape(204)


@dataclass
class Batch:
    """Windows of a batch of clips (already cropped), as float32 tensors on the device."""

    au: torch.Tensor  # (N, 18, 80) standardised
    fls: torch.Tensor  # (N, 18, 204)
    reg_fls: torch.Tensor  # (N, 18, 204)
    rot_trans: torch.Tensor  # (N, 18, 3, 4) with [I | 0] subtracted
    rot_quat: torch.Tensor  # (N, 18, 4)
    emb: torch.Tensor  # (N, 256)
    face_id: torch.Tensor  # (1, 204)

    def segments(self, size: int = SEGMENT) -> Iterator[Batch]:
        """Consecutive segments of ``size`` windows; one of fewer than 10 is skipped."""
        n = self.au.shape[0]
        for j in range(0, n, size):
            if min(j + size, n) - j < MIN_SEGMENT:
                continue
            s = slice(j, j + size)
            yield Batch(self.au[s], self.fls[s], self.reg_fls[s], self.rot_trans[s], self.rot_quat[s], self.emb[s],
                        self.face_id)


StepFn = Callable[[Batch, bool], dict[str, torch.Tensor]]


class Trainer:
    """The pass/epoch loop of both trainers; a branch supplies ``step(segment, training) → losses``.

    ``losses['loss']`` is minimised; the others are logged. ``pick_face_after_crop`` is the speaker
    trainer's order (the content trainer picks the reference face before the random crop).
    """

    def __init__(self, args: argparse.Namespace, model: torch.nn.Module, key: str, step: StepFn,
                 params: list[torch.nn.Parameter], pick_face_after_crop: bool,
                 extra_state: Callable[[], dict[str, Any]] | None = None) -> None:
        if args.num_window_step != 1:
            raise UserError("--num_window_step must be 1 (the original crashes with another step)")
        self.seg = int(getattr(args, "segment_batch_size", SEGMENT))
        if not 0 < self.seg <= SEGMENT:
            raise UserError(f"--segment_batch_size must be in 1…{SEGMENT} (the positional table has {SEGMENT} rows)")
        self.args, self.model, self.key, self.step = args, model, key, step
        self.extra_state = extra_state or (lambda: {})
        self.pick_after = pick_face_after_crop
        self.device = select_device(args.device, who="--device")  # the project's one device policy
        self.model.to(self.device)
        self.opt = torch.optim.Adam(params, lr=args.lr, weight_decay=args.reg_lr)
        self.ckpt_dir = Path(args.root_dir) / "ckpt" / args.name
        self.train_set = read_dataset(args.dataset)
        self.eval_set = read_dataset(args.eval_dataset) if args.eval_dataset else None
        self.mean_std = self._mean_std(self.train_set)
        self.rng = np.random.RandomState(args.seed)
        self.history: dict[str, list[float]] = {"train": [], "eval": []}
        self.start_epoch = 0
        if args.resume:
            self._resume()

    # ---- data ---------------------------------------------------------------------------
    def _mean_std(self, ds: Dataset) -> np.ndarray:
        if self.args.mean_std is None:
            return ds.mean_std
        path = Path(self.args.mean_std)
        if not path.is_file():
            raise InputError(f"--mean_std {path} not found")
        v = np.loadtxt(path, dtype=np.float64).reshape(-1)
        if v.size != 160:
            raise InputError(f"--mean_std {path} holds {v.size} numbers; expected 160")
        return v

    @property
    def feature(self) -> str:
        return self.train_set.feature

    def _order(self, ds: Dataset) -> list[int]:
        idx = list(range(len(ds.clips)))
        random.Random(0).shuffle(idx)
        return idx

    def _batch(self, clips: list[Clip], ds: Dataset, training: bool) -> Batch | None:
        w = self.args.num_window_frames
        mean, std = self.mean_std[:80], self.mean_std[80:]
        cat: dict[str, list[np.ndarray]] = {k: [] for k in ("au", "fls", "reg_fls", "rot_trans", "rot_quat", "emb")}
        for c in clips:
            n = c.fls.shape[0] - w
            if n <= 0:
                continue
            cat["au"].append(windows(((c.au - mean) / std).astype(np.float32), w))
            cat["fls"].append(windows(c.fls, w))
            cat["reg_fls"].append(windows(c.reg_fls, w))
            rt = c.rot_trans - np.concatenate([np.eye(3), np.zeros((3, 1))], axis=1)[None].astype(np.float32)
            cat["rot_trans"].append(windows(rt, w))
            cat["rot_quat"].append(windows(c.rot_quat, w))
            cat["emb"].append(np.repeat(c.emb[None], n, axis=0))
        if not cat["au"]:
            return None
        arr = {k: np.concatenate(v, axis=0) for k, v in cat.items()}
        face = None
        if not self.pick_after:
            face = reference_face(arr["fls"][:, 0], ds.std_face, self.args.use_reg_as_std)
        if training:
            r = int(self.rng.randint(0, arr["au"].shape[0] // 5))  # the only augmentation: a random start
            arr = {k: v[r:] for k, v in arr.items()}
        if face is None:
            face = reference_face(arr["fls"][:, 0], ds.std_face, self.args.use_reg_as_std)
        t = {k: torch.from_numpy(np.ascontiguousarray(v, np.float32)).to(self.device) for k, v in arr.items()}
        return Batch(face_id=torch.from_numpy(face[None]).to(self.device), **t)

    # ---- checkpoints --------------------------------------------------------------------
    def _state(self, epoch: int) -> dict[str, Any]:
        return {self.key: self.model.state_dict(), "epoch": epoch, "optimizer": self.opt.state_dict(),
                "loss_history": {k: list(v) for k, v in self.history.items()},
                "au_mean_std": torch.from_numpy(self.mean_std.astype(np.float64)), "feature": self.feature,
                "std_face": torch.from_numpy(self.train_set.std_face.astype(np.float64).reshape(-1)),
                **self.extra_state()}

    def _save(self, tag: str, epoch: int) -> Path:
        return save_atomic(self._state(epoch), self.ckpt_dir / f"ckpt_{tag}.pth")

    def _resume(self) -> None:
        path = self.ckpt_dir / "ckpt_last_epoch.pth"
        if not path.is_file():
            raise InputError(f"--resume: {path} not found")
        ck = read_checkpoint(path)
        self.model.load_state_dict(ck[self.key])
        if "optimizer" in ck:
            self.opt.load_state_dict(ck["optimizer"])
        hist = ck.get("loss_history", {})
        self.history = {k: [float(x) for x in hist.get(k, [])] for k in ("train", "eval")}
        self.start_epoch = int(ck["epoch"]) + 1
        self.resumed_from = ck
        print(f"resumed {path} after epoch {int(ck['epoch'])}")

    # ---- passes -------------------------------------------------------------------------
    def run_pass(self, ds: Dataset, epoch: int, training: bool) -> float:
        """One pass over ``ds``; returns the mean loss over its segments."""
        self.model.train(training)
        status = "TRAIN" if training else "EVAL"
        t0 = time.time()
        order = self._order(ds)
        bs = max(1, self.args.batch_size)
        losses: list[float] = []
        nb = (len(order) + bs - 1) // bs
        for bi in range(nb):
            clips = [ds.clips[i] for i in order[bi * bs : (bi + 1) * bs]]
            for k in range(self.args.in_batch_nepoch if training else 1):
                batch = self._batch(clips, ds, training)
                if batch is None:
                    continue
                for seg in batch.segments(self.seg):
                    with torch.set_grad_enabled(training):
                        terms = self.step(seg, training)
                    if training:
                        self.opt.zero_grad()
                        terms["loss"].backward()
                        self.opt.step()
                    losses.append(float(terms["loss"].detach()))
                if self.args.verbose <= 1 and losses:
                    print(f"{status} Epoch: #{epoch} batch #{bi}/{nb} inbatch #{k}/{self.args.in_batch_nepoch}: "
                          f"loss {losses[-1]:.5f} " + " ".join(f"{n} {float(v):.5f}" for n, v in terms.items()
                                                               if n != "loss"))
        mean = float(np.mean(losses)) if losses else float("nan")
        if self.args.verbose <= 2:
            print(f"===== {status} epoch {epoch}: mean loss {mean:.6f} ({time.time() - t0:.1f} s) =====")
        return mean

    def run(self) -> dict[str, list[float]]:
        """``--train``: epochs ``start … nepoch−1`` of a training pass (+ an evaluation pass when an
        evaluation set is given); otherwise one evaluation pass over the evaluation (or training) set."""
        a = self.args
        if not a.train:
            ds = self.eval_set or self.train_set
            with torch.no_grad():
                self.history["eval"].append(self.run_pass(ds, self.start_epoch, False))
            return self.history
        for epoch in range(self.start_epoch, a.nepoch):
            self.history["train"].append(self.run_pass(self.train_set, epoch, True))
            if a.write:
                self._save("last_epoch", epoch)
                if epoch % a.ckpt_epoch_freq == 0:
                    self._save(f"e_{epoch}", epoch)
            if self.eval_set is not None:
                with torch.no_grad():
                    self.history["eval"].append(self.run_pass(self.eval_set, epoch, False))
                if a.write:
                    self._save("last_epoch", epoch)
        return self.history


def xavier_init(model: torch.nn.Module) -> None:
    """Xavier-uniform on every parameter with more than one dimension (biases keep their defaults)."""
    for p in model.parameters():
        if p.dim() > 1:
            torch.nn.init.xavier_uniform_(p)


def main_guard(fn: Callable[[], object]) -> None:
    """Run ``fn``; a :class:`UserError` becomes one stderr line and exit code 2."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        fn()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
