"""End-to-end training smoke test: the original README's two ``train.py`` commands on the toy dataset.

Runs ``cd Module2 && python train.py <the original's flags> <small-run flags>`` as a subprocess (CPU,
reduced ngf/ndf) with a real visdom server, then checks the logged losses, the visdom windows,
the checkpoints (strict reload into fresh networks), ``--continue_train`` without a visdom
server (one notice, training completes), and that an interrupted save keeps the old file.
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from visdom_server import free_port, visdom_server, window_data

REPO = Path(__file__).resolve().parents[2]
MODULE2 = REPO / "Module2"

DRAWING = ("--dataroot drawing --name training/drawing1 --model geomgm_ifw_fore --netG resnet_9blocks_rcatland32_full_ifw "
           "--netg_resb_div 3 --netg_resb_disp 3 --output_nc 1 --display_env training_drawing1 --lr 0.00005 --lambda_geom 50 "
           "--lambda_geom_lipline 50 --more_weight_for_lip 2 --lambda_face 3.0 --lambda_warp_inter 10  --blendbg 1 "
           "--select_target12_thre 0.0 --niter 70 --niter_decay 0").split()
CARTOON = ("--dataroot cartoon --name training/cartoon1 --model geomgm_ifw_cartoon_fore --netG resnet_9blocks_rcatland32_full_ifw "
           "--dataset_mode umlvd_ifw_cartoon --netg_resb_div 3 --netg_resb_disp 3 --output_nc 3 --display_env training_cartoon1 "
           "--lr 0.00005 --lambda_geom 50 --lambda_geom_lipline 0 --more_weight_for_lip 2 --lambda_face 3.0 --lambda_warp_inter 10 "
           "--blendbg 1 --niter 70 --niter_decay 0").split()

LOSSES = {
    "drawing": ["D_A", "G_A", "geom_B", "geom_B_lipline", "warp_B", "warp_inter1", "iden_B", "D_A_coh", "G_A_coh",
                "D_A_l", "G_A_l", "D_A_le", "G_A_le", "D_A_ll", "G_A_ll", "G"],
    "cartoon": ["D_A", "G_A", "geom_B", "warp_B", "warp_inter1", "iden_B",
                "D_A_l", "G_A_l", "D_A_le", "G_A_le", "D_A_ll", "G_A_ll", "G"],
}
NETS = {"drawing": ["G_A", "D_A", "D_A_l", "D_A_le", "D_A_ll", "D_A_coh"],
        "cartoon": ["G_A", "D_A", "D_A_l", "D_A_le", "D_A_ll"]}
SMALL = 8  # ngf / ndf of the smoke runs


def _helpers(ckpt: Path) -> set[str]:
    """Random-weight helper checkpoints in the released layout; returns the losses they enable."""
    enabled = set()
    try:
        from Module2.models.auxiliary.mobilefacenet import MobileFaceNet
    except ImportError:
        MobileFaceNet = None
    if MobileFaceNet is not None:
        torch.manual_seed(0)
        net = MobileFaceNet([112, 112], 136)
        torch.save({"epoch": 1, "state_dict": net.state_dict()}, ckpt / "mobilefacenet_model_best.pth.tar")
        enabled.add("geom_B")
    try:
        from Module2.models.auxiliary.sphereface import Sphere20a
    except ImportError:
        Sphere20a = None
    if Sphere20a is not None:
        torch.manual_seed(0)
        state = dict(Sphere20a().state_dict())
        state["fc6.weight"] = torch.zeros(512, 10574)  # the released file carries the classifier; it is dropped
        torch.save(state, ckpt / "sphere20a_20171020.pth")
        enabled.add("iden_B")
    return enabled


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from Module2.make_toy_data import make_toy_data

    root = tmp_path_factory.mktemp("toy")
    lists = make_toy_data(root, n=2, frames=3, clips=1, size=256, seed=0)
    ckpt = root / "checkpoints"
    ckpt.mkdir()
    return {"root": root, "lists": lists, "ckpt": ckpt, "helpers": _helpers(ckpt)}


def _cmd(flags: list[str], toy: dict, port: int, extra: Sequence[str] = ()) -> list[str]:
    return [sys.executable, "train.py", *flags,
            "--list_dir", str(toy["lists"]), "--checkpoints_dir", str(toy["ckpt"]), "--niter", "1", "--niter_decay", "0",
            "--max_dataset_size", "2", "--display_freq", "1", "--print_freq", "1", "--save_epoch_freq", "1",
            "--gpu_ids", "-1", "--display_port", str(port), "--display_server", "http://127.0.0.1", "--num_threads", "0",
            "--ngf", str(SMALL), "--ndf", str(SMALL), *extra]


class _Run:
    """A training subprocess (one torch thread: the runs share the machine's cores)."""

    def __init__(self, cmd: list[str], out_dir: Path, tag: str):
        self.out, self.err = out_dir / f"{tag}.out", out_dir / f"{tag}.err"
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        with open(self.out, "w") as o, open(self.err, "w") as e:
            self.proc = subprocess.Popen(cmd, cwd=MODULE2, stdout=o, stderr=e, env=env)

    def wait(self) -> str:
        try:
            code = self.proc.wait(timeout=170)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        text = self.out.read_text() + self.err.read_text()
        assert code == 0, text[-4000:]
        return text


@pytest.fixture(scope="module")
def runs(toy):
    """Both of the original's commands (concurrently, real visdom server), then --continue_train without a server."""
    res: dict = {}
    logs = toy["root"] / "logs"
    logs.mkdir()
    with visdom_server(toy["root"]) as port:
        procs = {style: _Run(_cmd(flags, toy, port), logs, style) for style, flags in (("drawing", DRAWING), ("cartoon", CARTOON))}
        res["drawing"] = procs["drawing"].wait()
        exp = toy["ckpt"] / "training" / "drawing1"
        res["drawing_log"] = (exp / "loss_log.txt").read_text()
        res["before"] = torch.load(exp / "latest_net_G_A.pth", map_location="cpu", weights_only=True)
        res["no_server_port"] = free_port()  # nothing listens there
        cont = _Run(_cmd(DRAWING, toy, res["no_server_port"],
                         ["--continue_train", "--epoch_count", "2", "--niter", "2", "--max_dataset_size", "1",
                          "--save_latest_freq", "1", "--save_by_iter"]), logs, "continue")
        res["cartoon"] = procs["cartoon"].wait()
        res["cartoon_log"] = (toy["ckpt"] / "training" / "cartoon1" / "loss_log.txt").read_text()
        res["windows"] = {style: window_data(port, f"training_{style}1") for style in ("drawing", "cartoon")}
    res["continue"] = cont.wait()
    return res


def _losses(log_text: str) -> list[dict[str, float]]:
    rows = []
    for line in log_text.splitlines():
        if line.startswith("(epoch"):
            body = line.split(") ", 1)[1]
            rows.append({k: float(v) for k, v in re.findall(r"(\w+): (\S+)", body)})
    return rows


def _build(name: str, style: str):
    from Module2.models.networks import define_D, define_G

    nc = 1 if style == "drawing" else 3
    if name == "G_A":
        return define_G(3, nc, SMALL, "resnet_9blocks_rcatland32_full_ifw", "instance", False, "normal", 0.02, [], div=3, disp=3)
    in_nc = {"D_A": nc, "D_A_coh": 2 * nc}.get(name, nc + 1)
    return define_D(in_nc, SMALL, "basic", 3, "instance", init_type="normal", init_gain=0.02, gpu_ids=[])


@pytest.mark.slow
@pytest.mark.parametrize("style", ["drawing", "cartoon"])
def test_seed_training_command(toy, runs, style):
    from common.checkpoint import load_state_dict

    text = runs[style]
    expected = [n for n in LOSSES[style] if n not in {"geom_B", "iden_B"} or n in toy["helpers"]]
    if "geom_B" not in toy["helpers"]:
        assert "geometry loss geom_B is OFF" in text
    if "iden_B" not in toy["helpers"]:
        assert "identity loss iden_B is OFF" in text
    assert "MODNet matting unavailable" in text and "intrinsic-flow network unavailable" in text  # stand-ins, announced
    assert "Could not connect to the visdom server" not in text

    rows = _losses(runs[f"{style}_log"])
    assert len(rows) == 2  # two iterations, print_freq 1
    for row in rows:
        assert list(row) == expected
        assert all(math.isfinite(v) for v in row.values()), row
    assert rows[-1]["G"] > 0 and rows[-1]["D_A"] > 0

    wins = runs["windows"][style]
    assert wins["2"]["type"] == "image" and wins["2"]["title"] == f"training/{style}1 images"
    assert "fake_B" in wins["3"]["content"]
    traces = {d["name"]: d["y"] for d in wins["1"]["content"]["data"]}
    assert set(traces) == set(expected) and all(len(y) == 2 for y in traces.values())
    exp = toy["ckpt"] / "training" / f"{style}1"
    assert (exp / "web" / "index.html").is_file() and (exp / "web" / "images" / "epoch001_fake_B.png").is_file()

    for net in NETS[style]:
        for epoch in ("1", "latest"):
            path = exp / f"{epoch}_net_{net}.pth"
            assert path.is_file()
            state = torch.load(path, map_location="cpu", weights_only=True)
            assert not any(k.startswith("module.") for k in state)
            load_state_dict(path, _build(net, style))  # strict: raises on any mismatch
    assert not list(exp.glob(".*.tmp*"))


@pytest.mark.slow
def test_continue_train_without_visdom_server(toy, runs):
    exp = toy["ckpt"] / "training" / "drawing1"
    text, port = runs["continue"], runs["no_server_port"]
    assert text.count("Could not connect to the visdom server") == 1
    assert f"python -m visdom.server -port {port}" in text
    assert "End of epoch 2 / 2" in text and "End of epoch 1 /" not in text
    assert (exp / "2_net_G_A.pth").is_file()
    # the iteration counter carries on from the first run's 2 (it is saved with the set): iter_3, not iter_1
    assert sorted(p.name for p in exp.glob("iter_*")) == sorted(
        [f"iter_3_net_{n}.pth" for n in NETS["drawing"]] + ["iter_3_checkpoint.json", "iter_3_train_state.pth"])
    before, after = runs["before"], torch.load(exp / "2_net_G_A.pth", map_location="cpu", weights_only=True)
    assert after.keys() == before.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # resumed and trained on
    rows = _losses((exp / "loss_log.txt").read_text())
    assert len(rows) == 3 and all(math.isfinite(v) for v in rows[-1].values())


def test_interrupted_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    import argparse

    from Module2.models.base_model import BaseModel

    class Tiny(BaseModel):
        def set_input(self, input):
            pass

        def forward(self):
            pass

    opt = argparse.Namespace(checkpoints_dir=str(tmp_path), name="exp", gpu_ids=[], isTrain=True, device="cpu")
    model = Tiny(opt)
    model.model_names = ["G_A"]
    model.netG_A = torch.nn.Linear(3, 2)
    (path,) = model.save_networks("latest")
    old = {k: v.clone() for k, v in model.netG_A.state_dict().items()}
    with torch.no_grad():
        model.netG_A.weight.add_(1.0)
    real_save = torch.save

    def torn_save(obj, f, *a, **k):
        real_save(obj, f, *a, **k)
        with open(f, "r+b") as fh:  # leave half a file behind, then die
            fh.truncate(Path(f).stat().st_size // 2)
        raise KeyboardInterrupt("killed mid-save")

    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.raises(KeyboardInterrupt):
        model.save_networks("latest")
    monkeypatch.undo()
    state = torch.load(path, weights_only=True)
    assert all(torch.equal(state[k], old[k]) for k in old)
    assert sorted(p.name for p in path.parent.iterdir()) == ["latest_checkpoint.json", "latest_net_G_A.pth"]


def test_missing_helpers_switch_losses_off_with_notices(tmp_path, caplog):
    import logging

    from Module2.models import create_model
    from Module2.options.train_options import TrainOptions

    opt = TrainOptions().parse(DRAWING + ["--checkpoints_dir", str(tmp_path), "--gpu_ids", "-1", "--ngf", "4", "--ndf", "4"],
                               save=False)
    with caplog.at_level(logging.WARNING):
        model = create_model(opt)
    notices = [r.getMessage() for r in caplog.records if r.getMessage().startswith("NOTICE")]
    assert len(notices) == 4
    assert any("geom_B is OFF" in m and "mobilefacenet_model_best.pth.tar" in m for m in notices)
    assert any("iden_B is OFF" in m and "sphere20a_20171020.pth" in m for m in notices)
    assert any("MODNet" in m and "foreground_mask" in m for m in notices)
    assert any("intrinsic-flow" in m and "zero flow" in m for m in notices)
    assert model.loss_names == [n for n in LOSSES["drawing"] if n not in ("geom_B", "iden_B")]
    assert model.model_names == NETS["drawing"]


@pytest.mark.slow
def test_torchrun_two_processes_ddp(toy):
    """torchrun with 2 CPU processes (gloo): DDP training, rank 0 alone logs and saves."""
    cmd = _cmd(DRAWING, toy, free_port(), ["--name", "training/ddp", "--display_id", "0", "--lambda_geom", "0",
                                            "--identity_loss", "0"])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *cmd[1:]]
    text = _Run(cmd, toy["root"], "ddp").wait()
    exp = toy["ckpt"] / "training" / "ddp"
    log = (exp / "loss_log.txt").read_text()
    assert log.count("================ Training Loss") == 1
    rows = _losses(log)
    assert len(rows) == 1 and all(math.isfinite(v) for v in rows[0].values())  # 2 items split over 2 ranks
    assert text.count("saving the model at the end of epoch 1") == 1
    # rank 1 stays quiet: one option table, one summary, one end-of-epoch line
    for line in ("----------------- Options", "The number of training images", "End of epoch 1 / 1", "CPU: "):
        assert text.count(line) == 1, line
    for net in NETS["drawing"]:
        assert (exp / f"1_net_{net}.pth").is_file()
    state = torch.load(exp / "1_net_G_A.pth", map_location="cpu", weights_only=True)
    assert not any(k.startswith("module.") for k in state)
