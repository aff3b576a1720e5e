"""Renderers; importing this package registers every one of them."""
from .base import DEFAULT_RENDERER, NEURAL_RENDERER, RENDERERS, Renderer, resolve_renderer
from . import classic  # noqa: F401  (registers 'classic')

try:  # the neural renderer registers itself when its module is present
    from . import gan  # noqa: F401
except ImportError as exc:  # pragma: no cover - only while the module is being built
    if "gan" not in str(exc):
        raise

__all__ = ["RENDERERS", "Renderer", "resolve_renderer", "DEFAULT_RENDERER", "NEURAL_RENDERER"]
