"""Inference model ``geomcgt_ifw_test``: photo + target landmarks → stylised frame.

Per photo (computed once, cached): matte → binary foreground ``mask``; the static
stylisation ``fakeB_static`` of the unmasked photo; ``real_A_fore`` (white background).
Per frame (batched): intrinsic flow from the two landmark sets, ``G`` on the masked
photo, the matte moved to the target geometry (``mask1``, Delaunay grid) and the blend
``fake_B = G·mask1 + fakeB_static·(1 − mask1)`` (in [0, 1], back to [-1, 1]).

The model is built from a :class:`TestModelConfig` (``test.py`` parses its flags into one; the
``gan`` renderer builds one). Only ``G_A`` is loaded through ``load_networks``
(``<checkpoints_dir>/<name>/<epoch>_net_G_A.pth``). The auxiliary nets are read from
``checkpoints_dir`` under their released names when present; each absent one is replaced by a
weight-free stand-in from :mod:`Module2.models.model_parts` (logged once):

* matting (``modnet_photographic_portrait_matting.ckpt``) → ``Module2.stylize.foreground_mask``;
* intrinsic flow (``FlowReg_id_flow_faces/``) → zero flow, full validity mask (G's flow half
  then sees the unwarped features; the Delaunay half does the warping);
* static stylisation (``static/drawing.pth`` / ``static/cartoon.pt``) →
  ``Module2.stylize.line_drawing`` / ``cartoonize``.

``forward`` computes the frames only; the landmark-square visual ``fake_B_vis`` of the HTML page
is drawn when :meth:`GeomCGTIFWTestModel.get_current_visuals` asks for it.
"""
from __future__ import annotations

import argparse
import logging
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from ..data.landmark_maps import grid_warp
from . import MODELS
from .base_model import BaseModel
from .model_parts import FlowFn, MattingFn, StaticFn, blend, flow_fn, intrinsic_flow, matting_stand_in, static_stand_in, whiten

if TYPE_CHECKING:
    from .auxiliary.photo2cartoon import ResnetGenerator

__all__ = ["GeomCGTIFWTestModel", "TestModelConfig", "StaticDrawing", "Photo2CartoonStatic", "VISUAL_NAMES"]

log = logging.getLogger(__name__)

VISUAL_NAMES = ["real_A", "real_A_lm", "target_B_lm", "fake_B", "fake_B_vis", "fg_mask", "fakeB_static", "fake_B_fore", "fg_mask1"]


@dataclass(frozen=True)
class TestModelConfig:
    """Everything ``geomcgt_ifw_test`` reads: ``test.py`` parses its flags into one, the ``gan`` renderer builds one.

    The generator is ``<checkpoints_dir>/<name>/<epoch>_net_G_A.pth`` (``iter_<load_iter>`` when
    ``load_iter`` > 0); the auxiliary nets are looked up in ``checkpoints_dir`` too. The style is
    ``cartoon`` when ``name`` contains it, else ``drawing`` (the original's rule).
    """

    name: str
    checkpoints_dir: Path
    epoch: str = "latest"
    load_iter: int = 0
    input_nc: int = 3
    output_nc: int = 1
    ngf: int = 64
    netG: str = "resnet_9blocks_rcatland32_full_ifw"
    norm: str = "instance"
    no_dropout: bool = True
    init_type: str = "normal"
    init_gain: float = 0.02
    netg_resb_div: int = 3
    netg_resb_disp: int = 1
    blendbg: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    gpu_ids: tuple[int, ...] = ()
    verbose: bool = False
    isTrain: bool = False  # BaseModel's switch; always False here

    @property
    def style(self) -> str:
        return "cartoon" if "cartoon" in self.name else "drawing"

    @classmethod
    def from_options(cls, opt: argparse.Namespace) -> TestModelConfig:
        """The config of parsed ``TestOptions`` (flags this model does not read are left out)."""
        values = {f.name: getattr(opt, f.name) for f in fields(cls) if hasattr(opt, f.name)}
        values["checkpoints_dir"] = Path(values["checkpoints_dir"])
        values["device"] = torch.device(values.get("device", "cpu"))
        values["gpu_ids"] = tuple(values.get("gpu_ids", ()))
        values["isTrain"] = False
        return cls(**values)


