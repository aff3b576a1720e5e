"""Intrinsic-flow regressor ``netF`` (Li et al., CVPR'19 "intrinsic_flow"), checkpoint-compatible.

At test time the generator's second warp comes from this network: two stacks
of 68 binary landmark disks (source photo, target frame) at 224² go in, a target→source
flow (``×20`` pixels) and 3-class visibility logits (0 visible, 1 invisible, 2 background)
come out at the input size. Every forward returns the 4-tuple
``(flow_out, vis_out, flow_pyramid, feat_out)`` the test model unpacks.

The architecture is not in the AnimatePortrait repository: it is described by the
``train_opt.json`` shipped beside the weights. Two families exist:

* ``unet`` → :class:`FlowUnet`: 7×7 stem + strided convs to ``start_scale``, then a
  recursive U-Net of ``num_scale`` skip blocks (``conv_downsample.*``, ``unet_block.*``);
  channel cap ``max_nf`` is 512 and is NOT read from the JSON (the original constructor
  call does not pass it).
* ``unet_v2`` → :class:`FlowUnet_v2`: 1×1 stem + residual stages (``pre_conv.*``,
  ``enc_<l>_*``, ``dec_<l>_*``, ``pred_flow_<l>``, ``pred_vis``), PixelShuffle upsampling,
  channel cap ``max_nf`` from the JSON.

:func:`load_flow_net` reads the JSON, cross-checks the family against the weight file's keys
and loads ``<checkpoints_dir>/<id>/<epoch>_net_netF.pth`` strictly.
"""
from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from common.checkpoint import load_state_dict, read_checkpoint
from common.errors import CheckpointError

__all__ = [
    "FlowUnet",
    "FlowUnet_v2",
    "FLOW_FAMILIES",
    "FLOW_INPUT_SIZE",
    "build_flow_net",
    "detect_flow_family",
    "flow_weights_path",
    "load_flow_net",
]

logger = logging.getLogger(__name__)

FLOW_INPUT_SIZE = 224  # the test model draws its joint maps at 224², as the original's
FLOW_FAMILIES = ("unet", "unet_v2")
_JOINT_NC = 68


def _norm_layer(norm: str) -> tuple[type[nn.Module], bool]:
    """(norm class, conv bias) as in the original: bias only with instance norm."""
    if norm == "batch":
        return nn.BatchNorm2d, False
    if norm == "instance":
        return nn.InstanceNorm2d, True
    raise ValueError(f"flow net norm must be 'batch' or 'instance'; got {norm!r}")


def _log2_int(scale: int, what: str) -> int:
    level = int(round(math.log2(scale))) if scale > 0 else -1
    if level < 0 or 2**level != scale:
        raise ValueError(f"{what} must be a power of two; got {scale}")
    return level


def _upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


