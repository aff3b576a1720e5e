"""Stage 2: photo + landmark sequence → frames (geometry-aware GAN, plus a weight-free default)."""
from .config import RenderConfig
from .renderers import RENDERERS, Renderer, resolve_renderer

__all__ = ["RenderConfig", "RENDERERS", "Renderer", "resolve_renderer"]
