"""Training telemetry: visdom windows, ``loss_log.txt`` and HTML pages (CycleGAN's ``Visualizer``).

* ``display_current_results`` — one ``vis.images`` grid of all current visuals (window
  ``display_id+1``) plus an HTML label table (``display_id+2``); with ``--display_ncols 0``
  one window per image. Unless ``--no_html`` the images also go to
  ``<checkpoints_dir>/<name>/web/images/epoch%03d_<label>.png`` and ``web/index.html``.
* ``plot_current_losses`` — ``vis.line`` of every loss against epoch (window ``display_id``).
* ``print_current_losses`` — logs and appends
  ``(epoch: E, iters: I, time: t, data: d) name: v …`` to ``loss_log.txt``.

``--display_id 0`` (or negative) turns visdom off. The visualizer never starts a server:
when none answers it says so once, with the command that starts one, and training goes on
(it reconnects by itself if the server appears later).
"""
from __future__ import annotations

import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import torch
from PIL import Image

from .html import HTML
from .util import tensor2im

__all__ = ["Visualizer", "visdom_start_command"]

log = logging.getLogger(__name__)


def visdom_start_command(port: int) -> str:
    """The command a user runs to start the visdom server on ``port``."""
    return f"python -m visdom.server -port {port}"


class Visualizer:
    """Displays/saves images and losses of a training run (rank 0 only under torchrun)."""

    def __init__(self, opt) -> None:
        self.opt = opt
        self.display_id = int(getattr(opt, "display_id", 0))
        if int(getattr(opt, "rank", 0)) != 0:
            self.display_id = 0
        self.use_html = bool(getattr(opt, "isTrain", True)) and not getattr(opt, "no_html", False)
        self.win_size = int(getattr(opt, "display_winsize", 256))
        self.name = opt.name
        self.ncols = int(getattr(opt, "display_ncols", 4))
        self.server = str(getattr(opt, "display_server", "http://localhost"))
        self.port = int(getattr(opt, "display_port", 8097))
        self.env = str(getattr(opt, "display_env", "main"))
        self.saved = False
        self.vis: Any = None  # visdom.Visdom once connected (visdom is untyped)
        self._notified = False
        self.plot_data: dict = {}
        self.expr_dir = Path(opt.checkpoints_dir) / opt.name
        self.web_dir = self.expr_dir / "web"
        self.img_dir = self.web_dir / "images"
        if self.use_html:
            self.img_dir.mkdir(parents=True, exist_ok=True)
        self.expr_dir.mkdir(parents=True, exist_ok=True)
        self.log_name = self.expr_dir / "loss_log.txt"
        if int(getattr(opt, "rank", 0)) == 0:
            with open(self.log_name, "a") as f:
                f.write(f"================ Training Loss ({time.strftime('%c')}) ================\n")
        if self.display_id > 0:
            self._connect()

    # -- visdom connection -------------------------------------------------------------------------
    def _host(self) -> str:
        parsed = urlparse(self.server if "://" in self.server else "http://" + self.server)
        return parsed.hostname or "localhost"

    def _server_up(self) -> bool:
        try:
            with socket.create_connection((self._host(), self.port), timeout=1.0):
                return True
        except OSError:
            return False

    def _notice(self) -> None:
        if not self._notified:
            self._notified = True
            log.warning(
                "Could not connect to the visdom server at %s:%d; training goes on without the live display. "
                "Start it with `%s` (offline: `python -m Module2.util.visdom_server -port %d`; it is picked up "
                "automatically), or pass --display_id 0 to turn it off.",
                self.server, self.port, visdom_start_command(self.port), self.port,
            )

    def _connect(self) -> bool:
        if self.vis is not None:
            return True
        if not self._server_up():
            self._notice()
            return False
        import visdom

        # Without the incoming socket visdom warns on every connection; that back channel is not used.
        logging.getLogger("visdom").setLevel(logging.ERROR)
        try:
            self.vis = visdom.Visdom(server=self.server, port=self.port, env=self.env,
                                     use_incoming_socket=False, raise_exceptions=True)
        except ConnectionError:
            self.vis = None
            self._notice()
            return False
        log.info("visdom display: %s:%d env %r", self.server, self.port, self.env)
        return True

    def _send(self, fn, *args, **kwargs) -> None:
        if self.vis is None and not self._connect():
            return
        try:
            fn(self.vis, *args, **kwargs)
        except ConnectionError:
            self.vis = None
            self._notice()

    def reset(self) -> None:
        """Start of an epoch: the next ``display_current_results`` saves to HTML again."""
        self.saved = False

    # -- images ------------------------------------------------------------------------------------
    def display_current_results(self, visuals: Mapping[str, torch.Tensor], epoch: int, save_result: bool) -> None:
        """Send the visuals to visdom and (once per epoch / when asked) to the HTML page."""
        images = OrderedDict((label, tensor2im(img)) for label, img in visuals.items())
        if self.display_id > 0:
            self._send(self._display, images)
        if self.use_html and (save_result or not self.saved):
            self.saved = True
            for label, im in images.items():
                Image.fromarray(im).save(self.img_dir / f"epoch{epoch:03d}_{label}.png")
            self._write_html(epoch, list(images))

    def _display(self, vis, images: OrderedDict[str, np.ndarray]) -> None:
        ncols = self.ncols
        if ncols > 0:
            ncols = min(ncols, len(images))
            h, w = next(iter(images.values())).shape[:2]
            table_css = (f"<style>table {{border-collapse: separate; border-spacing: 4px; white-space: nowrap; "
                         f"text-align: center}} table td {{width: {w}px; height: {h}px; padding: 4px; "
                         f"outline: 4px solid black}}</style>")
            label_html, row, grid = "", "", []
            for idx, (label, im) in enumerate(images.items()):
                row += f"<td>{label}</td>"
                grid.append(im.transpose([2, 0, 1]))
                if (idx + 1) % ncols == 0:
                    label_html += f"<tr>{row}</tr>"
                    row = ""
            white = np.ones_like(grid[0]) * 255
            while len(grid) % ncols != 0:
                grid.append(white)
                row += "<td></td>"
            if row:
                label_html += f"<tr>{row}</tr>"
            vis.images(grid, nrow=ncols, win=self.display_id + 1, padding=2, opts=dict(title=self.name + " images"))
            vis.text(table_css + f"<table>{label_html}</table>", win=self.display_id + 2,
                     opts=dict(title=self.name + " labels"))
        else:
            for i, (label, im) in enumerate(images.items()):
                vis.image(im.transpose([2, 0, 1]), opts=dict(title=label), win=self.display_id + i)

    def _write_html(self, epoch: int, labels: list[str]) -> None:
        webpage = HTML(self.web_dir, f"Experiment name = {self.name}", refresh=1)
        for n in range(epoch, 0, -1):
            names = [f"epoch{n:03d}_{label}.png" for label in labels]
            if not all((self.img_dir / name).is_file() for name in names):
                continue
            webpage.add_header(f"epoch [{n}]")
            webpage.add_images(names, labels, names, width=self.win_size)
        webpage.save()

    # -- losses ------------------------------------------------------------------------------------
    def plot_current_losses(self, epoch: int, counter_ratio: float, losses: Mapping[str, float]) -> None:
        """Append a point per loss to the visdom line plot (x = epoch + fraction of the epoch)."""
        if not self.plot_data:
            self.plot_data = {"X": [], "Y": [], "legend": list(losses.keys())}
        self.plot_data["X"].append(epoch + counter_ratio)
        self.plot_data["Y"].append([float(losses[k]) for k in self.plot_data["legend"]])
        if self.display_id <= 0:
            return
        n = len(self.plot_data["legend"])

        def line(vis):
            vis.line(
                X=np.stack([np.array(self.plot_data["X"])] * n, 1),
                Y=np.array(self.plot_data["Y"]),
                opts={"title": self.name + " loss over time", "legend": self.plot_data["legend"],
                      "xlabel": "epoch", "ylabel": "loss"},
                win=self.display_id,
            )

        self._send(line)

    def print_current_losses(self, epoch: int, iters: int, losses: Mapping[str, float], t_comp: float, t_data: float) -> str:
        """Log the losses and append them to ``loss_log.txt``; returns the line."""
        message = f"(epoch: {epoch}, iters: {iters}, time: {t_comp:.3f}, data: {t_data:.3f}) "
        message += "".join(f"{k}: {float(v):.3f} " for k, v in losses.items())
        log.info("%s", message)
        with open(self.log_name, "a") as f:
            f.write(message + "\n")
        return message
