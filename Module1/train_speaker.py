"""Train the speaker-aware branch (``ckpt_speaker_branch.pth``, key ``G``).

    python -m Module1.train_speaker --dataset DATA --load_a2l_C_name Module1/checkpoints/ckpt_content_branch.pth

The branch learns the speaker-dependent residual: prediction = face_id + content branch (frozen, from
``--load_a2l_C_name``; zero when not given) + speaker branch(windows, emb × --emb_coef, face_id, z = 0);
each window's target is its first landmark frame. The windows of a segment form one transformer sequence.
Dataset format: Module1/data.py.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from common.checkpoint import load_state_dict

from .config import CHECKPOINT_DIR
from .nets import SPEAKER_DROP_PREFIXES, Audio2landmarkContent, Audio2landmarkPos
from .train_common import add_common_args, landmark_loss, main_guard, train

__all__ = ["build_parser", "main"]

KEY = "G"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m Module1.train_speaker",
        description="Train Module1's speaker-aware branch (audio windows + speaker embedding → landmark "
                    "displacements) on a dataset made by `python -m Module1.prepare`. Writes a checkpoint the "
                    "makeittalk predictor loads with --load_a2l_G_name.",
    )
    add_common_args(p, CHECKPOINT_DIR / "ckpt_speaker_branch.pth")
    p.add_argument("--load_a2l_C_name", type=Path, default=None,
                   help="trained content branch, kept frozen; its output is added before the loss (default: none)")
    p.add_argument("--load_a2l_G_name", type=Path, default=None,
                   help="start from these speaker-branch weights (comb_mlp.* keys of released files dropped)")
    p.add_argument("--emb_coef", type=float, default=3.0,
                   help="speaker embedding multiplier, as at inference (default: %(default)s)")
    return p


def main(argv: list[str] | None = None) -> list[float]:
    args = build_parser().parse_args(argv)
    torch.manual_seed(args.seed)
    model = Audio2landmarkPos(drop_out=0.5, spk_emb_enc_size=128, c_enc_hidden_size=256, transformer_d_model=32,
                              N=2, heads=2, z_size=128, audio_dim=256)
    if args.load_a2l_G_name is not None and not (args.resume and Path(args.save_name).is_file()):
        load_state_dict(args.load_a2l_G_name, model, key=KEY, drop_prefixes=SPEAKER_DROP_PREFIXES)
    content = None
    if args.load_a2l_C_name is not None:
        content = load_state_dict(args.load_a2l_C_name, Audio2landmarkContent(), key="model_g_face_id")
        content.to(torch.device(args.device)).eval().requires_grad_(False)
    lam = args.lambda_laplacian_smooth_loss

    def step(batch: dict, device: torch.device) -> torch.Tensor:
        au, target = batch["au"], batch["fls"][:, 0, :]
        b = au.shape[0]
        face = batch["face_id"].view(1, 204).repeat(b, 1)
        emb = batch["emb"].view(1, 256).repeat(b, 1) * args.emb_coef
        z = torch.zeros(b, 128, device=device)
        disp, _, _ = model(au, emb, face, target, z)
        base = face
        if content is not None:
            with torch.no_grad():
                base = base + content(au, face[:1])[0]
        return landmark_loss(base + disp, target, lam)

    return train(args, model, KEY, step)


if __name__ == "__main__":
    main_guard(main)
