"""Renderers; importing this package registers every one of them."""
from .base import DEFAULT_RENDERER, NEURAL_RENDERER, RENDERERS, Renderer, resolve_renderer
from . import classic  # noqa: F401  (registers 'classic', the weight-free default)
from . import gan  # noqa: F401  (registers 'gan', the released geometry-aware generator)

__all__ = ["RENDERERS", "Renderer", "resolve_renderer", "DEFAULT_RENDERER", "NEURAL_RENDERER"]
