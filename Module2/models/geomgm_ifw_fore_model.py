"""Training model ``geomgm_ifw_fore``: photo → line drawing with target geometry.

One iteration, as the original trains: the generator renders two frames of the masked photo, one for
the target landmarks tB and one for the offset landmarks tB2; with ``--blendbg 1`` each is
blended over the static stylisation by the photo's foreground mask moved (TPS) to the target
geometry. Generator losses: LSGAN global + local (nose/eyes/lips) discriminators, temporal
coherence discriminator on the frame pair, landmark geometry through MobileFaceNet (gradients
into G), lip-line darkness, warp loss against the TPS-warped static stylisation, inter-frame
warp loss, Sphere20a identity loss. Then every discriminator is updated.

Pretrained helpers are read from ``<checkpoints_dir>`` under their released names unless an
option gives a path; a missing one switches its loss off (or uses a stand-in) with a notice:

* ``mobilefacenet_model_best.pth.tar`` (``--landmark_model``) → ``geom_B`` off when absent;
* ``sphere20a_20171020.pth`` (``--face_recog_model``) → ``iden_B`` off when absent;
* ``modnet_photographic_portrait_matting.ckpt`` (``--modnet_model``) → weight-free
  :func:`Module2.stylize.foreground_mask` when absent;
* ``FlowReg_id_flow_faces/`` (``--flow_model``) → zero intrinsic flow with a full mask when absent.
"""
from __future__ import annotations

import argparse
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from common.errors import CheckpointError, UserError

from ..util.image_pool import ImagePool
from . import MODELS
from .base_model import BaseModel, unwrap
from .losses import FaceLoss, GANLoss, geometry_loss, landmarks_from_image, lipline_loss, lipline_map, masked_region, warp_loss
from .model_parts import blend, flow_fn, intrinsic_flow, matting_stand_in, whiten
from .networks.warp import warp_acc_flow
from .tps import tps_warp_xy

__all__ = ["GeomGMIFWForeModel", "OptionError", "add_geomgm_options", "intrinsic_flow", "landmark_overlay"]

log = logging.getLogger(__name__)

LANDMARK_MODEL = "mobilefacenet_model_best.pth.tar"
FACE_MODEL = "sphere20a_20171020.pth"
MODNET_MODEL = "modnet_photographic_portrait_matting.ckpt"
FLOW_MODEL = "FlowReg_id_flow_faces"


