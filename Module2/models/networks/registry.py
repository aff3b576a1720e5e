"""The ``--netG`` / ``--netD`` registries (filled by :mod:`.generators` and :mod:`.discriminators`)."""
from __future__ import annotations

from common.registry import Registry

__all__ = ["NETG", "NETD"]

#: ``--netG`` name → factory ``f(input_nc, output_nc, ngf, norm_layer, use_dropout, div, disp) -> nn.Module``
NETG: Registry = Registry("netG")
#: ``--netD`` name → factory ``f(input_nc, ndf, n_layers_D, norm_layer) -> nn.Module``
NETD: Registry = Registry("netD")
