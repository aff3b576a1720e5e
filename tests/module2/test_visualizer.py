"""Visualizer: a real visdom server, loss_log.txt, HTML pages, and the no-server notice."""
from __future__ import annotations

import argparse
import logging

import numpy as np
import torch
from visdom_server import free_port, visdom_server, window_data

from Module2.util.visualizer import Visualizer, tensor2im


def _opt(tmp_path, port, display_id=1, env="vis_test"):
    return argparse.Namespace(
        display_id=display_id, isTrain=True, no_html=False, display_winsize=64, name="run/one",
        display_ncols=4, display_server="http://127.0.0.1", display_port=port, display_env=env,
        checkpoints_dir=str(tmp_path / "ckpt"),
    )


def _visuals():
    return {
        "real_A": torch.zeros(1, 3, 16, 16),
        "fake_B": torch.full((1, 1, 16, 16), 1.0),
        "mask2": torch.stack([torch.full((16, 16), -1.0), torch.full((16, 16), 1.0)]).unsqueeze(0),
    }


def test_tensor2im_conventions():
    t = torch.tensor([[[[-1.0, 0.0], [0.999, 1.0]]]])
    im = tensor2im(t)
    assert im.shape == (2, 2, 3) and im.dtype == np.uint8
    assert im[0, 0].tolist() == [0, 0, 0] and im[0, 1, 0] == 127 and im[1, 0, 0] == 254 and im[1, 1, 0] == 255
    two = tensor2im(torch.stack([torch.full((2, 2), -1.0), torch.full((2, 2), 1.0)]).unsqueeze(0))
    assert (two == 255).all()


def test_real_server_receives_images_and_losses(tmp_path):
    with visdom_server(tmp_path) as port:
        vz = Visualizer(_opt(tmp_path, port))
        vz.display_current_results(_visuals(), epoch=1, save_result=True)
        vz.plot_current_losses(1, 0.5, {"G_A": 1.0, "D_A": 0.25})
        vz.plot_current_losses(1, 1.0, {"G_A": 0.5, "D_A": 0.5})
        wins = window_data(port, "vis_test")
    assert set(wins) >= {"1", "2", "3"}
    assert wins["2"]["type"] == "image" and wins["2"]["title"] == "run/one images"
    assert wins["3"]["type"] == "text" and "fake_B" in wins["3"]["content"]
    plot = wins["1"]
    assert plot["type"] == "plot" and plot["title"] == "run/one loss over time"
    traces = {d["name"]: d for d in plot["content"]["data"]}
    assert traces["G_A"]["y"] == [1.0, 0.5] and traces["D_A"]["y"] == [0.25, 0.5]
    assert traces["G_A"]["x"] == [1.5, 2.0]
    web = tmp_path / "ckpt" / "run" / "one" / "web"
    assert (web / "images" / "epoch001_fake_B.png").is_file()
    assert "epoch001_real_A.png" in (web / "index.html").read_text()


def test_no_server_one_notice_and_log(tmp_path, caplog):
    port = free_port()
    with caplog.at_level(logging.WARNING, logger="Module2.util.visualizer"):
        vz = Visualizer(_opt(tmp_path, port))
        for i in range(3):
            vz.display_current_results(_visuals(), epoch=1, save_result=False)
            vz.plot_current_losses(1, i / 3, {"G_A": 1.0})
            vz.print_current_losses(1, i + 1, {"G_A": 1.0, "D_A": 0.123456}, 0.5, 0.01)
    notices = [r for r in caplog.records if "visdom" in r.getMessage()]
    assert len(notices) == 1 and vz.vis is None
    lines = (tmp_path / "ckpt" / "run" / "one" / "loss_log.txt").read_text().splitlines()
    assert lines[0].startswith("================ Training Loss")
    assert lines[-1] == "(epoch: 1, iters: 3, time: 0.500, data: 0.010) G_A: 1.000 D_A: 0.123 "


def test_no_server_notice_names_command(tmp_path, caplog):
    port = free_port()
    with caplog.at_level(logging.WARNING, logger="Module2.util.visualizer"):
        vz = Visualizer(_opt(tmp_path, port))
        vz.plot_current_losses(1, 0.1, {"G_A": 1.0})
    msgs = [r.getMessage() for r in caplog.records if r.name == "Module2.util.visualizer"]
    assert len(msgs) == 1 and f"python -m visdom.server -port {port}" in msgs[0]


def test_display_id_zero_never_connects(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        vz = Visualizer(_opt(tmp_path, free_port(), display_id=0))
        vz.display_current_results(_visuals(), 1, True)
        vz.plot_current_losses(1, 0.5, {"G_A": 1.0})
    assert vz.vis is None
    assert not [r for r in caplog.records if "visdom" in r.getMessage()]


def test_picks_up_a_server_started_later(tmp_path, caplog):
    port = free_port()
    with caplog.at_level(logging.WARNING, logger="Module2.util.visualizer"):
        vz = Visualizer(_opt(tmp_path, port, env="late"))
        vz.plot_current_losses(1, 0.5, {"G_A": 2.0})
        with visdom_server(tmp_path, port=port):
            vz.plot_current_losses(1, 1.0, {"G_A": 1.0})
            wins = window_data(port, "late")
    assert len([r for r in caplog.records if "visdom" in r.getMessage()]) == 1
    assert wins["1"]["content"]["data"][0]["y"] == [2.0, 1.0]  # the history is replayed once connected