# --------------------------------------------------------------------------------------------
# FlowUnet ("unet")
# --------------------------------------------------------------------------------------------
class _FlowUnetBlock(nn.Module):
    """One U-Net level: strided 4×4 conv down, recurse, 4×4 transposed conv up, flow head.

    Returns ``(x_out, feature_pyramid, flow_pyramid)``; ``x_out`` concatenates the input with
    the upsampled features except at the outermost level.
    """

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        submodule: _FlowUnetBlock | None,
        norm_layer: type[nn.Module],
        use_bias: bool,
        outermost: bool,
        innermost: bool,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        self.innermost = innermost
        downconv = nn.Conv2d(outer_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        if outermost:
            # The stem already ended with an activation; the outer up-conv keeps its bias.
            down = [downconv, norm_layer(inner_nc)]
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
        elif innermost:
            down = [nn.LeakyReLU(0.2, True), downconv]
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        else:
            down = [nn.LeakyReLU(0.2, True), downconv, norm_layer(inner_nc)]
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        self.down = nn.Sequential(*down)
        self.up = nn.Sequential(nn.ReLU(True), upconv, norm_layer(outer_nc))
        self.submodule = submodule
        self.predict_flow = nn.Sequential(nn.LeakyReLU(0.1), nn.Conv2d(outer_nc, 2, kernel_size=3, stride=1, padding=1))

    def forward(self, x: torch.Tensor):
        if self.innermost:
            x_ = self.up(self.down(x))
            feats: list[torch.Tensor] = []
            flows: list[torch.Tensor] = []
        else:
            assert self.submodule is not None  # only the innermost block has none
            x_, feats, flows = self.submodule(self.down(x))
            x_ = self.up(x_)
        x_out = x_ if self.outermost else torch.cat((x, x_), 1)
        return x_out, [x_] + feats, [self.predict_flow(x_)] + flows


class FlowUnet(nn.Module):
    """The ``unet`` family of the intrinsic-flow regressor.

    Args: ``input_nc`` (136 for two 68-joint stacks), ``nf`` stem width, ``start_scale``
    (power of two: resolution of the U-Net relative to the input), ``num_scale`` U-Net
    levels, ``norm`` ('batch' | 'instance'), ``max_nf`` channel cap (512 in every released
    configuration: the original model builder never passes it).

    ``forward(x)`` with x (B, input_nc, H, W) → ``(flow (B,2,H,W), vis logits (B,3,H,W),
    flow pyramid, final features)``. As in the original, the outputs are upsampled by a
    fixed factor 2 whatever ``start_scale`` is.
    """

    def __init__(
        self,
        input_nc: int,
        nf: int = 16,
        start_scale: int = 2,
        num_scale: int = 5,
        norm: str = "batch",
        max_nf: int = 512,
    ) -> None:
        super().__init__()
        norm_layer, use_bias = _norm_layer(norm)
        self.nf = nf
        self.norm = norm
        self.num_scale = num_scale
        self.start_scale = start_scale
        # The original stores a hard-coded 2 here and upsamples its outputs by it.
        self.output_upscale = 2
        stem: list[nn.Module] = [
            nn.Conv2d(input_nc, nf, kernel_size=7, padding=3, bias=use_bias),
            norm_layer(nf),
            nn.LeakyReLU(0.1),
        ]
        nc = nf
        for _ in range(_log2_int(start_scale, "start_scale")):
            stem += [
                nn.Conv2d(nc, 2 * nc, kernel_size=3, stride=2, padding=1, bias=use_bias),
                norm_layer(2 * nc),
                nn.LeakyReLU(0.1),
            ]
            nc *= 2
        self.conv_downsample = nn.Sequential(*stem)

        block: _FlowUnetBlock | None = None
        for level in reversed(range(num_scale)):
            block = _FlowUnetBlock(
                outer_nc=min(max_nf, nc * 2**level),
                inner_nc=min(max_nf, nc * 2 ** (level + 1)),
                submodule=block,
                norm_layer=norm_layer,
                use_bias=use_bias,
                outermost=level == 0,
                innermost=level == num_scale - 1,
            )
        assert block is not None  # num_scale >= 1
        self.unet_block = block
        self.nf_out = min(max_nf, nc)
        self.predict_vis = nn.Sequential(nn.LeakyReLU(0.1), nn.Conv2d(self.nf_out, 3, kernel_size=3, stride=1, padding=1))

    def forward(self, x: torch.Tensor):
        feat_out, _, flow_pyr = self.unet_block(self.conv_downsample(x))
        vis = self.predict_vis(feat_out)
        flow_out = _upsample(flow_pyr[0], self.output_upscale)
        vis_out = _upsample(vis, self.output_upscale)
        return flow_out, vis_out, flow_pyr, feat_out


# --------------------------------------------------------------------------------------------
# FlowUnet_v2 ("unet_v2")
# --------------------------------------------------------------------------------------------
def _conv_norm(c_in: int, c_out: int, kernel: int, norm_layer: type[nn.Module], bias: bool) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2, bias=bias), norm_layer(c_out))


