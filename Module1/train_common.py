"""Shared training loop of the two landmark branches (``Module1.train_content``, ``Module1.train_speaker``).

Follows the original recipe: one clip per step, the clip's windows (Module1.data) in segments of 512
(shorter than 10 skipped), a random start offset in [0, B/5) per clip in training, the clip's
face_id = its most closed-lip frame (smallest inner-lip area among every 10th window start), Adam with
``--lr`` and ``--reg_lr`` as weight decay. Losses: L2 between predicted and true landmarks plus
``--lambda_laplacian_smooth_loss`` × L2 between their Laplacian coordinates (each point minus the mean of
its two contour neighbours). Checkpoints are written atomically in the released layout
(``{key: state_dict, 'optimizer': …, 'epoch': n, 'loss_history': […]}``) after every epoch, so the
predictor loads them and ``--resume`` continues from them.
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from common import UserError
from common.checkpoint import load_state_dict, read_checkpoint, save_atomic
from common.device import select_device
from common.ibug68 import INNER_LIPS, polygon_area

from .config import CHECKPOINT_DIR
from .constants import load_constants
from .data import read_dataset, windows

__all__ = [
    "add_common_args",
    "laplacian",
    "landmark_loss",
    "closed_lip_index",
    "prepare_clips",
    "train",
    "main_guard",
    "NEIGHBOURS",
]

log = logging.getLogger(__name__)

SEGMENT = 512
MIN_SEGMENT = 10

# contour neighbours (left, right) of every point for the Laplacian term (open contours repeat an end)
_N1 = ([1] + list(range(0, 16)) + [18] + list(range(17, 21)) + [23] + list(range(22, 26)) + [28]
       + list(range(27, 35)) + [41] + list(range(36, 41)) + [47] + list(range(42, 47)) + [59]
       + list(range(48, 59)) + [67] + list(range(60, 67)))
_N2 = (list(range(1, 17)) + [15] + list(range(18, 22)) + [20] + list(range(23, 27)) + [25]
       + list(range(28, 36)) + [34] + list(range(37, 42)) + [36] + list(range(43, 48)) + [42]
       + list(range(49, 60)) + [48] + list(range(61, 68)) + [60])
NEIGHBOURS: tuple[list[int], list[int]] = (_N1, _N2)


def add_common_args(p: argparse.ArgumentParser, save_default: Path) -> None:
    """Options shared by both trainers."""
    p.add_argument("--dataset", required=True, type=Path,
                   help="dataset folder with index.json and clips/*.npz (format: see Module1/data.py)")
    p.add_argument("--save_name", type=Path, default=save_default,
                   help="checkpoint written after every epoch (released layout; default: %(default)s)")
    p.add_argument("--resume", action="store_true",
                   help="continue from --save_name (weights, optimizer, epoch counter) if it exists")
    p.add_argument("--nepoch", type=int, default=100, help="number of epochs to reach (default: %(default)s)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--reg_lr", type=float, default=1e-6, help="Adam weight decay (default: %(default)s)")
    p.add_argument("--lambda_laplacian_smooth_loss", type=float, default=1.0,
                   help="weight of the Laplacian-coordinates L2 term (default: %(default)s)")
    p.add_argument("--in_batch_nepoch", type=int, default=1,
                   help="passes over each clip per epoch, each with a new random start (default: %(default)s)")
    p.add_argument("--module1_constants", type=Path, default=None,
                   help="folder with MEAN_STD_AUTOVC_RETRAIN_MEL_AU.txt etc. (default: next to --save_name, "
                        "then Module1/checkpoints)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0 (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the clip order and start offsets")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def laplacian(v: torch.Tensor) -> torch.Tensor:
    """Laplacian coordinates of (B, 68, 3) landmarks: p − (left + right)/2 along each contour."""
    return v - 0.5 * (v[:, _N1, :] + v[:, _N2, :])


def landmark_loss(pred: torch.Tensor, target: torch.Tensor, lambda_lap: float) -> torch.Tensor:
    """L2 on (B, 204) landmarks + ``lambda_lap`` × L2 on their Laplacian coordinates."""
    loss = torch.nn.functional.mse_loss(pred, target)
    if lambda_lap > 0:
        loss = loss + lambda_lap * torch.nn.functional.mse_loss(
            laplacian(pred.view(-1, 68, 3)), laplacian(target.view(-1, 68, 3)))
    return loss


def closed_lip_index(fls: np.ndarray) -> int:
    """Index (into ``fls``) of the frame with the smallest inner-lip area (points 60–67, x, y)."""
    areas = [polygon_area(f.reshape(68, 3)[INNER_LIPS, :2]) for f in fls]
    return int(np.argmin(areas))


def prepare_clips(args: argparse.Namespace) -> list[dict]:
    """Load the dataset and turn each clip into windows, standardised feature and face_id (tensors on CPU)."""
    clips, feature = read_dataset(args.dataset)
    folder = args.module1_constants
    if folder is None:
        near = Path(args.save_name).parent
        folder = near if (near / "MEAN_STD_AUTOVC_RETRAIN_MEL_AU.txt").is_file() else CHECKPOINT_DIR
    const = load_constants(folder)
    log.info("dataset %s: %d clips, feature %s", args.dataset, len(clips), feature)
    out = []
    for c in clips:
        au = (c.au - const.mel_mean) / const.mel_std
        fl_w, au_w = windows(c.fls), windows(au.astype(np.float32))
        if fl_w.shape[0] < MIN_SEGMENT:
            log.warning("clip %s is too short (%d frames) and is skipped", c.name, c.fls.shape[0])
            continue
        starts = fl_w[::10, 0, :]
        face_id = starts[closed_lip_index(starts)]
        out.append({"name": c.name, "fls": torch.from_numpy(fl_w), "au": torch.from_numpy(au_w),
                    "emb": torch.from_numpy(c.emb), "face_id": torch.from_numpy(face_id.astype(np.float32))})
    if not out:
        raise UserError(f"dataset {args.dataset}: no clip is long enough (needs ≥ 28 frames)")
    return out


StepFn = Callable[[dict, torch.device], torch.Tensor]


def train(args: argparse.Namespace, model: torch.nn.Module, key: str, step: StepFn) -> list[float]:
    """Run the loop; ``step(batch, device)`` returns the loss of one segment. Returns the per-epoch mean losses."""
    device = select_device(args.device, who="--device")
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.reg_lr)
    history: list[float] = []
    start_epoch = 0
    save = Path(args.save_name)
    if args.resume and save.is_file():
        ck = read_checkpoint(save)
        load_state_dict(save, model, key=key)
        if "optimizer" in ck:
            opt.load_state_dict(ck["optimizer"])
        start_epoch = int(ck.get("epoch", 0))
        history = [float(v) for v in ck.get("loss_history", [])]
        log.info("resumed %s at epoch %d", save, start_epoch)
    clips = prepare_clips(args)
    rng = np.random.RandomState(args.seed + start_epoch)
    for epoch in range(start_epoch, args.nepoch):
        model.train()
        losses = []
        order = rng.permutation(len(clips))
        bar = tqdm(order, desc=f"epoch {epoch + 1}/{args.nepoch}", disable=args.quiet, leave=False)
        for ci in bar:
            clip = clips[ci]
            for _ in range(args.in_batch_nepoch):
                b0 = int(rng.randint(0, max(1, clip["fls"].shape[0] // 5)))
                for j in range(b0, clip["fls"].shape[0], SEGMENT):
                    fls = clip["fls"][j : j + SEGMENT]
                    if fls.shape[0] < MIN_SEGMENT:
                        continue
                    batch = {"fls": fls.to(device), "au": clip["au"][j : j + SEGMENT].to(device),
                             "emb": clip["emb"].to(device), "face_id": clip["face_id"].to(device)}
                    loss = step(batch, device)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    losses.append(float(loss.detach()))
                    bar.set_postfix(loss=f"{losses[-1]:.5f}")
        mean = float(np.mean(losses)) if losses else float("nan")
        history.append(mean)
        save_atomic({key: model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch + 1,
                     "loss_history": history}, save)
        print(f"epoch {epoch + 1}/{args.nepoch} loss {mean:.6f} -> {save}")
    return history


def main_guard(fn: Callable[[], object]) -> None:
    """Run ``fn``; a :class:`UserError` becomes one stderr line and exit code 2."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        fn()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
