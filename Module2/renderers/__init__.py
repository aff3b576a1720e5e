"""Renderers; importing this package registers every one of them."""
from . import (
    classic,  # noqa: F401  (registers 'classic', the weight-free default)
    gan,  # noqa: F401  (registers 'gan', the released geometry-aware generator)
)
from .base import DEFAULT_RENDERER, NEURAL_RENDERER, RENDERERS, Renderer, resolve_renderer

__all__ = ["RENDERERS", "Renderer", "resolve_renderer", "DEFAULT_RENDERER", "NEURAL_RENDERER"]
