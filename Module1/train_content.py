"""Train the content branch (``ckpt_content_branch.pth``, key ``model_g_face_id``).

    python -m Module1.train_content --dataset DATA --save_name Module1/checkpoints/ckpt_content_branch.pth

Each window's target is its first landmark frame; prediction = content branch(window, face_id) + face_id
(face_id = the clip's most closed-lip frame). Dataset format: Module1/data.py.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from common.checkpoint import load_state_dict

from .config import CHECKPOINT_DIR
from .nets import Audio2landmarkContent
from .train_common import add_common_args, landmark_loss, main_guard, train

__all__ = ["build_parser", "main"]

KEY = "model_g_face_id"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m Module1.train_content",
        description="Train Module1's content branch (audio windows + face → 68 landmarks) on a dataset made by "
                    "`python -m Module1.prepare`. Writes a checkpoint the makeittalk predictor loads with "
                    "--load_a2l_C_name.",
    )
    add_common_args(p, CHECKPOINT_DIR / "ckpt_content_branch.pth")
    p.add_argument("--load_a2l_C_name", type=Path, default=None,
                   help="start from these weights (fine-tuning; ignored with --resume when --save_name exists)")
    return p


def main(argv: list[str] | None = None) -> list[float]:
    args = build_parser().parse_args(argv)
    torch.manual_seed(args.seed)
    model = Audio2landmarkContent(num_window_frames=18, in_size=80, use_prior_net=True, bidirectional=False,
                                  drop_out=0.5)
    if args.load_a2l_C_name is not None and not (args.resume and Path(args.save_name).is_file()):
        load_state_dict(args.load_a2l_C_name, model, key=KEY)
    lam = args.lambda_laplacian_smooth_loss

    def step(batch: dict, device: torch.device) -> torch.Tensor:
        target = batch["fls"][:, 0, :]
        face = batch["face_id"].view(1, 204)
        pred, _ = model(batch["au"], face)
        return landmark_loss(pred + face, target, lam)

    return train(args, model, KEY, step)


if __name__ == "__main__":
    main_guard(main)
