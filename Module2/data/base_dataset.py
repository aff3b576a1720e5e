"""Dataset base class and the image transforms (CycleGAN ``base_dataset``, no torchvision).

One ``get_params`` draw (crop position, flip) is applied to an image *and* to its
landmarks / masks so that they stay aligned. Images are PIL in, float32 CHW tensors
out: ``ToTensor`` (``uint8/255``) followed by ``Normalize(0.5, 0.5)`` → [-1, 1].
"""
from __future__ import annotations

import argparse
import random
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import torch
import torch.utils.data as data
from PIL import Image

__all__ = [
    "BaseDataset",
    "get_params",
    "get_transform",
    "to_tensor",
    "normalize",
    "pil_to_normalized_tensor",
]


class BaseDataset(data.Dataset, ABC):
    """Every ``--dataset_mode`` derives from this: ``__len__``/``__getitem__`` + option hook."""

    def __init__(self, opt: argparse.Namespace) -> None:
        self.opt = opt
        self.root = opt.dataroot

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        """Add dataset-specific flags / change defaults (none by default)."""
        return parser

    @abstractmethod
    def __len__(self) -> int:
        """Number of items."""

    @abstractmethod
    def __getitem__(self, index: int) -> dict:
        """One item: a dict of tensors and path strings."""


def get_params(opt: argparse.Namespace, size: tuple[int, int]) -> dict:
    """Random crop position and flip for an image of ``size = (w, h)`` (CycleGAN semantics)."""
    w, h = size
    new_w, new_h = w, h
    if opt.preprocess == "resize_and_crop":
        new_h = new_w = opt.load_size
    elif opt.preprocess == "scale_width_and_crop":
        new_w = opt.load_size
        new_h = opt.load_size * h // w
    x = random.randint(0, max(0, new_w - opt.crop_size))
    y = random.randint(0, max(0, new_h - opt.crop_size))
    flip = random.random() > 0.5
    return {"crop_pos": (x, y), "flip": flip}


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL image → float32 CHW tensor in [0, 1] (``uint8 / 255``, like torchvision ``ToTensor``)."""
    arr = np.array(img)  # a writable copy (torch refuses read-only buffers)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    t = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).contiguous()
    return t.to(torch.float32).div(255)


def normalize(t: torch.Tensor) -> torch.Tensor:
    """[0, 1] → [-1, 1] as ``Normalize(mean=0.5, std=0.5)`` computes it: ``(t - 0.5) / 0.5``."""
    return t.sub(0.5).div(0.5)


def pil_to_normalized_tensor(img: Image.Image) -> torch.Tensor:
    """``Normalize(0.5, 0.5)(ToTensor(img))``."""
    return normalize(to_tensor(img))


def _crop(img: Image.Image, pos: tuple[int, int], size: int) -> Image.Image:
    ow, oh = img.size
    x1, y1 = pos
    if ow > size or oh > size:
        return img.crop((x1, y1, x1 + size, y1 + size))
    return img


def _make_power_2(img: Image.Image, base: int, method: int) -> Image.Image:
    ow, oh = img.size
    h = int(round(oh / base) * base)
    w = int(round(ow / base) * base)
    if h == oh and w == ow:
        return img
    return img.resize((w, h), method)


def _scale_width(img: Image.Image, target_size: int, crop_size: int, method: int) -> Image.Image:
    ow, oh = img.size
    if ow == target_size and oh >= crop_size:
        return img
    w = target_size
    h = int(max(target_size * oh / ow, crop_size))
    return img.resize((w, h), method)


def get_transform(
    opt: argparse.Namespace,
    params: dict | None = None,
    grayscale: bool = False,
    method: int = Image.Resampling.BICUBIC,
    convert: bool = True,
) -> Callable[[Image.Image], torch.Tensor | Image.Image]:
    """The PIL → tensor pipeline of CycleGAN's ``get_transform`` for ``opt.preprocess``.

    With ``params`` the crop position and flip are the given ones (shared with the
    landmarks); without, they are drawn per call. ``convert`` adds ToTensor+Normalize.
    """
    steps: list[Callable[[Image.Image], Image.Image]] = []
    if grayscale:
        steps.append(lambda im: im.convert("L"))
    if "resize" in opt.preprocess:
        size = (opt.load_size, opt.load_size)
        steps.append(lambda im: im.resize(size, method))
    elif "scale_width" in opt.preprocess:
        steps.append(lambda im: _scale_width(im, opt.load_size, opt.crop_size, method))
    if "crop" in opt.preprocess:
        if params is None:
            def random_crop(im: Image.Image) -> Image.Image:
                w, h = im.size
                x = random.randint(0, max(0, w - opt.crop_size))
                y = random.randint(0, max(0, h - opt.crop_size))
                return _crop(im, (x, y), opt.crop_size)

            steps.append(random_crop)
        else:
            steps.append(lambda im: _crop(im, params["crop_pos"], opt.crop_size))
    if opt.preprocess == "none":
        steps.append(lambda im: _make_power_2(im, 4, method))
    if not opt.no_flip:
        if params is None:
            steps.append(lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if random.random() < 0.5 else im)
        elif params["flip"]:
            steps.append(lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT))

    def apply(img: Image.Image):
        for step in steps:
            img = step(img)
        return pil_to_normalized_tensor(img) if convert else img

    return apply