class _ResidualBlock(nn.Module):
    """``x + conv3(act(x))``, or with a skip input ``a``: ``x + conv3(act(cat(x, conv1(act(a)))))``."""

    def __init__(
        self, dim: int, dim_a: int, norm_layer: type[nn.Module], use_bias: bool, activation: nn.Module
    ) -> None:
        super().__init__()
        self.activation = activation
        if dim_a > 0:
            self.conv_a = _conv_norm(dim_a, dim, 1, norm_layer, use_bias)
            self.conv = _conv_norm(dim * 2, dim, 3, norm_layer, use_bias)
        else:
            self.conv = _conv_norm(dim, dim, 3, norm_layer, use_bias)

    def forward(self, x: torch.Tensor, a: torch.Tensor | None = None) -> torch.Tensor:
        residual = x if a is None else torch.cat((x, self.conv_a(self.activation(a))), 1)
        return x + self.conv(self.activation(residual))


class FlowUnet_v2(nn.Module):  # noqa: N801 - the original class name, kept for recognisability
    """The ``unet_v2`` family: residual U-Net with a flow head at every decoder level.

    Args: ``input_nc``, ``nf``, ``max_nf`` channel cap, ``start_scale`` (power of two),
    ``num_scales`` encoder/decoder levels, ``n_residual_blocks`` per level (2), ``norm``.
    Level ``l`` works at ``c_in = min(nf·(s+l+1), max_nf)`` channels, s = log2(start_scale).

    ``forward(x)`` → ``(flow (B,2,H,W), vis logits (B,3,H,W), flow pyramid (finest first),
    decoder features at H/start_scale)``.
    """

    def __init__(
        self,
        input_nc: int,
        nf: int = 64,
        max_nf: int = 256,
        start_scale: int = 2,
        num_scales: int = 7,
        n_residual_blocks: int = 2,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        norm_layer, use_bias = _norm_layer(norm)
        act = nn.ReLU(False)  # one shared, parameter-free activation, as in the original
        self.nf = nf
        self.max_nf = max_nf
        self.norm = norm
        self.start_scale = start_scale
        self.num_scales = num_scales
        self.n_residual_blocks = n_residual_blocks
        start_level = _log2_int(start_scale, "start_scale")

        pre: list[nn.Module] = [_conv_norm(input_nc, nf, 1, norm_layer, use_bias)]
        for i in range(start_level):
            c_in, c_out = min(nf * (i + 1), max_nf), min(nf * (i + 2), max_nf)
            pre += [
                _ResidualBlock(c_in, 0, norm_layer, use_bias, act),
                act,
                nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1, bias=use_bias),
                norm_layer(c_out),
            ]
        self.pre_conv = nn.Sequential(*pre)

        for level in range(num_scales):
            c_in = min(nf * (start_level + level + 1), max_nf)
            c_out = min(nf * (start_level + level + 2), max_nf)
            for i in range(n_residual_blocks):
                self.add_module(f"enc_{level}_res_{i}", _ResidualBlock(c_in, 0, norm_layer, use_bias, act))
            self.add_module(
                f"enc_{level}_downsample",
                nn.Sequential(act, nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=use_bias), norm_layer(c_out)),
            )
            self.add_module(
                f"dec_{level}_upsample",
                nn.Sequential(
                    act,
                    nn.Conv2d(c_out, c_in * 4, 3, padding=1, bias=use_bias),
                    nn.PixelShuffle(2),
                    norm_layer(c_in),
                ),
            )
            for i in range(n_residual_blocks):
                self.add_module(f"dec_{level}_res_{i}", _ResidualBlock(c_in, c_in, norm_layer, use_bias, act))
            self.add_module(f"pred_flow_{level}", nn.Sequential(act, nn.Conv2d(c_in, 2, 3, padding=1, bias=True)))
        # Written as nf·(1+start_level) in the original, which equals the level-0 width while max_nf is not hit.
        self.pred_vis = nn.Sequential(act, nn.Conv2d(nf * (1 + start_level), 3, 3, padding=1, bias=True))

    def forward(self, x: torch.Tensor):
        hiddens: list[torch.Tensor] = []
        flow_pyr: list[torch.Tensor] = []
        x = self.pre_conv(x)
        for level in range(self.num_scales):
            for i in range(self.n_residual_blocks):
                x = getattr(self, f"enc_{level}_res_{i}")(x)
                hiddens.append(x)
            x = getattr(self, f"enc_{level}_downsample")(x)
        for level in reversed(range(self.num_scales)):
            x = getattr(self, f"dec_{level}_upsample")(x)
            for i in reversed(range(self.n_residual_blocks)):
                x = getattr(self, f"dec_{level}_res_{i}")(x, hiddens.pop())
            flow_pyr.insert(0, getattr(self, f"pred_flow_{level}")(x))
        flow_out = _upsample(flow_pyr[0], self.start_scale)
        vis_out = _upsample(self.pred_vis(x), self.start_scale)
        return flow_out, vis_out, flow_pyr, x


