"""The visdom page of a training run, in a real browser (headless Chromium), offline.

A tiny training run on toy data sends its losses and visuals to a real visdom server on 127.0.0.1;
Chromium then loads the env's page. Plotly must have drawn the loss curves (one trace per loss) and
the image grid must be on the page. Both launchers are checked: the project's offline
``Module2.util.visdom_server`` and visdom's own ``python -m visdom.server`` with every proxy pointing
at a dead port (so any fetch at start-up or from the page would fail). Needs the README set-up's
``python -m Module2.util.visdom_assets`` (CI runs it) and ``chromium`` (CI installs it).
"""
from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from visdom_server import free_port, port_open, visdom_server

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.slow

DRAWING = ("--dataroot drawing --name training/drawing1 --model geomgm_ifw_fore --netG resnet_9blocks_rcatland32_full_ifw "
           "--netg_resb_div 3 --netg_resb_disp 3 --output_nc 1 --display_env training_drawing1 --lr 0.00005 --lambda_geom 50 "
           "--lambda_geom_lipline 50 --more_weight_for_lip 2 --lambda_face 3.0 --lambda_warp_inter 10  --blendbg 1 "
           "--select_target12_thre 0.0 --niter 70 --niter_decay 0").split()
# plotly's trace colours (its default colourway without the grey, which the page's own text and axes could match)
PLOTLY_COLOURS = [np.array([int(c[i:i + 2], 16) for i in (0, 2, 4)])
                  for c in ("1f77b4", "ff7f0e", "2ca02c", "d62728", "9467bd", "8c564b", "e377c2", "bcbd22", "17becf")]


@pytest.fixture(scope="module", autouse=True)
def _needs_browser_and_assets():
    from Module2.util.visdom_assets import missing_assets

    if not Path(CHROMIUM).is_file():
        pytest.skip("chromium is not installed (CI installs it with apt)")
    missing = missing_assets()
    assert not missing, f"visdom web assets missing ({missing[:3]}…): run python -m Module2.util.visdom_assets"