def add_geomgm_options(parser: argparse.ArgumentParser, is_train: bool, cartoon: bool) -> argparse.ArgumentParser:
    """Model flags of ``geomgm_ifw_fore`` / ``geomgm_ifw_cartoon_fore`` (the original's names and defaults)."""
    parser.set_defaults(no_dropout=True, dataset_mode="umlvd_ifw_cartoon" if cartoon else "umlvd_ifw",
                        # the original defaults to resnet_9blocks_rcatland3, a generator it never builds; the implemented G is the default
                        netG="resnet_9blocks_rcatland32_full_ifw")
    parser.add_argument("--netg_resb_div", type=int, default=3, help="trunk block i gets the landmark codes iff (i + disp) %% div == 0")
    parser.add_argument("--netg_resb_disp", type=int, default=1, help="see --netg_resb_div")
    parser.add_argument("--use_mask", type=int, default=1, help="nose-region discriminator D_A_l")
    parser.add_argument("--use_eye_mask", type=int, default=1, help="eye-region discriminator D_A_le")
    parser.add_argument("--use_lip_mask", type=int, default=1, help="lip-region discriminator D_A_ll")
    parser.add_argument("--mask_type", type=int, default=3, choices=[0, 1, 2, 3],
                        help="local D input: 0 outside black, 1 outside white, 2 cat(img, mask), 3 outside white + mask")
    parser.add_argument("--blendbg", type=int, default=0,
                        help="1: blend the generated face over the static stylisation by the warped matte (2 is not implemented)")
    if is_train:
        parser.add_argument("--lambda_geom", type=float, default=5.0, help="weight of the landmark geometry loss")
        parser.add_argument("--lambda_geom_lipline", type=float, default=0.0, help="weight of the lip-line loss")
        parser.add_argument("--max_offset", type=float, default=3, help="max per-point offset (px) of the second target tB2")
        parser.add_argument("--lambda_G_A_l", type=float, default=0.5, help="weight of the local GAN losses")
        parser.add_argument("--identity_loss", type=int, default=2,
                            help="0: no identity loss; 2: Sphere20a FaceLoss (1, the original's SENet50 branch, is not implemented)")
        parser.add_argument("--face_recog_model", type=str, default="",
                            help=f"Sphere20a weights (default <checkpoints_dir>/{FACE_MODEL})")
        parser.add_argument("--landmark_model", type=str, default="",
                            help=f"MobileFaceNet landmark regressor (default <checkpoints_dir>/{LANDMARK_MODEL})")
        parser.add_argument("--modnet_model", type=str, default="",
                            help=f"MODNet matting weights (default <checkpoints_dir>/{MODNET_MODEL})")
        parser.add_argument("--flow_model", type=str, default="",
                            help=f"intrinsic-flow model folder with train_opt.json (default <checkpoints_dir>/{FLOW_MODEL})")
        parser.add_argument("--lambda_face", type=float, default=5.0, help="weight of the identity loss")
        parser.add_argument("--warp_loss", type=int, default=2,
                            help="0: off; 2: L1 to the TPS-warped static stylisation (1, the original's path warp, is not implemented)")
        parser.add_argument("--lambda_warp", type=float, default=5.0, help="weight of the warp loss")
        parser.add_argument("--lambda_warp_inter", type=float, default=5.0, help="weight of the inter-frame warp loss")
        parser.add_argument("--coherent", type=int, default=0 if cartoon else 1, help="temporal coherence discriminator D_A_coh")
        parser.add_argument("--lambda_G_A_coh", type=float, default=0.5, help="weight of the temporal GAN loss")
        parser.add_argument("--coh_use_more", type=int, default=0 if cartoon else 2,
                            help="also show D_A_coh unrelated real frame pairs (B3, B4) as fake")
        parser.add_argument("--check_fakeb2_in_backwardD", type=int, default=1, help="D also sees the second generated frame")
        if not cartoon:
            parser.add_argument("--select_target12_thre", type=float, default=0.2,
                                help="probability of using a real video frame pair (B1, B2) as the targets")
        parser.add_argument("--select_noniden_thre", type=float, default=0.9,
                            help="probability of using the drawing's landmarks (else the photo's own) as the target")
        parser.add_argument("--more_weight_for_lip", type=float, default=0, help="> 0: separate lip geometry term with this extra weight")
        if not cartoon:
            parser.add_argument("--rx", type=float, default=0.15, help="face window left (fraction of the image)")
            parser.add_argument("--ry", type=float, default=0.2, help="face window top (fraction of the image)")
            parser.add_argument("--rs", type=float, default=0.7, help="face window side (fraction of the image)")
    return parser


class OptionError(UserError):
    """An option value the training model does not implement."""


def check_modes(opt: argparse.Namespace) -> None:
    """Refuse, in one line, the option values of the original that this model does not implement."""
    unsupported = [("blendbg", (0, 1), "the original's variant 2 also replaces the background")]
    if getattr(opt, "isTrain", False):
        unsupported += [("identity_loss", (0, 2), "mode 1 is the original's SENet50 face-recognition branch"),
                        ("warp_loss", (0, 2), "mode 1 is the original's path-warp loss")]
    for flag, allowed, why in unsupported:
        value = getattr(opt, flag, allowed[0])
        if value not in allowed:
            raise OptionError(f"--{flag} {value} is not implemented ({why}); use one of {', '.join(map(str, allowed))}")


def landmark_overlay(img: torch.Tensor, lm68: torch.Tensor, color: tuple[float, float, float] = (1.0, -1.0, -1.0)) -> torch.Tensor:
    """``img`` (B,C,H,W) → 3-channel copy with 6×6 squares at the rounded ``lm68`` (B,68,2) points."""
    vis = img.detach().clone()
    if vis.shape[1] == 1:
        vis = vis.repeat(1, 3, 1, 1)
    vis = vis[:, :3]
    c = torch.tensor(color, dtype=vis.dtype, device=vis.device).view(3, 1, 1)
    h, w = vis.shape[-2:]
    for i in range(vis.shape[0]):
        for x, y in np.round(lm68[i].detach().cpu().numpy()).astype(int):
            vis[i, :, min(max(y - 3, 0), h):min(max(y + 3, 0), h), min(max(x - 3, 0), w):min(max(x + 3, 0), w)] = c
    return vis


