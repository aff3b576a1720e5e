"""Training checkpoints are all-or-nothing sets; --continue_train resumes the newest complete one exactly.

Kills are real: a child process SIGKILLs itself in the middle of a save (after the 2nd file, or
after the commit with one rename done); the parent then checks what is on disk.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from common.checkpoint_sets import newest_complete_set, recover_sets, save_set, set_status
from common.errors import CheckpointError
from Module2.models.base_model import BaseModel

REPO = Path(__file__).resolve().parents[2]
NAMES = ["G_A", "D_A", "D_A_l"]


class Tiny(BaseModel):
    """Three small nets, one Adam, one LambdaLR: the shape of a training model."""

    def __init__(self, opt):
        super().__init__(opt)
        self.model_names = list(NAMES)
        for i, name in enumerate(NAMES):
            torch.manual_seed(i)
            setattr(self, "net" + name, torch.nn.Linear(3, 2))
        params = [p for n in NAMES for p in getattr(self, "net" + n).parameters()]
        self.optimizers = [torch.optim.Adam(params, lr=0.1)]

    def set_input(self, input):
        self.x = input

    def forward(self):
        self.y = sum(getattr(self, "net" + n)(self.x).sum() for n in NAMES)

    def optimize_parameters(self):
        self.forward()
        self.optimizers[0].zero_grad()
        self.y.backward()
        self.optimizers[0].step()


def _opt(folder: Path, **kw) -> argparse.Namespace:
    base = dict(checkpoints_dir=str(folder), name="exp", gpu_ids=[], isTrain=True, device="cpu", epoch="latest",
                load_iter=0, verbose=False, continue_train=False, lr_policy="step", lr_decay_iters=1, niter=1,
                niter_decay=0, epoch_count=1, gamma=0.5)
    base.update(kw)
    return argparse.Namespace(**base)


def _model(folder: Path, steps: int = 1, **kw) -> Tiny:
    m = Tiny(_opt(folder, **kw))
    m.schedulers = [torch.optim.lr_scheduler.StepLR(m.optimizers[0], step_size=1, gamma=0.5)]
    for _ in range(steps):
        m.set_input(torch.ones(1, 3))
        m.optimize_parameters()
    return m


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_save_set_writes_nets_state_and_manifest(tmp_path):
    m = _model(tmp_path)
    paths = m.save_networks("latest", counters={"epoch": 1, "epoch_iter": 1, "total_iters": 1, "epoch_done": False})
    exp = tmp_path / "exp"
    assert [p.name for p in paths] == ["latest_net_G_A.pth", "latest_net_D_A.pth", "latest_net_D_A_l.pth",
                                       "latest_train_state.pth"]
    doc = json.loads((exp / "latest_checkpoint.json").read_text())
    assert "pending" not in doc and doc["counters"]["total_iters"] == 1
    assert set_status(exp, "latest", [f"net_{n}" for n in NAMES])[0]
    assert not [p for p in exp.iterdir() if p.name.startswith(".")]


_CHILD = textwrap.dedent("""
    import os, signal, sys, torch
    sys.path.insert(0, {repo!r}); sys.path.insert(0, {tests!r})
    from test_checkpoint_sets import _model
    from pathlib import Path
    m = _model(Path({folder!r}), steps=3)
    mode = {mode!r}
    if mode == "after_second_file":
        real = torch.save
        calls = []
        def dying_save(obj, f, *a, **k):
            real(obj, f, *a, **k)
            calls.append(f)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        torch.save = dying_save
    else:  # after the commit point, with one rename done
        real = os.replace
        calls = []
        def dying_replace(src, dst):
            real(src, dst)
            if str(dst).endswith(".pth"):
                calls.append(dst)
                if len(calls) == 1:
                    os.kill(os.getpid(), signal.SIGKILL)
        os.replace = dying_replace
    m.save_networks("latest", counters={{"epoch": 1, "epoch_iter": 3, "total_iters": 3, "epoch_done": False}})
