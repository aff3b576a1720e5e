"""The neural renderer ``gan``: the released geometry-aware generator.

Loads ``<checkpoints_dir>/<exp>/<epoch>_net_G_A.pth`` (the original's naming) into
``resnet_9blocks_rcatland32_full_ifw``; its width (ngf) is read from the file, its
output channels follow the style (1 drawing, 3 cartoon). Frames go through the
``geomcgt_ifw_test`` model in batches of ``cfg.batch_size``; the model's 256² output is
upsampled (bicubic) to ``cfg.size``. Auxiliary nets missing from ``checkpoints_dir`` are
replaced by the model's weight-free stand-ins.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch
from tqdm import tqdm

from common.checkpoint import read_checkpoint
from common.errors import CheckpointError

from ..config import RenderConfig
from .base import RENDERERS, Renderer

if TYPE_CHECKING:
    from ..models.geomcgt_ifw_test_model import GeomCGTIFWTestModel

__all__ = ["GanRenderer", "generator_width", "to_frames"]

log = logging.getLogger(__name__)

NETG = "resnet_9blocks_rcatland32_full_ifw"
WORK_SIZE = 256


def generator_width(state: Mapping[str, Any], path: object = "checkpoint") -> tuple[int, int]:
    """``(ngf, output_nc)`` of a ``resnet_9blocks_rcatland32_full_ifw`` state dict.

    ngf = output channels of the photo branch's first 7×7 conv (``model_tri10.1``);
    output_nc = output channels of the last conv (``model3.7``).
    """
    try:
        ngf = int(state["model_tri10.1.weight"].shape[0])
        out_nc = int(state["model3.7.weight"].shape[0])
    except KeyError as exc:
        raise CheckpointError(f"{path} is not a {NETG} generator (no key {exc.args[0]!r})") from None
    return ngf, out_nc


def to_frames(fake_B: torch.Tensor, size: int, channels: int) -> list[np.ndarray]:
    """(B, C, 256, 256) in [-1, 1] → uint8 frames ``(size, size)`` (C=1) or ``(size, size, 3)``.

    Quantised like ``tensor2im`` (``(x+1)/2·255``, truncating) then bicubic-resized.
    """
    arr = ((fake_B.detach().cpu().float().numpy() + 1) / 2.0 * 255.0)
    arr = np.clip(arr, 0, 255).astype(np.uint8)  # blended frames stay in [-1, 1]; the clip only guards the ends
    frames = []
    for img in arr:
        img = img[0] if channels == 1 else np.transpose(img[:3], (1, 2, 0))
        if img.shape[0] != size:
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)
        frames.append(np.ascontiguousarray(img))
    return frames


@RENDERERS.register("gan")
class GanRenderer(Renderer):
    """Neural renderer over the released (or user-trained) generator checkpoint."""

    name = "gan"

    @classmethod
    def unavailable_reason(cls, cfg: RenderConfig) -> str | None:
        from . import gan_unavailable  # one check, shared with the lazy registry entry

        return gan_unavailable(cfg)

    def __init__(self, cfg: RenderConfig) -> None:
        super().__init__(cfg)
        self.model: GeomCGTIFWTestModel | None = None
        self._photo: np.ndarray | None = None
        self._source: np.ndarray | None = None

    def _build_model(self) -> GeomCGTIFWTestModel:
        from ..models.geomcgt_ifw_test_model import GeomCGTIFWTestModel, TestModelConfig

        path = self.cfg.generator_path
        ngf, out_nc = generator_width(read_checkpoint(path), path)
        if out_nc != self.channels:
            raise CheckpointError(
                f"{path} has {out_nc} output channel(s) but style {self.cfg.style!r} needs {self.channels}"
            )
        cfg = TestModelConfig(
            name=self.cfg.exp, checkpoints_dir=Path(self.cfg.checkpoints_dir), epoch=str(self.cfg.epoch),
            netG=NETG, ngf=ngf, output_nc=out_nc, netg_resb_div=3, netg_resb_disp=3, blendbg=1,
            device=torch.device(self.cfg.device),
        )
        model = GeomCGTIFWTestModel(cfg)
        model.setup(cfg)  # type: ignore[arg-type]  # loads <checkpoints_dir>/<exp>/<epoch>_net_G_A.pth strictly
        model.eval()
        return model

    def prepare(self, photo: np.ndarray, source: np.ndarray) -> None:
        from ..data.umlvdfw_test_dataset import UMLVDFWTestDataset

        if self.model is None:
            self.model = self._build_model()
        self._photo = np.ascontiguousarray(photo)
        self._source = np.asarray(source, np.float32)
        ds = UMLVDFWTestDataset.from_arrays(self._photo, self._source, self._source[None], WORK_SIZE, WORK_SIZE)
        item = ds[0]
        self.model.prepare_photo(item["A"][None], item["A_lm_68"])  # matte + static stylisation, once per portrait

    def render_points(self, points: np.ndarray) -> Iterator[np.ndarray]:
        from ..data.umlvdfw_test_dataset import UMLVDFWTestDataset

        if self.model is None or self._photo is None or self._source is None:
            raise RuntimeError("GanRenderer.render called before prepare")
        ds = UMLVDFWTestDataset.from_arrays(self._photo, self._source, points, WORK_SIZE, WORK_SIZE)
        bs = max(1, int(self.cfg.batch_size))
        with tqdm(total=len(ds), desc="gan frames", unit="frame", disable=self.cfg.quiet) as bar:
            for batch in ds.batches(bs):
                self.model.set_input(batch)
                self.model.test()
                yield from to_frames(self.model.fake_B, self.cfg.size, self.channels)
                bar.update(batch["A"].shape[0])