@MODELS.register("geomgm_ifw_fore")
class GeomGMIFWForeModel(BaseModel):
    """Geometry-aware photo→drawing GAN with the temporal coherence losses (drawing style)."""

    cartoon = False

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool = True) -> argparse.ArgumentParser:
        return add_geomgm_options(parser, is_train, cartoon=False)

    # -- construction ------------------------------------------------------------------------------
    def __init__(self, opt: argparse.Namespace) -> None:
        BaseModel.__init__(self, opt)
        check_modes(opt)
        from .networks import define_D, define_G

        self.device_p = torch.device(getattr(opt, "device_p", self.device)) if self.gpu_ids else self.device
        self.use_coh = self.isTrain and not self.cartoon and bool(opt.coherent)
        self.regions = [r for r, flag in (("l", opt.use_mask), ("le", opt.use_eye_mask), ("ll", opt.use_lip_mask)) if flag]

        self.netG_A = define_G(opt.input_nc, opt.output_nc, opt.ngf, opt.netG, opt.norm, not opt.no_dropout,
                               opt.init_type, opt.init_gain, [], div=opt.netg_resb_div, disp=opt.netg_resb_disp).to(self.device)
        self.model_names = ["G_A"]
        self.visual_names = ["real_A", "real_A_lm", "target_B_lm", "fake_B", "target_B2_lm", "fake_B2", "real_B",
                             "fakeB_static", "fakeB_static_warp", "fake_B_fore", "fg_mask"]
        self.net_lm: nn.Module | None = None
        self.face_loss: FaceLoss | None = None
        self.net_modnet: Any = None  # MODNet
        self.net_flow: nn.Module | None = None
        self.fake_B_lm_68: torch.Tensor | None = None
        self.fake_B2_lm_68: torch.Tensor | None = None
        if not self.isTrain:
            return

        ext = 1 if opt.mask_type in (2, 3) else 0
        d_kw = dict(init_type=opt.init_type, init_gain=opt.init_gain, gpu_ids=[])
        self.netD_A = define_D(opt.output_nc, opt.ndf, opt.netD, opt.n_layers_D, opt.norm, **d_kw).to(self.device_p)
        self.model_names.append("D_A")
        for r in self.regions:
            net = define_D(opt.output_nc + ext, opt.ndf, opt.netD, opt.n_layers_D, opt.norm, **d_kw)
            setattr(self, f"netD_A_{r}", net.to(self.device_p))
            self.model_names.append(f"D_A_{r}")
        if self.use_coh:
            self.netD_A_coh = define_D(2 * opt.output_nc, opt.ndf, opt.netD, opt.n_layers_D, opt.norm, **d_kw).to(self.device_p)
            self.model_names.append("D_A_coh")

        self._load_helpers(opt)
        self.use_geom = opt.lambda_geom > 0 and self.net_lm is not None
        self.use_lipline = opt.lambda_geom_lipline > 0
        self.use_warp = opt.warp_loss > 0 and opt.lambda_warp > 0
        self.use_warp_inter = opt.lambda_warp_inter > 0
        self.use_iden = self.face_loss is not None
        self.visual_names = self._training_visuals()
        names = ["D_A", "G_A"]
        names += ["geom_B"] if self.use_geom else []
        names += ["geom_B_lipline"] if self.use_lipline else []
        names += ["warp_B"] if self.use_warp else []
        names += ["warp_inter1"] if self.use_warp_inter else []
        names += ["iden_B"] if self.use_iden else []
        names += ["D_A_coh", "G_A_coh"] if self.use_coh else []
        for r in self.regions:
            names += [f"D_A_{r}", f"G_A_{r}"]
        self.loss_names = names + ["G"]

        self.criterionGAN = GANLoss(opt.gan_mode).to(self.device_p)
        self.fake_pool = ImagePool(opt.pool_size)
        self._wrap_ddp()
        self.optimizer_G = torch.optim.Adam(self.netG_A.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))
        d_params = [p for n in self.model_names[1:] for p in getattr(self, "net" + n).parameters()]
        self.optimizer_D = torch.optim.Adam(d_params, lr=opt.lr, betas=(opt.beta1, 0.999))
        self.optimizers = [self.optimizer_G, self.optimizer_D]

    def _training_visuals(self) -> list[str]:
        """The original's training visuals for the options of this run, in its order."""
        opt = self.opt
        v = ["real_A", "real_A_fore", "realA_static_warp", "realA_static_warp2", "real_A_if_face", "real_A_if_mask",
             "real_A_lm", "target_B_lm", "fake_B"]
        # *_vis: the landmarks MobileFaceNet finds in the frame (what geom_B sees); *_vist: the target landmarks
        v += ["fake_B_lm_68_vis"] if self.use_geom else []
        v += ["fake_B_lm_68_vist", "target_B2_lm", "fake_B2"]
        v += ["fake_B2_lm_68_vis"] if self.use_geom else []
        v += ["fake_B2_lm_68_vist", "real_B", "real_B_lm"]
        if opt.blendbg:
            v += ["fake_B_fore", "fake_B2_fore", "mask", "mask1", "mask2"]
        if self.use_lipline:
            v += ["liplinemask1", "liplinemask2"]
        if self.use_warp:
            v += ["fakeB_static_warp", "fakeB_static"]
        if self.use_warp_inter:
            v += ["fake_B_warp"]
        if self.use_coh:
            v += ["real_B1_lm_68_vist", "real_B2_lm_68_vist"] + (["real_B3", "real_B4"] if opt.coh_use_more else [])
        for r in self.regions:
            v += [f"fake_B_{r}", f"fake_B2_{r}", f"real_B_{r}"]
        return v

    def compute_visuals(self) -> None:
        """Build the display-only visuals (landmark overlays, masks, intrinsic-flow warp) of the last step."""
        g = self.input
        self.real_A_fore = whiten(self.real_A, (self.fg_mask + 1) / 2)
        self.realA_static_warp, self.realA_static_warp2 = g["realA_static_warp"], g["realA_static_warp2"]
        with torch.no_grad():
            self.real_A_if_face = warp_acc_flow(self.real_A, self.iw_flow, self.ifmask)
        self.real_A_if_mask = self.ifmask * 2 - 1
        self.real_B_lm = g["B_lm"]
        self.fake_B_lm_68_vist = landmark_overlay(self.fake_B, g["tB_lm_68"])
        self.fake_B2_lm_68_vist = landmark_overlay(self.fake_B2, g["tB2_lm_68"])
        if self.fake_B_lm_68 is not None and self.fake_B2_lm_68 is not None:
            self.fake_B_lm_68_vis = landmark_overlay(self.fake_B, self.fake_B_lm_68)
            self.fake_B2_lm_68_vis = landmark_overlay(self.fake_B2, self.fake_B2_lm_68)
        self.mask = self.fg_mask
        if self.opt.blendbg:
            self.mask1, self.mask2 = self.fg_mask1 * 2 - 1, self.fg_mask2 * 2 - 1
        if self.use_coh:
            self.real_B1_lm_68_vist = landmark_overlay(g["B1"], g["B1_lm_68"])
            self.real_B2_lm_68_vist = landmark_overlay(g["B2"], g["B2_lm_68"])
            self.real_B3, self.real_B4 = g["B3"], g["B4"]

    def get_current_visuals(self) -> OrderedDict[str, torch.Tensor]:
        """Visuals by name; the local-D inputs are shown as their image part (the mask channel dropped)."""
        out = super().get_current_visuals()
        local = {f"{kind}_{r}" for r in self.regions for kind in ("fake_B", "fake_B2", "real_B")}
        for name in local & set(out):
            out[name] = out[name][:, : self.opt.output_nc]
        return out

    def _helper_path(self, value: str, default_name: str) -> Path:
        return Path(value) if value else Path(self.opt.checkpoints_dir) / default_name

    def _load_helpers(self, opt: argparse.Namespace) -> None:
        """Frozen pretrained helpers; a missing file turns its loss off (or a stand-in on) with a notice."""
        lm_path = self._helper_path(opt.landmark_model, LANDMARK_MODEL)
        if opt.lambda_geom > 0:
            try:
                from .auxiliary.mobilefacenet import load_mobilefacenet

                self.net_lm = self._freeze(load_mobilefacenet(lm_path, self.device_p))
            except (CheckpointError, ImportError) as exc:
                log.warning("NOTICE: geometry loss geom_B is OFF: landmark regressor unavailable (%s). "
                            "Put MobileFaceNet at %s or pass --landmark_model.", exc, lm_path)
        face_path = self._helper_path(opt.face_recog_model, FACE_MODEL)
        if opt.identity_loss and opt.lambda_face > 0:
            try:
                from .auxiliary.sphereface import load_sphere20a

                self.face_loss = FaceLoss(load_sphere20a(face_path, self.device_p)).to(self.device_p)
            except (CheckpointError, ImportError) as exc:
                log.warning("NOTICE: identity loss iden_B is OFF: Sphere20a unavailable (%s). "
                            "Put it at %s or pass --face_recog_model.", exc, face_path)
        modnet_path = self._helper_path(opt.modnet_model, MODNET_MODEL)
        try:
            from .auxiliary.modnet import load_modnet

            self.net_modnet = self._freeze(load_modnet(modnet_path, self.device_p))
        except (CheckpointError, ImportError) as exc:
            log.warning("NOTICE: MODNet matting unavailable (%s); using the weight-free foreground_mask "
                        "stand-in (Module2.stylize) for the photo's foreground.", exc)
        flow_path = self._helper_path(opt.flow_model, FLOW_MODEL)
        try:
            from .auxiliary.flownet import load_flow_net

            self.net_flow = self._freeze(load_flow_net(flow_path, self.device_p))
        except (CheckpointError, ImportError) as exc:
            log.warning("NOTICE: intrinsic-flow network unavailable (%s); G's flow warp gets zero flow "
                        "and a full visibility mask.", exc)

    @staticmethod
    def _freeze(net: nn.Module) -> nn.Module:
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        return net

    def _wrap_ddp(self) -> None:
        """One process per GPU under torchrun: G and every D in DistributedDataParallel."""
        if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return
        from torch.nn.parallel import DistributedDataParallel as DDP

        for name in self.model_names:
            net = getattr(self, "net" + name)
            dev = next(net.parameters()).device
            setattr(self, "net" + name, DDP(net, device_ids=[dev.index] if dev.type == "cuda" else None))

    # -- data ---------------------------------------------------------------------------------------
    def set_input(self, input: dict) -> None:
        """Unpack a batch of the ``umlvd_ifw`` dataset and compute the intrinsic flows."""
        self.input = {k: (v.to(self.device) if isinstance(v, torch.Tensor) else v) for k, v in input.items()}
        g = self.input
        self.real_A, self.real_B = g["A"], g["B"]
        self.real_A_lm, self.target_B_lm, self.target_B2_lm = g["A_lm"], g["tB_lm"], g["tB2_lm"]
        self.fakeB_static = g["fakeB_static"]
        self.image_paths = list(g.get("A_paths", []))
        if self.use_coh:
            self.real_B1, self.real_B2 = g["B1"], g["B2"]
        flow = flow_fn(self.net_flow) if self.net_flow is not None else None
        self.iw_flow, self.ifmask = intrinsic_flow(flow, g["A_lm_68"], g["tB_lm_68"], self.real_A.shape[-1])
        self.iw_flow2, self.ifmask2 = intrinsic_flow(flow, g["A_lm_68"], g["tB2_lm_68"], self.real_A.shape[-1])

    @torch.no_grad()
    def _foreground(self, A: torch.Tensor) -> torch.Tensor:
        """Hard photo foreground (B,1,H,W): MODNet matte > 0.5, or the weight-free stand-in."""
        if self.net_modnet is not None:
            from .auxiliary.modnet import matte

            return (matte(self.net_modnet, A.to(self.device_p)) > 0.5).to(A.dtype).to(A.device)
        return (matting_stand_in(A, self.input["A_lm_68"]) > 0.5).to(A.device, A.dtype)

    # -- forward ------------------------------------------------------------------------------------
    def forward(self) -> None:
        g, opt = self.input, self.opt
        A = self.real_A
        mask = self._foreground(A)
        self.fg_mask = mask * 2 - 1
        A_in = whiten(A, mask)
        static = self.fakeB_static if opt.blendbg else whiten(self.fakeB_static, mask)
        n = A.shape[0]
        # Both target frames in one batch: G has no batch statistics, so this equals two calls.
        out = self.netG_A(torch.cat([A_in, A_in]), torch.cat([g["A_lm"], g["A_lm"]]), torch.cat([g["tB_lm"], g["tB2_lm"]]),
                          torch.cat([g["warp_motion"], g["warp_motion2"]]), torch.cat([self.iw_flow, self.iw_flow2]),
                          torch.cat([self.ifmask, self.ifmask2]))
        self.fake_B_fore, self.fake_B2_fore = out[:n], out[n:]
        A68, t68, t268 = g["A_lm_68"], g["tB_lm_68"], g["tB2_lm_68"]
        if opt.blendbg:
            with torch.no_grad():
                masks = tps_warp_xy(torch.cat([mask, mask]), torch.cat([A68, A68]), torch.cat([t68, t268]))
            self.fg_mask1, self.fg_mask2 = masks[:n], masks[n:]
            self.fake_B = blend(self.fake_B_fore, static, self.fg_mask1)
            self.fake_B2 = blend(self.fake_B2_fore, static, self.fg_mask2)
        else:
            self.fake_B, self.fake_B2 = self.fake_B_fore, self.fake_B2_fore
        with torch.no_grad():
            self.fakeB_static_warp = tps_warp_xy(static, A68, t68, add_border_points=not opt.blendbg)
        if self.isTrain:
            mt = opt.mask_type
            for r, key in (("l", "mask"), ("le", "maske"), ("ll", "maskl")):
                if r in self.regions:
                    setattr(self, f"fake_B_{r}", masked_region(self.fake_B, g[f"B_{key}"], mt))
                    setattr(self, f"fake_B2_{r}", masked_region(self.fake_B2, g[f"B2_{key}"], mt))
                    setattr(self, f"real_B_{r}", masked_region(self.real_B, g[f"Br_{key}"], mt))

    # -- losses -------------------------------------------------------------------------------------
    def _D(self, name: str, for_g: bool) -> nn.Module:
        net = getattr(self, "net" + name)
        # The G step goes around the DDP wrapper: D is frozen there and must not expect a gradient sync.
        return unwrap(net) if for_g else net

    def _pair_gan(self, name: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        pred = self._D(name, True)(torch.cat([a, b]).to(self.device_p))
        n = a.shape[0]
        return self.criterionGAN(pred[:n], True) + self.criterionGAN(pred[n:], True)

    def _to3(self, img: torch.Tensor) -> torch.Tensor:
        if img.shape[1] == 1:
            return img.repeat(1, 3, 1, 1)
        grey = 0.299 * img[:, 0:1] + 0.587 * img[:, 1:2] + 0.114 * img[:, 2:3]
        return grey.repeat(1, 3, 1, 1)

    def backward_G(self) -> None:
        g, opt = self.input, self.opt
        dev = self.device
        self.loss_G_A = self._pair_gan("D_A", self.fake_B, self.fake_B2).to(dev)
        total = self.loss_G_A
        for r in self.regions:
            loss = opt.lambda_G_A_l * self._pair_gan(f"D_A_{r}", getattr(self, f"fake_B_{r}"), getattr(self, f"fake_B2_{r}"))
            setattr(self, f"loss_G_A_{r}", loss.to(dev))
            total = total + loss.to(dev)
        if self.use_coh:
            pred = self._D("D_A_coh", True)(torch.cat([self.fake_B, self.fake_B2], 1).to(self.device_p))
            self.loss_G_A_coh = (opt.lambda_G_A_coh * self.criterionGAN(pred, True)).to(dev)
            total = total + self.loss_G_A_coh
        if self.use_geom:
            assert self.net_lm is not None
            n = self.fake_B.shape[0]
            lm = landmarks_from_image(self.net_lm, torch.cat([self.fake_B, self.fake_B2]).to(self.device_p),
                                      torch.cat([g["winB"], g["winB2"]]))
            t, t2 = g["tB_lm_68"].to(lm.device), g["tB2_lm_68"].to(lm.device)
            self.fake_B_lm_68, self.fake_B2_lm_68 = lm[:n].detach(), lm[n:].detach()
            self.loss_geom_B = (geometry_loss(lm[:n], t, opt.lambda_geom, opt.more_weight_for_lip)
                                + geometry_loss(lm[n:], t2, opt.lambda_geom, opt.more_weight_for_lip)).to(dev)
            total = total + self.loss_geom_B
        if self.use_lipline:
            size = self.fake_B.shape[-1]
            maps = [torch.from_numpy(np.stack([lipline_map(p, size) for p in g[k].cpu().numpy()])).to(dev)
                    for k in ("tB_lm_68", "tB2_lm_68")]
            self.liplinemask1, self.liplinemask2 = (m.unsqueeze(1) * 2 - 1 for m in maps)
            self.loss_geom_B_lipline = (lipline_loss(self.fake_B, maps[0], opt.lambda_geom_lipline)
                                        + lipline_loss(self.fake_B2, maps[1], opt.lambda_geom_lipline))
            total = total + self.loss_geom_B_lipline
        if self.use_warp:
            self.loss_warp_B = warp_loss(self.fake_B, self.fakeB_static_warp, opt.lambda_warp)
            total = total + self.loss_warp_B
        if self.use_warp_inter:
            with torch.no_grad():
                self.fake_B_warp = tps_warp_xy(self.fake_B, g["tB_lm_68"], g["tB2_lm_68"])
            self.loss_warp_inter1 = warp_loss(self.fake_B2, self.fake_B_warp, opt.lambda_warp_inter)
            total = total + self.loss_warp_inter1
        if self.use_iden:
            assert self.face_loss is not None
            self.loss_iden_B = (opt.lambda_face * self.face_loss(
                self._to3(self.fake_B).to(self.device_p), self._to3(self.fakeB_static).to(self.device_p),
                g["winB"], g["winA"])).to(dev)
            total = total + self.loss_iden_B
        self.loss_G = total
        self.loss_G.backward()

    def _backward_D_basic(self, name: str, real: torch.Tensor, fake1: torch.Tensor, fake2: torch.Tensor) -> torch.Tensor:
        n = real.shape[0]
        two = bool(self.opt.check_fakeb2_in_backwardD)
        batch = [real, fake1.detach()] + ([fake2.detach()] if two else [])
        pred = self._D(name, False)(torch.cat(batch).to(self.device_p))
        loss_real = self.criterionGAN(pred[:n], True)
        if two:
            loss_fake = 0.5 * (self.criterionGAN(pred[n:2 * n], False) + self.criterionGAN(pred[2 * n:], False))
        else:
            loss_fake = self.criterionGAN(pred[n:], False)
        loss = 0.5 * (loss_real + loss_fake)
        loss.backward()
        return loss

    def backward_D(self) -> None:
        g = self.input
        self.loss_D_A = self._backward_D_basic("D_A", self.real_B, self.fake_B, self.fake_B2)
        for r in self.regions:
            setattr(self, f"loss_D_A_{r}", self._backward_D_basic(
                f"D_A_{r}", getattr(self, f"real_B_{r}"), getattr(self, f"fake_B_{r}"), getattr(self, f"fake_B2_{r}")))
        if self.use_coh:
            n = self.real_B.shape[0]
            real = torch.cat([g["B1"], g["B2"]], 1)
            fake = torch.cat([self.fake_pool.query(self.fake_B), self.fake_pool.query(self.fake_B2)], 1)
            batch = [real, fake] + ([torch.cat([g["B3"], g["B4"]], 1)] if self.opt.coh_use_more else [])
            pred = self._D("D_A_coh", False)(torch.cat(batch).to(self.device_p))
            lr, lf = self.criterionGAN(pred[:n], True), self.criterionGAN(pred[n:2 * n], False)
            if self.opt.coh_use_more:
                loss = (lr + lf + self.criterionGAN(pred[2 * n:], False)) / 3
            else:
                loss = 0.5 * (lr + lf)
            loss.backward()
            self.loss_D_A_coh = loss

    def optimize_parameters(self) -> None:
        """forward → G step (Ds frozen) → D step (the original's order)."""
        self.forward()
        ds = [getattr(self, "net" + n) for n in self.model_names[1:]]
        self.set_requires_grad(ds, False)
        self.optimizer_G.zero_grad()
        self.backward_G()
        self.optimizer_G.step()
        self.set_requires_grad(ds, True)
        self.optimizer_D.zero_grad()
        self.backward_D()
        self.optimizer_D.step()
        for name in self.loss_names:  # keep values for logging, drop the graphs
            setattr(self, "loss_" + name, getattr(self, "loss_" + name).detach())