""")


def _kill_child_mid_save(tmp_path: Path, mode: str) -> None:
    code = _CHILD.format(repo=str(REPO), tests=str(Path(__file__).parent), folder=str(tmp_path), mode=mode)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


def test_kill_after_second_file_keeps_the_previous_set(tmp_path):
    m = _model(tmp_path, steps=1)
    m.save_networks("latest", counters={"epoch": 1, "epoch_iter": 1, "total_iters": 1, "epoch_done": False})
    exp = tmp_path / "exp"
    before = _digest(exp)
    _kill_child_mid_save(tmp_path, "after_second_file")
    leftovers = [p.name for p in exp.iterdir() if p.name.startswith(".")]
    assert len(leftovers) == 2  # two temporary files of the killed save, nothing else touched
    assert {k: v for k, v in _digest(exp).items() if not k.startswith(".")} == before
    recover_sets(exp)  # what the next save or --continue_train does first
    assert _digest(exp) == before
    resumed = _model(tmp_path, steps=0, continue_train=True)
    resumed.setup(resumed.opt)
    assert resumed.resume_state["total_iters"] == 1
    assert torch.equal(resumed.netD_A_l.weight, m.netD_A_l.weight)


def test_kill_after_commit_rolls_forward(tmp_path):
    _model(tmp_path, steps=1).save_networks(
        "latest", counters={"epoch": 1, "epoch_iter": 1, "total_iters": 1, "epoch_done": False})
    exp = tmp_path / "exp"
    _kill_child_mid_save(tmp_path, "after_commit")
    doc = json.loads((exp / "latest_checkpoint.json").read_text())
    assert doc["pending"] and doc["counters"]["total_iters"] == 3  # committed, one rename done
    assert not set_status(exp, "latest", [f"net_{n}" for n in NAMES])[0]
    recover_sets(exp)
    assert set_status(exp, "latest", [f"net_{n}" for n in NAMES])[0]
    assert not [p for p in exp.iterdir() if p.name.startswith(".")]
    want = _model(tmp_path / "ref", steps=3)  # the same three steps, deterministic on CPU
    for name in NAMES:
        state = torch.load(exp / f"latest_net_{name}.pth", weights_only=True)
        assert torch.equal(state["weight"], getattr(want, "net" + name).weight.detach())
    train_state = torch.load(exp / "latest_train_state.pth", weights_only=True)
    assert train_state["counters"]["total_iters"] == 3
    assert int(next(iter(train_state["optimizers"][0]["state"].values()))["step"]) == 3


def test_exception_mid_save_leaves_no_temp_and_old_set(tmp_path, monkeypatch):
    m = _model(tmp_path)
    m.save_networks("latest")
    exp = tmp_path / "exp"
    before = _digest(exp)
    real, calls = torch.save, []

    def failing(obj, f, *a, **k):
        real(obj, f, *a, **k)
        calls.append(f)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(torch, "save", failing)
    with pytest.raises(KeyboardInterrupt):
        _model(tmp_path, steps=2).save_networks("latest")
    assert _digest(exp) == before


def test_iteration_sets_are_never_overwritten(tmp_path):
    m = _model(tmp_path)
    m.save_networks("iter_5", counters={"total_iters": 5})
    exp = tmp_path / "exp"
    before = _digest(exp)
    assert _model(tmp_path, steps=4).save_networks("iter_5", counters={"total_iters": 5}) == []
    assert _digest(exp) == before


def test_newest_complete_set_skips_a_broken_one(tmp_path):
    exp = tmp_path / "exp"
    save_set(exp, "iter_2", {"net_G": {"w": torch.ones(1)}}, {"total_iters": 2})
    save_set(exp, "iter_4", {"net_G": {"w": torch.ones(2)}}, {"total_iters": 4})
    assert newest_complete_set(exp, ["net_G"]) == "iter_4"
    (exp / "iter_4_net_G.pth").write_bytes(b"replaced by something else")
    assert newest_complete_set(exp, ["net_G"]) == "iter_2"
    (exp / "iter_2_net_G.pth").unlink()
    with pytest.raises(CheckpointError, match="no complete checkpoint set"):
        newest_complete_set(exp, ["net_G"])


def test_explicit_epoch_count_keeps_the_fresh_schedule(tmp_path):
    m = _model(tmp_path, steps=2)
    m.schedulers[0].step()  # lr 0.1 -> 0.05
    m.save_networks("latest", counters={"epoch": 1, "epoch_iter": 2, "total_iters": 2, "epoch_done": True})
    resumed = _model(tmp_path, steps=0, continue_train=True)
    resumed.setup(resumed.opt)
    assert resumed.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.025)  # restored, then the end-of-epoch step
    manual = _model(tmp_path, steps=0, continue_train=True, epoch_count=5)
    manual.setup(manual.opt)
    assert manual.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.1)  # CycleGAN: schedule starts afresh
    assert manual.resume_state["total_iters"] == 2
    assert int(next(iter(manual.optimizers[0].state.values()))["step"]) == 2  # Adam moments still restored


def test_original_layout_without_manifest_resumes(tmp_path):
    exp = tmp_path / "exp"
    exp.mkdir()
    m = _model(tmp_path)
    for name in NAMES:
        torch.save(getattr(m, "net" + name).state_dict(), exp / f"latest_net_{name}.pth")
    resumed = _model(tmp_path, steps=0, continue_train=True)
    resumed.setup(resumed.opt)
    assert torch.equal(resumed.netG_A.bias, m.netG_A.bias) and resumed.resume_state == {}


# -- a real tiny training run ---------------------------------------------------------------------
DRAWING = ("--dataroot drawing --name training/d1 --model geomgm_ifw_fore --netG resnet_9blocks_rcatland32_full_ifw "
           "--netg_resb_div 3 --netg_resb_disp 3 --output_nc 1 --lr 0.00005 --blendbg 1 --select_target12_thre 0.0").split()


@pytest.mark.slow
def test_continue_train_after_save_by_iter_resumes_where_it_stopped(tmp_path):
    from Module2.make_toy_data import make_toy_data
    from Module2.train import train

    torch.set_num_threads(1)
    lists = make_toy_data(tmp_path / "toy", n=2, frames=3, clips=1, size=256, seed=0)
    flags = ["--list_dir", str(lists), "--checkpoints_dir", str(tmp_path / "ck"), "--niter_decay", "0",
             "--max_dataset_size", "2", "--display_id", "0", "--print_freq", "100", "--save_epoch_freq", "1",
             "--gpu_ids", "-1", "--num_threads", "0", "--ngf", "8", "--ndf", "8", "--save_by_iter",
             "--save_latest_freq", "1", "--no_html"]
    exp = train(DRAWING + flags + ["--niter", "1"])
    first = {k: v for k, v in _digest(exp).items() if k.startswith("iter_")}
    assert {"iter_1_checkpoint.json", "iter_2_checkpoint.json", "iter_2_train_state.pth"} <= set(first)
    # the end-of-epoch 'latest' set is broken (as a torn save of an older version would leave it):
    # the newest *complete* set is used instead
    (exp / "latest_net_D_A_coh.pth").write_bytes(b"torn")
    exp = train(DRAWING + flags + ["--niter", "2", "--continue_train"])
    assert {k: v for k, v in _digest(exp).items() if k in first} == first  # older iteration files untouched
    doc = json.loads((exp / "iter_4_checkpoint.json").read_text())
    assert doc["counters"] == {"epoch": 2, "epoch_iter": 2, "total_iters": 4, "epoch_done": False}
    state = torch.load(exp / "iter_4_train_state.pth", weights_only=True)
    steps = [int(s["step"]) for o in state["optimizers"] for s in o["state"].values()]
    assert steps and set(steps) == {4}  # Adam continued from step 2, it did not restart
    # the restored linear schedule (niter now 2): full learning rate in epoch 2, so G trained on
    assert state["optimizers"][0]["param_groups"][0]["lr"] == pytest.approx(0.00005)
    g1, g2 = (torch.load(exp / f"{e}_net_G_A.pth", weights_only=True) for e in (1, 2))
    assert any(not torch.equal(g1[k], g2[k]) for k in g1)
    assert not (exp / "iter_5_checkpoint.json").exists()
    assert not [p for p in exp.iterdir() if p.name.startswith(".")]