def _chromium(tmp: Path, url: str, *mode: str, height: int = 1200) -> str:
    profile = tmp / f"profile-{time.monotonic_ns()}"
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", f"--user-data-dir={profile}", f"--window-size=1400,{height}",
                           "--virtual-time-budget=20000", *mode, url],
                          capture_output=True, text=True, timeout=180, cwd=tmp)
    shutil.rmtree(profile, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _page(tmp: Path, port: int, env: str) -> tuple[str, np.ndarray]:
    url = f"http://127.0.0.1:{port}/env/{env}"
    dom = _chromium(tmp, url, "--dump-dom")
    shot = tmp / f"{env}.png"
    _chromium(tmp, url, f"--screenshot={shot}", height=4000)  # tall: the image grid of ~40 visuals comes first
    return dom, np.asarray(Image.open(shot).convert("RGB"))


def _grid_images(dom: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"))
            for b64 in re.findall(r'<img[^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', dom)]


def _check_page(dom: str, shot: np.ndarray, losses: list[str], labels: list[str]) -> None:
    assert 'class="main-svg"' in dom, "plotly drew nothing"
    legend = re.findall(r'class="legendtext"[^>]*data-unformatted="([^"]+)"', dom)
    assert sorted(legend) == sorted(losses)
    assert len(re.findall(r'class="js-line"', dom)) == 2 * len(losses)  # one drawn curve per loss, and its legend swatch
    grids = _grid_images(dom)
    assert len(grids) == 1
    grid = grids[0]
    ncols = min(4, len(labels))  # --display_ncols 4, fewer when there are fewer visuals
    rows = -(-len(labels) // ncols)
    assert grid.shape[1] >= ncols * 256 and grid.shape[0] >= rows * 256  # every visual is in the grid
    assert grid.std() > 20  # a picture, not a blank
    for label in labels:
        assert f">{label}<" in dom  # the label table beside the grid
    # what a person sees: the curves in plotly's colours and the grid's white drawings on the screen
    # Curves with close values hide one another (the last drawn is on top), so any one colour may show only its
    # legend swatch; the union of the trace colours must still run across the plot, far wider than a swatch (~28 px).
    drawn = np.zeros(shot.shape[:2], bool)
    for colour in PLOTLY_COLOURS:
        drawn |= np.abs(shot.astype(int) - colour).sum(-1) < 30
    columns = np.unique(np.nonzero(drawn)[1]).size
    assert drawn.sum() > 300 and columns > 100, (drawn.sum(), columns)


def test_training_run_page_offline_launcher(tmp_path):
    from Module2.make_toy_data import make_toy_data

    lists = make_toy_data(tmp_path / "toy", n=2, frames=3, clips=1, size=256, seed=0)
    with visdom_server(tmp_path) as port:
        cmd = [sys.executable, "train.py", *DRAWING, "--list_dir", str(lists), "--checkpoints_dir", str(tmp_path / "ckpt"),
               "--niter", "1", "--max_dataset_size", "2", "--display_freq", "1", "--print_freq", "1", "--gpu_ids", "-1",
               "--display_port", str(port), "--display_server", "http://127.0.0.1", "--ngf", "8", "--ndf", "8"]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        proc = subprocess.run(cmd, cwd=REPO / "Module2", capture_output=True, text=True, timeout=600, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        header = (tmp_path / "ckpt" / "training" / "drawing1" / "loss_log.txt").read_text().splitlines()[-1]
        losses = re.findall(r"(\w+): [-\d.]+", header.split(") ", 1)[1])
        dom, shot = _page(tmp_path, port, "training_drawing1")
    labels = sorted(p.name[len("epoch001_"):-4] for p in (tmp_path / "ckpt" / "training" / "drawing1" / "web" / "images").iterdir())
    assert len(labels) >= 30 and "fake_B_lm_68_vist" in labels
    _check_page(dom, shot, losses, labels)
    log = (tmp_path / "server.log").read_text()
    assert " 404 " not in log and " 403 " not in log  # every script, style and font the page asked for was served


def test_visdom_own_command_serves_the_page_with_nothing_fetched(tmp_path):
    import argparse

    import torch

    from Module2.util.visualizer import Visualizer

    port = free_port()
    dead = "http://127.0.0.1:9"  # every download at start-up would go through this and fail
    env = dict(os.environ, HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead, NO_PROXY="127.0.0.1")
    log_path = tmp_path / "online.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "visdom.server", "-port", str(port), "--hostname", "127.0.0.1",
                                 "-env_path", str(tmp_path)], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while not port_open(port):
            assert proc.poll() is None, log_path.read_text()[-2000:]
            assert time.monotonic() < deadline, "visdom.server did not start"
            time.sleep(0.2)
        opt = argparse.Namespace(display_id=1, isTrain=True, no_html=True, display_winsize=256, name="online",
                                 display_ncols=4, display_server="http://127.0.0.1", display_port=port, display_env="online",
                                 checkpoints_dir=str(tmp_path / "ckpt"))
        vz = Visualizer(opt)
        g = torch.linspace(-1, 1, 256)
        visuals = {"real_A": (g[None, :] * g[:, None]).expand(1, 3, 256, 256), "fake_B": g.expand(1, 1, 256, 256)}
        vz.display_current_results(visuals, 1, False)
        vz.plot_current_losses(1, 0.5, {"G_A": 1.0, "D_A": 0.5})
        vz.plot_current_losses(1, 1.0, {"G_A": 0.7, "D_A": 0.4})
        dom, shot = _page(tmp_path, port, "online")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    _check_page(dom, shot, ["G_A", "D_A"], ["real_A", "fake_B"])
    text = log_path.read_text()
    assert "Downloading scripts" not in text and "while downloading" not in text
