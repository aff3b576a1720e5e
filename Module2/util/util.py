"""Tensor ↔ image helpers (CycleGAN ``util/util.py``)."""
from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

__all__ = ["tensor2im", "save_image"]


def tensor2im(image: torch.Tensor | np.ndarray, imtype: type = np.uint8) -> np.ndarray:
    """First batch item of an NCHW tensor in [-1, 1] → (H, W, 3) uint8 RGB.

    1-channel images are tiled to 3 channels; 2-channel images repeat their second
    channel; ``(x + 1) / 2 · 255`` then a truncating cast without clipping, exactly as
    the original saves its result PNGs. Arrays are returned cast to ``imtype``.
    """
    if not isinstance(image, torch.Tensor):
        return np.asarray(image).astype(imtype)
    arr = image.detach()[0].cpu().float().numpy()
    if arr.shape[0] == 1:
        arr = np.tile(arr, (3, 1, 1))
    elif arr.shape[0] == 2:
        arr = np.tile(arr[1:2], (3, 1, 1))
    return ((np.transpose(arr, (1, 2, 0)) + 1) / 2.0 * 255.0).astype(imtype)


def save_image(image: np.ndarray, path: str | os.PathLike, aspect_ratio: float = 1.0) -> None:
    """Write an (H, W, 3) uint8 array as an image; ``aspect_ratio`` ≠ 1 stretches it (bicubic)."""
    img = Image.fromarray(image)
    h, w = image.shape[:2]
    if aspect_ratio > 1.0:
        img = img.resize((h, int(w * aspect_ratio)), Image.Resampling.BICUBIC)
    elif aspect_ratio < 1.0:
        img = img.resize((int(h / aspect_ratio), w), Image.Resampling.BICUBIC)
    img.save(path)