# --------------------------------------------------------------------------------------------
# Construction from train_opt.json and loading
# --------------------------------------------------------------------------------------------
def _opt(train_opt: Mapping[str, Any], key: str, kind: type, source: str) -> Any:
    if key not in train_opt:
        raise CheckpointError(f"{source}: field {key!r} is missing (needed to build the flow network)")
    value = train_opt[key]
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise CheckpointError(f"{source}: field {key!r} must be {kind.__name__}; got {value!r}") from None


def _input_nc(train_opt: Mapping[str, Any], source: str) -> int:
    """136 = joint maps of both frames; the test model feeds nothing else."""
    for key in ("input_type1", "input_type2"):
        kind = train_opt.get(key, "joint")
        if kind != "joint":
            raise CheckpointError(
                f"{source}: {key}={kind!r} is not supported; the test path feeds only 'joint' landmark maps"
            )
    joint_nc = train_opt.get("joint_nc", _JOINT_NC)
    if joint_nc != _JOINT_NC:
        raise CheckpointError(f"{source}: joint_nc must be {_JOINT_NC} (68 face landmarks); got {joint_nc!r}")
    return 2 * _JOINT_NC


def build_flow_net(
    train_opt: Mapping[str, Any], *, input_size: int = FLOW_INPUT_SIZE, source: str = "train_opt.json"
) -> nn.Module:
    """Build the flow network described by the fields of a ``train_opt.json`` dict (untrained, eval mode).

    Fields read: ``which_model`` ('unet' | 'unet_v2'), ``nf``, ``max_nf`` (unet_v2 only),
    ``start_scale``, ``num_scale``, ``norm``, ``input_type1/2`` (must be 'joint', default),
    ``joint_nc`` (must be 68, default). The configuration must run on ``input_size``² inputs.
    Raises :class:`CheckpointError` naming ``source`` and the offending field.
    """
    which = train_opt.get("which_model")
    if which not in FLOW_FAMILIES:
        raise CheckpointError(f"{source}: unknown flow network which_model={which!r}; expected one of {FLOW_FAMILIES}")
    input_nc = _input_nc(train_opt, source)
    nf = _opt(train_opt, "nf", int, source)
    start_scale = _opt(train_opt, "start_scale", int, source)
    num_scale = _opt(train_opt, "num_scale", int, source)
    norm = _opt(train_opt, "norm", str, source)
    # Each U-Net level halves the map and the decoder must come back to the same size.
    if num_scale < (2 if which == "unet" else 1):
        raise CheckpointError(f"{source}: num_scale={num_scale} is too small for which_model={which!r}")
    stride = start_scale * 2**num_scale
    if start_scale < 1 or input_size % stride:
        raise CheckpointError(
            f"{source}: start_scale={start_scale}, num_scale={num_scale} cannot run on "
            f"{input_size}×{input_size} inputs ({input_size} is not divisible by {stride})"
        )
    try:
        if which == "unet":
            if start_scale != 2:
                # The original always upsamples the unet outputs by 2.
                raise CheckpointError(f"{source}: which_model='unet' only produces full-size outputs with start_scale=2")
            net: nn.Module = FlowUnet(input_nc, nf=nf, start_scale=start_scale, num_scale=num_scale, norm=norm)
        else:
            max_nf = _opt(train_opt, "max_nf", int, source)
            net = FlowUnet_v2(
                input_nc, nf=nf, max_nf=max_nf, start_scale=start_scale, num_scales=num_scale, norm=norm
            )
    except ValueError as exc:
        raise CheckpointError(f"{source}: {exc}") from None
    return net.eval()


