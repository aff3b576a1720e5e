"""Train the content branch as MakeItTalk's ``main_train_content.py`` does (``ckpt_content_branch.pth`` layout,
key ``model_g_face_id``).

    python -m Module1.train_content --dataset DATA --train --write --name content

Per segment of B windows: P = branch(windows, face_id) + face_id, G = each window's first landmark frame;
loss = lip-weighted L1 (``--use_lip_weight`` turns it into a plain L1) [+ motion L1 with
``--use_motion_loss``] [+ Laplacian L1, weight 1, when ``--lambda_laplacian_smooth_loss`` > 0];
Adam(lr 1e-4, weight decay 0), constant LR. face_id = the batch's most closed mouth among every 10th
window start (picked before the random start crop), registered to the STD face. Dataset: Module1/data.py.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from common.checkpoint import load_state_dict

from .nets import Audio2landmarkContent
from .train_common import Batch, Trainer, add_common_args, laplacian_l1, lip_weighted_l1, main_guard, motion_l1

__all__ = ["build_parser", "main", "KEY"]

KEY = "model_g_face_id"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False,
        prog="python -m Module1.train_content",
        description="Train Module1's content branch (audio windows + face → 68 landmarks) as MakeItTalk does, on a "
                    "dataset made by `python -m Module1.prepare` (format: Module1/data.py). Checkpoints "
                    "<root_dir>/ckpt/<name>/ckpt_{last_epoch,e_<epoch>}.pth load with --load_a2l_C_name.",
    )
    add_common_args(p, lr=1e-4, reg_lr=0.0, ckpt_epoch_freq=1)
    p.add_argument("--drop_out", type=float, default=0.5, help="dropout between the LSTM layers (default: %(default)s)")
    p.add_argument("--in_size", type=int, default=80, help="audio feature size (default: %(default)s)")
    p.add_argument("--hidden_size", type=int, default=256, help="LSTM hidden size (default: %(default)s)")
    p.add_argument("--use_prior_net", action="store_false", default=True,
                   help="the 80→161 prior MLP is ON; this flag turns it OFF (changes the checkpoint layout)")
    p.add_argument("--use_lip_weight", action="store_false", default=True,
                   help="the lip-weighted L1 is ON; this flag makes it a plain L1")
    p.add_argument("--use_motion_loss", action="store_true", help="add the frame-difference L1 term")
    p.add_argument("--load_a2l_C_name", type=Path, default=None,
                   help="start from these weights (key model_g_face_id, loaded strictly)")
    return p


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    args = build_parser().parse_args(argv)
    torch.manual_seed(args.seed)
    model = Audio2landmarkContent(num_window_frames=args.num_window_frames, in_size=args.in_size,
                                  use_prior_net=args.use_prior_net, hidden_size=args.hidden_size,
                                  bidirectional=False, drop_out=args.drop_out)
    if args.load_a2l_C_name is not None and not args.resume:
        load_state_dict(args.load_a2l_C_name, model, key=KEY)

    def step(seg: Batch, training: bool) -> dict[str, torch.Tensor]:
        target = seg.fls[:, 0, :]
        disp, _ = model(seg.au, seg.face_id)
        pred = disp + seg.face_id
        terms = {"loss_lip": lip_weighted_l1(pred, target, args.use_lip_weight)}
        if args.use_motion_loss:
            terms["loss_motion"] = motion_l1(disp, target)
        if args.lambda_laplacian_smooth_loss > 0:  # the original adds it with weight 1
            terms["loss_laplacian"] = laplacian_l1(pred, target)
        terms["loss"] = sum(terms.values(), torch.zeros((), device=pred.device))
        return terms

    return Trainer(args, model, KEY, step, list(model.parameters()), pick_face_after_crop=False).run()


if __name__ == "__main__":
    main_guard(main)
