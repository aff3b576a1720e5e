"""The weight-free default renderer: stylise once, animate by warping.

``prepare`` draws the portrait once (FDoG line drawing, or a cartoon) at ``cfg.size``,
paints out the photo's own mouth interior, and triangulates a mesh on the source
landmarks: the 68 landmarks, a ring of 12 points around the hair and 16 fixed border
points (176 Delaunay triangles on a typical face). ``render`` then, per frame:

1. moves the head ring with the similarity of the frame's stable points (brows, nose,
   eye corners, upper jaw) so that the hair follows the head rigidly;
2. warps the pre-computed image piecewise-affinely onto the frame's landmarks;
3. fills the inner mouth (mid-dark grey, or dark red for the cartoon, plus an
   upper-teeth band) when the inner lips are apart by more than 2.5 px at 512, fading
   in over the next 3 px so that it never pops;
4. redraws the lid, lip and nose strokes on the frame's landmarks (lids that meet give
   one clean line on a blink).

Because nothing is re-stylised per frame, a still head gives still frames outside the
mouth and eyes (no flicker), and a frame costs a few milliseconds.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np

from common.ibug68 import FRAME
from common.landmarks import check_points

from ..config import RenderConfig
from ..geometry import (
    STABLE_POINTS,
    PiecewiseAffineWarp,
    apply_transform,
    border_points,
    head_ring,
    similarity_transform,
)
from ..stylize import (
    cartoonize,
    draw_inner_mouth,
    erase_inner_mouth,
    inner_lip_gap,
    landmark_strokes,
    line_drawing,
)
from .base import RENDERERS, Renderer

__all__ = ["ClassicRenderer", "MOUTH_OPEN_PX", "MOUTH_FADE_PX"]

log = logging.getLogger(__name__)

PHOTO_SIZE = FRAME
MOUTH_OPEN_PX = 2.5  # inner-lip gap (px at 512) above which the inner mouth is filled
MOUTH_FADE_PX = 3.0  # ... reaching full opacity this many px later
_N_RING = 12
_STABLE = np.asarray(STABLE_POINTS)

# Inner-mouth colours: drawing (grey levels) and cartoon (RGB).
_MOUTH_GREY, _TEETH_GREY, _TONGUE_GREY = 80, 250, 160
_MOUTH_RGB, _TEETH_RGB, _TONGUE_RGB = (105, 30, 38), (246, 243, 236), (168, 72, 80)


@RENDERERS.register("classic")
class ClassicRenderer(Renderer):
    """Weight-free renderer: one stylised image warped per frame (see the module docstring)."""

    name = "classic"

    def __init__(self, cfg: RenderConfig) -> None:
        super().__init__(cfg)
        self._base: np.ndarray | None = None
        self._warp: PiecewiseAffineWarp | None = None
        self._paper: int | tuple[int, ...] = 255

    def prepare(self, photo: np.ndarray, source: np.ndarray) -> None:
        """Stylise ``photo`` (512×512×3 uint8 RGB) once and build the mesh on ``source`` (68, 2)."""
        photo = np.asarray(photo)
        if photo.shape != (PHOTO_SIZE, PHOTO_SIZE, 3) or photo.dtype != np.uint8:
            raise ValueError(f"photo must be a (512, 512, 3) uint8 RGB image; got {photo.shape} {photo.dtype}")
        src = check_points(source, "source")
        if src.shape != (68, 2):
            raise ValueError(f"source must have shape (68, 2); got {src.shape}")
        size = self.cfg.size
        self._scale = np.float32(size / PHOTO_SIZE)
        if self.cfg.style == "cartoon":
            self._base = cartoonize(photo, src, size)
            self._paper = tuple(int(v) for v in np.median(self._base[:4].reshape(-1, 3), axis=0))
        else:
            self._base = line_drawing(photo, src, size)
            self._paper = 255
        self._src = src * self._scale
        # The photo's own teeth would stay behind when the mouth closes: paint them out
        # once; the per-frame fill draws the interior wherever the mouth is open.
        erase_inner_mouth(self._base, self._src, grow=3.0 * float(self._scale))
        self._ring = head_ring(self._src, _N_RING, size=size)
        self._border = border_points(size)
        self._warp = PiecewiseAffineWarp(self._mesh(self._src, self._ring), size)
        self._source_512 = src.copy()
        log.debug("classic: %s at %d px, %d triangles", self.cfg.style, size, len(self._warp.triangles))

    def _mesh(self, pts: np.ndarray, ring: np.ndarray) -> np.ndarray:
        return np.concatenate([pts, ring, self._border]).astype(np.float32)

    def render_points(self, points: np.ndarray) -> Iterator[np.ndarray]:
        """Yield one uint8 frame per (68, 2) entry of ``points`` (landmarks in 512-px coordinates)."""
        if self._warp is None or self._base is None:
            raise RuntimeError("ClassicRenderer.render called before prepare")
        return self._frames(points)

    def _frames(self, points: np.ndarray) -> Iterator[np.ndarray]:
        assert self._warp is not None and self._base is not None  # render_points checked prepare ran
        warp, base = self._warp, self._base
        cartoon = self.cfg.style == "cartoon"
        interior: int | tuple[int, int, int]
        teeth: int | tuple[int, int, int]
        tongue: int | tuple[int, int, int]
        if cartoon:
            interior, teeth, tongue = _MOUTH_RGB, _TEETH_RGB, _TONGUE_RGB
        else:
            interior, teeth, tongue = _MOUTH_GREY, _TEETH_GREY, _TONGUE_GREY
        src_stable = self._src[_STABLE]
        for pts512 in points:
            pts = pts512 * self._scale
            m = similarity_transform(src_stable, pts[_STABLE])
            ring = apply_transform(m, self._ring)
            frame = warp.warp(base, self._mesh(pts, ring), border_value=self._paper)
            gap = float(inner_lip_gap(pts512))
            if gap > MOUTH_OPEN_PX:
                opacity = (gap - MOUTH_OPEN_PX) / MOUTH_FADE_PX
                draw_inner_mouth(frame, pts, interior, teeth, opacity=opacity, tongue=tongue)
            landmark_strokes(frame, pts, scale=float(self._scale))
            yield frame