def detect_flow_family(keys: Any) -> str | None:
    """'unet_v2' for ``pre_conv.``/``enc_``/``dec_`` keys, 'unet' for ``conv_downsample.``/``unet_block.``, else None."""
    heads = {k[len("module."):] if k.startswith("module.") else k for k in keys}
    v2 = any(k.startswith(("pre_conv.", "enc_", "dec_")) for k in heads)
    v1 = any(k.startswith(("conv_downsample.", "unet_block.")) for k in heads)
    if v2 and not v1:
        return "unet_v2"
    if v1 and not v2:
        return "unet"
    return None


def _read_train_opt(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"flow network configuration not found: {path}")
    try:
        opt = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read flow network configuration {path}: {exc}") from None
    if not isinstance(opt, dict):
        raise CheckpointError(f"flow network configuration {path} is not a JSON object")
    return opt


def flow_weights_path(
    directory: str | os.PathLike,
    train_opt: Mapping[str, Any],
    epoch: str = "best",
    checkpoints_dir: str | os.PathLike | None = None,
) -> Path:
    """``<checkpoints_dir>/<id>/<epoch>_net_netF.pth``; ``checkpoints_dir`` defaults to ``directory``'s parent
    and ``id`` (from the JSON) to ``directory``'s name."""
    directory = Path(directory)
    root = Path(checkpoints_dir) if checkpoints_dir is not None else directory.parent
    model_id = str(train_opt.get("id") or directory.name)
    return root / model_id / f"{epoch}_net_netF.pth"


def load_flow_net(
    directory: str | os.PathLike,
    device: str | torch.device = "cpu",
    *,
    checkpoints_dir: str | os.PathLike | None = None,
    epoch: str = "best",
) -> nn.Module:
    """Load the released intrinsic-flow regressor from ``directory`` (e.g. ``checkpoints/FlowReg_id_flow_faces``).

    Reads ``<directory>/train_opt.json``, builds the network it names, checks the weight
    file's keys belong to the same family and loads ``<checkpoints_dir>/<id>/<epoch>_net_netF.pth``
    (plain state dict) strictly; ``checkpoints_dir`` defaults to ``directory``'s parent, as in the
    original where both live under ``checkpoints/``. Returns the network in eval mode on ``device``.
    Raises :class:`CheckpointError` for a missing/unreadable file, a JSON/weights family
    mismatch, or weights that do not fit.
    """
    directory = Path(directory)
    json_path = directory / "train_opt.json"
    train_opt = _read_train_opt(json_path)
    weights = flow_weights_path(directory, train_opt, epoch, checkpoints_dir)
    if not weights.is_file():
        raise CheckpointError(
            f"flow network weights not found: {weights} (train_opt.json id={train_opt.get('id')!r})"
        )
    family = detect_flow_family(read_checkpoint(weights).keys())
    which = train_opt.get("which_model")
    if family is None:
        raise CheckpointError(f"{weights} holds neither FlowUnet (unet) nor FlowUnet_v2 (unet_v2) weights")
    if which in FLOW_FAMILIES and family != which:
        raise CheckpointError(
            f"{json_path} says which_model={which!r} but {weights.name} holds {family!r} weights "
            f"({'pre_conv./enc_/dec_' if family == 'unet_v2' else 'conv_downsample./unet_block.'} keys); "
            f"fix which_model in the JSON"
        )
    net = build_flow_net(train_opt, source=str(json_path))
    load_state_dict(weights, net)
    logger.info("loaded flow network %s (%s) from %s", which, type(net).__name__, weights)
    return net.to(device).eval()
