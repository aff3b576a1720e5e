"""Train the speaker-aware branch as MakeItTalk's ``main_train_speaker_aware.py`` computes once its defects are
patched (TRAINING §5), in the released ``ckpt_speaker_branch.pth`` layout (key ``G``).

    python -m Module1.train_speaker --dataset DATA --train --write --name speaker

Per segment of B windows (one transformer sequence): P = G(windows, emb × --emb_coef, z = 0, speaker-code
noise N(0, 0.01²)) [+ the frozen content branch with ``--use_residual``] + face_id; targets: the registered
landmarks of each window's first frame and its head pose ([quaternion, t] for ``--pos_dim 7``, (R − I | t)
for 12), predicted by a pose head on the transformer output (saved as ``pos_head``, not part of ``G``).
loss = L1(P, registered) + λ_lap · Laplacian L1 + L1(pose); Adam(lr 1e-3, weight decay 1e-6), constant LR.
G starts Xavier-uniform; ``--load_a2l_G_name`` copies every key not containing ``out.`` / ``out_pos_1.``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

from common import UserError
from common.checkpoint import load_state_dict, read_checkpoint

from .nets import SPEAKER_DROP_PREFIXES, Audio2landmarkContent, Audio2landmarkPos
from .train_common import Batch, Trainer, add_common_args, laplacian_l1, main_guard, xavier_init

__all__ = ["build_parser", "main", "KEY", "PoseHead"]

KEY = "G"
Z_SIZE = 128


class PoseHead(nn.Module):
    """Transformer output (B, d_model) → head pose (B, pos_dim): d_model → 32 → 16 → pos_dim."""

    def __init__(self, d_model: int, pos_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, 32), nn.LeakyReLU(0.02), nn.Linear(32, 16), nn.LeakyReLU(0.02),
                                 nn.Linear(16, pos_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False,
        prog="python -m Module1.train_speaker",
        description="Train Module1's speaker-aware branch (audio windows + speaker embedding → landmark "
                    "displacements and head pose) as MakeItTalk does, on a dataset made by `python -m Module1.prepare` "
                    "(format: Module1/data.py). Checkpoints <root_dir>/ckpt/<name>/ckpt_{last_epoch,e_<epoch>}.pth "
                    "load with --load_a2l_G_name.",
    )
    add_common_args(p, lr=1e-3, reg_lr=1e-6, ckpt_epoch_freq=25)
    p.add_argument("--segment_batch_size", type=int, default=512, help="windows per segment, ≤ 512 (default: %(default)s)")
    p.add_argument("--emb_coef", type=float, default=3.0, help="speaker-embedding multiplier (default: %(default)s)")
    p.add_argument("--spk_emb_enc_size", type=int, default=128,
                   help="speaker-code size (default: %(default)s, the released layout; the published script says 16)")
    p.add_argument("--transformer_d_model", type=int, default=32, help="per-head width; d_model = this × heads")
    p.add_argument("--transformer_N", type=int, default=2, help="transformer layers (default: %(default)s)")
    p.add_argument("--transformer_heads", type=int, default=2, help="attention heads (default: %(default)s)")
    p.add_argument("--pos_dim", type=int, choices=(7, 12), default=7,
                   help="pose target: 7 = quaternion + translation, 12 = (R − I | t) (default: %(default)s)")
    p.add_argument("--use_residual", action="store_true",
                   help="add the frozen content branch (--load_a2l_C_name) to the prediction, detached")
    p.add_argument("--load_a2l_C_name", type=Path, default=None, help="content branch for --use_residual")
    p.add_argument("--load_a2l_G_name", type=Path, default=None,
                   help="speaker branch to fine-tune from: keys containing 'out.' or 'out_pos_1.' (and comb_mlp.*) "
                        "are not copied")
    p.add_argument("--train_DL", type=float, default=-1.0,
                   help="per-frame discriminator weight; the original only has it in commented-out code (must stay ≤ 0)")
    p.add_argument("--train_DT", type=float, default=-1.0,
                   help="temporal discriminator weight; commented out in the original too (must stay ≤ 0)")
    return p


def _fine_tune_start(model: nn.Module, path: Path) -> None:
    src = read_checkpoint(path, key=KEY)
    state = model.state_dict()
    for k, v in src.items():
        if "out." in k or "out_pos_1." in k or k.split(".")[0] in SPEAKER_DROP_PREFIXES:
            continue
        if k not in state or tuple(state[k].shape) != tuple(v.shape):
            raise UserError(f"--load_a2l_G_name {path}: key {k} does not fit this network")
        state[k] = v
    model.load_state_dict(state, strict=True)


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    args = build_parser().parse_args(argv)
    if args.train_DL > 0 or args.train_DT > 0:
        raise UserError("--train_DL/--train_DT: MakeItTalk's discriminators exist only as commented-out code without "
                        "any generator term; they are not implemented")
    if args.use_residual and args.load_a2l_C_name is None:
        raise UserError("--use_residual needs --load_a2l_C_name")
    torch.manual_seed(args.seed)
    model = Audio2landmarkPos(drop_out=0.5, spk_emb_enc_size=args.spk_emb_enc_size, c_enc_hidden_size=256,
                              transformer_d_model=args.transformer_d_model, N=args.transformer_N,
                              heads=args.transformer_heads, z_size=Z_SIZE, audio_dim=256)
    xavier_init(model)
    if args.load_a2l_G_name is not None and not args.resume:
        _fine_tune_start(model, args.load_a2l_G_name)
    pos_head = PoseHead(args.transformer_d_model * args.transformer_heads, args.pos_dim)
    content = None
    if args.use_residual:
        content = load_state_dict(args.load_a2l_C_name, Audio2landmarkContent(drop_out=0.0), key="model_g_face_id")
        content.requires_grad_(False).eval()

    def step(seg: Batch, training: bool) -> dict[str, torch.Tensor]:
        b = seg.au.shape[0]
        dev = seg.au.device
        z = torch.zeros(b, Z_SIZE, device=dev)
        e_out, _ = model.encode(seg.au, seg.emb * args.emb_coef, z, add_z_spk=training)
        disp = model.out(torch.cat((e_out, z), dim=1))
        pos_pred = pos_head(e_out)
        if content is not None:
            content.to(dev)
            disp = disp + content(seg.au, seg.face_id)[0].detach()
        pred = disp + seg.face_id
        target = seg.reg_fls[:, 0, :]
        if args.pos_dim == 7:
            pos_gt = torch.cat((seg.rot_quat[:, 0], seg.rot_trans[:, 0, :, 3]), dim=1)
        else:
            pos_gt = seg.rot_trans[:, 0].reshape(b, 12)
        terms = {"loss_reg_fls": torch.mean(torch.abs(pred - target)),
                 "loss_laplacian": laplacian_l1(pred, target),
                 "loss_pos": torch.mean(torch.abs(pos_pred - pos_gt))}
        terms["loss"] = (terms["loss_reg_fls"] + args.lambda_laplacian_smooth_loss * terms["loss_laplacian"]
                         + terms["loss_pos"])
        return terms

    trainer = Trainer(args, model, KEY, step, list(model.parameters()) + list(pos_head.parameters()),
                      pick_face_after_crop=True, extra_state=lambda: {"pos_head": pos_head.state_dict()})
    pos_head.to(trainer.device)
    if args.resume:
        pos_head.load_state_dict(trainer.resumed_from["pos_head"])
    return trainer.run()


if __name__ == "__main__":
    main_guard(main)