class StaticDrawing(torch.nn.Module):
    """The static drawing stylisation of the original's test model around a ``resnet_style2_9blocks`` G.

    ``A`` (B,3,256,256) → bilinear ×2 to 512 → ``G(A512, style [0,1,0])`` → bilinear back to 256.
    """

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, A: torch.Tensor, landmarks: object = None) -> torch.Tensor:
        size = A.shape[-1]
        a512 = F.interpolate(A, size=(2 * size, 2 * size), mode="bilinear", align_corners=False)
        style = torch.tensor([0.0, 1.0, 0.0], device=A.device).view(1, 3, 1, 1).expand(A.shape[0], 3, size // 2, size // 2)
        s512 = self.net(a512, style)
        return F.interpolate(s512, size=(size, size), mode="bilinear", align_corners=False)


class Photo2CartoonStatic(torch.nn.Module):
    """photo2cartoon ``inference2(..., nocrop=1)`` on the 256 photo (the cartoon style's static stylisation):
    uint8 re-quantisation by truncation, ``face/127.5 − 1``, the generator's first output."""

    def __init__(self, net: ResnetGenerator) -> None:
        super().__init__()
        self.net = net

    def forward(self, A: torch.Tensor, landmarks: object = None) -> torch.Tensor:
        from .auxiliary.photo2cartoon import static_cartoon

        return static_cartoon(self.net, A).to(A.device)


@MODELS.register("geomcgt_ifw_test")
class GeomCGTIFWTestModel(BaseModel):
    """Test-only model; see the module docstring. Auxiliaries may be injected (tests, renderer)."""

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool = False) -> argparse.ArgumentParser:
        if is_train:
            parser.error("model geomcgt_ifw_test is test-only: run test.py, not train.py")
        parser.set_defaults(no_dropout=True, dataset_mode="umlvdfw_test", netG="resnet_9blocks_rcatland32_full_ifw")
        parser.add_argument("--netg_resb_div", type=int, default=3,
                            help="trunk block i gets the landmark codes iff (i + disp) %% div == 0")
        parser.add_argument("--netg_resb_disp", type=int, default=1, help="see --netg_resb_div")
        parser.add_argument("--truncate", type=float, default=0.0, help="unused (the original's command line passes it)")
        parser.add_argument("--draw_op", type=int, default=0, choices=[0],
                            help="landmark map drawing: 0 = filled discs (the only one the test path uses)")
        parser.add_argument("--blendbg", type=int, default=0,
                            help="1: blend the generated face over the static stylisation through the warped matte")
        return parser

    def __init__(
        self,
        opt: TestModelConfig | argparse.Namespace,
        matting: MattingFn | None = None,
        flow_net: FlowFn | None = None,
        static_stylizer: StaticFn | None = None,
        netG: torch.nn.Module | None = None,
    ) -> None:
        cfg = opt if isinstance(opt, TestModelConfig) else TestModelConfig.from_options(opt)
        BaseModel.__init__(self, cfg)  # type: ignore[arg-type]  # BaseModel reads the option names the config has
        self.cfg = cfg
        self.loss_names = []
        self.visual_names = list(VISUAL_NAMES)
        self.model_names = ["G_A"]
        self.style = cfg.style
        self.blendbg = int(cfg.blendbg)
        self.aux_dir = Path(cfg.checkpoints_dir)
        if netG is None:
            from .networks import define_G

            netG = define_G(
                cfg.input_nc, cfg.output_nc, cfg.ngf, cfg.netG, cfg.norm, not cfg.no_dropout,
                cfg.init_type, cfg.init_gain, [],
                div=cfg.netg_resb_div, disp=cfg.netg_resb_disp,
            )
        self.netG_A = netG.to(self.device).eval()
        stand_ins: list[str] = []
        self.matting = matting if matting is not None else self._load_matting(stand_ins)
        self.flow_net = flow_net if flow_net is not None else self._load_flow(stand_ins)
        self.static_stylizer = static_stylizer if static_stylizer is not None else self._load_static(stand_ins)
        if stand_ins:
            log.warning("Module2 test model: weight-free stand-ins in use: %s", "; ".join(stand_ins))
        self._photo_key: tuple[torch.Tensor, torch.Tensor] | None = None

    # -- auxiliaries ------------------------------------------------------------------------------
    def _load_matting(self, stand_ins: list[str]) -> MattingFn:
        path = self.aux_dir / "modnet_photographic_portrait_matting.ckpt"
        if path.is_file():
            from .auxiliary.modnet import load_modnet, matte

            net = load_modnet(path, self.device)
            return lambda A, lm: matte(net, A)
        stand_ins.append(f"matting ({path.name} absent) -> stylize.foreground_mask")
        return matting_stand_in

    def _load_flow(self, stand_ins: list[str]) -> FlowFn | None:
        json_dir = self.aux_dir / "FlowReg_id_flow_faces"
        if (json_dir / "train_opt.json").is_file():
            from .auxiliary.flownet import load_flow_net

            return flow_fn(load_flow_net(json_dir, checkpoints_dir=self.aux_dir, device=self.device))
        stand_ins.append("intrinsic flow (FlowReg_id_flow_faces/ absent) -> zero flow, full mask")
        return None

    def _load_static(self, stand_ins: list[str]) -> StaticFn:
        if self.style == "drawing":
            path = self.aux_dir / "static" / "drawing.pth"
            if path.is_file():
                from common.checkpoint import load_state_dict

                from .networks import define_G

                net = define_G(3, 1, 64, "resnet_style2_9blocks", "instance", False, "normal", 0.02, [])
                load_state_dict(path, net)
                return StaticDrawing(net.to(self.device).eval())
        else:
            path = self.aux_dir / "static" / "cartoon.pt"
            if path.is_file():
                from .auxiliary.photo2cartoon import load_photo2cartoon

                net = load_photo2cartoon(path, device=self.device)
                return Photo2CartoonStatic(net.eval())
        static, name = static_stand_in(self.style)
        stand_ins.append(f"static {self.style} ({path.relative_to(self.aux_dir)} absent) -> {name}")
        return static

    # -- data flow --------------------------------------------------------------------------------
    @torch.no_grad()
    def prepare_photo(self, A: torch.Tensor, A_lm_68: torch.Tensor | np.ndarray) -> None:
        """Photo-dependent parts, once per photo: ``mask``, ``fakeB_static``, ``real_A_fore``.

        ``A`` (1,3,H,W) in [-1,1]; ``A_lm_68`` its (68,2) (or (1,68,2)) landmarks in A's pixels.
        """
        A = A[:1].to(self.device)
        lm = np.asarray(A_lm_68.detach().cpu() if isinstance(A_lm_68, torch.Tensor) else A_lm_68, np.float32)
        lm = lm.reshape(-1, 68, 2)[0]
        matte = self.matting(A, lm)
        self.mask = (matte > 0.5).float()
        self.fakeB_static_1 = self.static_stylizer(A, lm)
        self.real_A_fore_1 = whiten(A, self.mask)
        if not self.blendbg:  # no blending: the static stylisation gets the white background too
            self.fakeB_static_1 = whiten(self.fakeB_static_1, self.mask)
        self._photo_key = (A.clone(), torch.from_numpy(lm.copy()))

    @torch.no_grad()
    def set_input(self, input: dict) -> None:
        """Unpack a batch of frames of one photo; computes the intrinsic flow."""
        dev = self.device
        self.real_A = input["A"].to(dev)
        src = input["A_lm_68"][:1].detach().cpu().reshape(68, 2).float()
        key = self._photo_key
        if key is None or not (torch.equal(key[0], self.real_A[:1]) and torch.equal(key[1], src)):
            self.prepare_photo(self.real_A, src)
        self.image_paths = input["image_paths"]
        self.real_A_lm = input["A_lm"].to(dev)
        self.target_B_lm = input["tB_lm"].to(dev)
        self.A_lm_68 = input["A_lm_68"].to(dev)
        self.tB_lm_68 = input["tB_lm_68"].to(dev)
        self.winB = input["winB"]
        self.warp_motion = input["warp_motion"].to(dev)
        self.iw_flow, self.ifmask = intrinsic_flow(self.flow_net, self.A_lm_68, self.tB_lm_68, self.target_B_lm.shape[-1])

    def forward(self) -> None:
        b = self.target_B_lm.shape[0]
        self.real_A = self.real_A_fore_1.expand(b, -1, -1, -1)
        mask = self.mask.expand(b, -1, -1, -1)
        self.fakeB_static = self.fakeB_static_1.expand(b, -1, -1, -1)
        self.fg_mask = (2 * mask - 1).expand(b, 3, -1, -1)
        land1 = self.real_A_lm.expand(b, -1, -1, -1)
        self.fake_B_fore = self.netG_A(self.real_A, land1, self.target_B_lm, self.warp_motion, self.iw_flow, self.ifmask)
        self.mask1 = grid_warp(mask, self.warp_motion)
        if self.blendbg:
            self.fake_B = blend(self.fake_B_fore, self.fakeB_static, self.mask1)
        else:
            self.fake_B = self.fake_B_fore
        self.fg_mask1 = (2 * self.mask1 - 1).expand(b, 3, -1, -1)
        self._vis_stale = True

    def get_current_visuals(self) -> OrderedDict[str, torch.Tensor]:
        """The visuals of the last forward; ``fake_B_vis`` (landmark squares) is drawn only here, when asked."""
        if getattr(self, "_vis_stale", True):
            self.fake_B_vis = self._draw_vis(self.fake_B, self.tB_lm_68, self.winB)
            self._vis_stale = False
        return super().get_current_visuals()

    @staticmethod
    def _draw_vis(fake_B: torch.Tensor, lm: torch.Tensor, win: torch.Tensor) -> torch.Tensor:
        """fake_B (→ 3 ch) with 6×6 red squares at the target landmarks and the red window outline."""
        vis = fake_B.detach().clone()
        if vis.shape[1] == 1:
            vis = vis.repeat(1, 3, 1, 1)
        red = torch.tensor([1.0, -1.0, -1.0], device=vis.device).view(3, 1, 1)
        h, w = vis.shape[-2:]
        for i in range(vis.shape[0]):
            for x, y in np.round(lm[i].detach().cpu().numpy()).astype(int):
                vis[i, :, max(y - 3, 0) : max(y + 3, 0), max(x - 3, 0) : max(x + 3, 0)] = red
            x1, x2, y1, y2 = (int(v) for v in win[i])
            for x in (x1, x2):
                vis[i, :, max(y1 - 3, 0) : min(y2 + 3, h), max(x - 3, 0) : min(x + 3, w)] = red
            for y in (y1, y2):
                vis[i, :, max(y - 3, 0) : min(y + 3, h), max(x1 - 3, 0) : min(x2 + 3, w)] = red
        return vis
