"""Placeholder: replaced by the weight-free renderer (work in progress)."""
from __future__ import annotations

from .base import RENDERERS, Renderer


@RENDERERS.register("classic")
class ClassicRenderer(Renderer):
    name = "classic"

    def prepare(self, photo, source):  # pragma: no cover
        raise NotImplementedError

    def render(self, seq):  # pragma: no cover
        raise NotImplementedError
