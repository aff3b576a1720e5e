"""Module2 networks: ``define_G`` / ``define_D`` through the ``NETG`` / ``NETD`` registries.

Layout: :mod:`.generators` (``resnet_9blocks_rcatland32_full_ifw``, ``resnet_style2_9blocks``),
:mod:`.discriminators` (``basic``, ``n_layers``, ``pixel``), :mod:`.warp` (the generator's dual
warp as pure functions), :mod:`.blocks` (residual blocks), :mod:`.init` (norm choice, weight
init, LR schedules). Every network is state-dict compatible with the original's files.

To add a generator: write the class in :mod:`.generators` and register a factory
``@NETG.register("<--netG name>")`` taking ``(input_nc, output_nc, ngf, norm_layer, use_dropout,
div, disp)``; ``--netG`` then accepts the name.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch.nn as nn

from . import discriminators as _discriminators  # noqa: F401  (registers the netD names)
from . import generators as _generators  # noqa: F401  (registers the netG names)
from .blocks import ResnetBlock, ResnetBlock2
from .discriminators import NLayerDiscriminator, PixelDiscriminator
from .generators import ResnetConditionTriGenerator32FullIFW, ResnetStyle2Generator, landmark_blocks
from .init import Identity, get_norm_layer, get_scheduler, init_net, init_weights
from .registry import NETD, NETG
from .warp import dual_warp, resize_warp_inputs, warp_acc_flow, warp_motion

__all__ = [
    "NETG",
    "NETD",
    "define_G",
    "define_D",
    "get_norm_layer",
    "get_scheduler",
    "init_net",
    "init_weights",
    "Identity",
    "ResnetBlock",
    "ResnetBlock2",
    "ResnetConditionTriGenerator32FullIFW",
    "ResnetStyle2Generator",
    "NLayerDiscriminator",
    "PixelDiscriminator",
    "landmark_blocks",
    "warp_acc_flow",
    "warp_motion",
    "dual_warp",
    "resize_warp_inputs",
]


def define_G(
    input_nc: int,
    output_nc: int,
    ngf: int,
    netG: str,
    norm: str = "instance",
    use_dropout: bool = False,
    init_type: str = "normal",
    init_gain: float = 0.02,
    gpu_ids: Sequence[int] = (),
    div: int = 3,
    disp: int = 3,
) -> nn.Module:
    """Build, place (``cuda:gpu_ids[0]`` when CUDA exists) and initialise the generator ``netG``.

    An unknown ``netG`` raises ``KeyError`` listing the registered names.
    """
    factory = NETG.get(netG)
    net = factory(input_nc, output_nc, ngf, get_norm_layer(norm), use_dropout, div=div, disp=disp)
    return init_net(net, init_type, init_gain, gpu_ids)


def define_D(
    input_nc: int,
    ndf: int,
    netD: str = "basic",
    n_layers_D: int = 3,
    norm: str = "instance",
    init_type: str = "normal",
    init_gain: float = 0.02,
    gpu_ids: Sequence[int] = (),
) -> nn.Module:
    """Build, place and initialise the discriminator ``netD`` (``basic`` = 3-layer PatchGAN).

    An unknown ``netD`` raises ``KeyError`` listing the registered names.
    """
    factory = NETD.get(netD)
    net = factory(input_nc, ndf, n_layers_D, get_norm_layer(norm))
    return init_net(net, init_type, init_gain, gpu_ids)
