"""SphereFace-20 (``sphere20a``) face-recognition trunk for the identity loss (``FaceLoss``).

Keyed as ``checkpoints/sphere20a_20171020.pth``; that file also holds the A-Softmax classifier
``fc6.*``, which is dropped on load (the identity loss only compares features).

Input: (B,3,112,96) face crops in [−1, 1]. :meth:`Sphere20a.forward` returns the five features
the loss compares (our reading of the original, consistent with the SphereFace-20 structure and
with the impersonator ``FaceLoss`` it follows): the output of each of the four stages —
(B,64,56,48), (B,128,28,24), (B,256,14,12), (B,512,7,6) — and the fc5 embedding (B,512).
"""
from __future__ import annotations

import logging
import os

import torch
import torch.nn as nn

from common.checkpoint import load_state_dict

__all__ = ["Sphere20a", "load_sphere20a", "STAGES"]

log = logging.getLogger(__name__)

#: (stage, in channels, out channels, number of residual units of two 3×3 convs)
STAGES: tuple[tuple[int, int, int, int], ...] = ((1, 3, 64, 1), (2, 64, 128, 2), (3, 128, 256, 4), (4, 256, 512, 1))


class Sphere20a(nn.Module):
    """SphereFace-20 without its classifier.

    Stage s: ``conv{s}_1`` 3×3 stride 2 + PReLU ``relu{s}_1``, then residual units
    ``x + prelu(conv(prelu(conv(x))))`` on ``conv{s}_{2k}``/``conv{s}_{2k+1}``. ``fc5``: 512·7·6 → 512.
    Attributes are registered conv, PReLU alternately so the state-dict order matches the file.
    """

    def __init__(self) -> None:
        super().__init__()
        self._units: list[list[tuple[str, str]]] = []
        for s, c_in, c_out, n_units in STAGES:
            names = []
            for j in range(1, 2 + 2 * n_units):
                conv, relu = f"conv{s}_{j}", f"relu{s}_{j}"
                stride, cin = (2, c_in) if j == 1 else (1, c_out)
                setattr(self, conv, nn.Conv2d(cin, c_out, 3, stride, 1))
                setattr(self, relu, nn.PReLU(c_out))
                names.append((conv, relu))
            self._units.append(names)
        self.fc5 = nn.Linear(512 * 7 * 6, 512)

    def _cr(self, x: torch.Tensor, pair: tuple[str, str]) -> torch.Tensor:
        return getattr(self, pair[1])(getattr(self, pair[0])(x))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats: list[torch.Tensor] = []
        for names in self._units:
            x = self._cr(x, names[0])
            for k in range(1, len(names), 2):
                x = x + self._cr(self._cr(x, names[k]), names[k + 1])
            feats.append(x)
        feats.append(self.fc5(x.flatten(1)))
        return feats


def load_sphere20a(path: str | os.PathLike, device: torch.device | str = "cpu") -> Sphere20a:
    """:class:`Sphere20a` strictly loaded from ``path`` (its ``fc6*`` classifier keys dropped,
    ``module.`` prefixes stripped), in eval mode on ``device``.

    Raises :class:`common.errors.CheckpointError` when the file is missing or does not fit.
    """
    net = Sphere20a()
    load_state_dict(path, net, drop_prefixes=("fc6",))
    log.info("Sphere20a loaded from %s", path)
    return net.to(device).eval()
