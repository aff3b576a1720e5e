"""Renderers, registered by name without importing them (``--help`` stays fast).

Each back-end's module is imported on first ``RENDERERS.get(name)``; whether the GAN
can run is answered by :func:`gan_unavailable` without importing torch.
"""
from __future__ import annotations

from ..config import RenderConfig
from .base import DEFAULT_RENDERER, NEURAL_RENDERER, RENDERERS, Renderer, resolve_renderer

__all__ = ["RENDERERS", "Renderer", "resolve_renderer", "DEFAULT_RENDERER", "NEURAL_RENDERER", "gan_unavailable"]


def gan_unavailable(cfg: RenderConfig) -> str | None:
    """``None`` when the generator checkpoint named by ``cfg`` exists, else why not."""
    if not cfg.generator_path.is_file():
        return f"no generator checkpoint at {cfg.generator_path}"
    return None


# The weight-free default, then the released geometry-aware generator (torch).
RENDERERS.register_lazy("classic", "Module2.renderers.classic:ClassicRenderer")
RENDERERS.register_lazy("gan", "Module2.renderers.gan:GanRenderer", unavailable=gan_unavailable)
