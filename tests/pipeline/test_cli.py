"""The command line: the original driver's flags, help, option mapping."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import _IGNORED_ORIGINAL_FLAGS, build_parser, config_from_args

REPO = Path(__file__).resolve().parents[2]
SEED_DRAWING = ["--jpg", "examples/hermione2.jpeg", "--audio", "examples/female12.wav", "--exp", "formal/drawing"]


def test_help_documents_every_flag():
    out = subprocess.run([sys.executable, str(REPO / "main_end2end_module2.py"), "--help"],
                         capture_output=True, text=True, check=True).stdout
    for flag in ["--jpg", "--audio", "--video", "--exp", "--epoch", "--fps", "--size", "--seed", "--output_dir",
                 "--predictor", "--renderer", "--max_seconds", "--quiet", "--gpu_ids", "--load_AUTOVC_name",
                 "--load_a2l_G_name", "--load_a2l_C_name", "--amp_lip_x", "--amp_lip_y", "--amp_pos",
                 "--emb_coef", "--module1_constants", *[f"--{k}" for k in _IGNORED_ORIGINAL_FLAGS]]:
        assert flag in out, flag
    assert "ANIMATE_PORTRAIT_CACHE" in out and "'off'" in out  # the one place a run writes outside --output_dir


def test_seed_drawing_command_maps_to_config():
    cfg = config_from_args(build_parser().parse_args(SEED_DRAWING))
    assert cfg.exp == "formal/drawing" and cfg.epoch == "70" and cfg.module2.style == "drawing"
    assert cfg.name == "hermione2-female12" and cfg.run_dir == Path("output/hermione2-female12")
    assert cfg.postfix == "drawing--ep70" and cfg.fps == 25 and cfg.module2.size == 512
    assert cfg.module2.generator_path.as_posix().endswith("Module2/checkpoints/formal/drawing/70_net_G_A.pth")
    assert cfg.module1.load_AUTOVC_name.as_posix().endswith("Module1/checkpoints/ckpt_autovc.pth")
    assert cfg.module1.device == "cpu" or cfg.module1.device.startswith("cuda")


def test_seed_cartoon_and_defaults():
    ns = build_parser().parse_args(SEED_DRAWING[:-1] + ["formal/cartoon", "--epoch", "60", "--size", "256"])
    cfg = config_from_args(ns)
    assert cfg.module2.style == "cartoon" and cfg.postfix == "cartoon--ep60" and cfg.module2.size == 256
    cfg = config_from_args(build_parser().parse_args(SEED_DRAWING[:4] + ["--exp", ""]))
    assert cfg.exp == "formal/drawing" and cfg.module2.style == "drawing"


def test_seed_module1_flags_accepted():
    ns = build_parser().parse_args(SEED_DRAWING + ["--amp_lip_x", "1.5", "--emb_coef", "2", "--rerun", "1",
                                                   "--transformer_N", "2", "--lr", "0.001"])
    cfg = config_from_args(ns)
    assert cfg.module1.amp_lip_x == 1.5 and cfg.module1.emb_coef == 2.0
    assert ns.rerun == 1 and "reg_lr" not in vars(ns)  # only given ignored flags are present (for the warning)


def test_video_name(tmp_path):
    cfg = config_from_args(build_parser().parse_args(["--video", str(tmp_path / "clip one.mp4")]))
    assert cfg.name == "clip one-clip one"


@pytest.mark.parametrize("argv, msg", [
    ([], "give --jpg"),
    (["--jpg", "a.png"], "give --jpg"),
    (SEED_DRAWING + ["--fps", "0"], "--fps"),
])
def test_usage_errors_are_one_line(argv, msg):
    proc = subprocess.run([sys.executable, str(REPO / "main_end2end_module2.py"), *argv],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and msg in lines[0] and "Traceback" not in proc.stderr
