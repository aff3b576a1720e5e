"""History of generated images for discriminator updates (Shrivastava et al.; CycleGAN's ImagePool)."""
from __future__ import annotations

import random

import torch

__all__ = ["ImagePool"]


class ImagePool:
    """Buffer of up to ``pool_size`` previously generated images.

    ``query`` returns, per batch item: while the pool is not full, the new image (and stores it);
    afterwards, with probability 0.5 a random stored image (replaced by the new one), else the
    new image. ``pool_size == 0`` disables the pool. Uses Python's ``random`` module.
    """

    def __init__(self, pool_size: int):
        self.pool_size = int(pool_size)
        self.num_imgs = 0
        self.images: list[torch.Tensor] = []

    def __len__(self) -> int:
        return self.num_imgs

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.pool_size == 0:
            return images
        out = []
        for image in images:
            image = image.detach().unsqueeze(0)
            if self.num_imgs < self.pool_size:
                self.num_imgs += 1
                self.images.append(image)
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                idx = random.randint(0, self.pool_size - 1)
                old = self.images[idx].clone()
                self.images[idx] = image
                out.append(old)
            else:
                out.append(image)
        return torch.cat(out, 0)
