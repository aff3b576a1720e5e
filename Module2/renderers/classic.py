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

import cv2
import numpy as np

from common.ibug68 import FRAME
from common.landmarks import check_points

from ..config import RenderConfig
from ..geometry import (
    JAW_ANCHORED,
    STABLE_POINTS,
    PiecewiseAffineWarp,
    apply_transforms,
    border_points,
    head_ring,
    jaw_anchors,
    similarity_transforms,
)
from ..stylize import (
    cartoonize,
    draw_open_mouth,
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
# Jaw-anchor band (px at 512): at least _ANCHOR_MIN_PX, _ANCHOR_GAIN × the jaw point's largest drop
# off the head beyond that, at most _ANCHOR_MAX_PX.
_ANCHOR_MIN_PX, _ANCHOR_GAIN, _ANCHOR_MAX_PX = 4.0, 1.6, 80.0
_STABLE = np.asarray(STABLE_POINTS)
_CHUNK = 32  # frames whose small per-frame geometry is computed in one batch


@RENDERERS.register("classic")
class ClassicRenderer(Renderer):
    """Weight-free renderer: one stylised image warped per frame (see the module docstring)."""

    name = "classic"

    def __init__(self, cfg: RenderConfig) -> None:
        super().__init__(cfg)
        self._base: np.ndarray | None = None
        self._warp_base: np.ndarray | None = None
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
        # What is warped: the colour image with a fourth channel, which cv2.remap interpolates faster
        # than three (each channel on its own, so the same RGB bytes); dropped again per frame.
        self._warp_base = cv2.cvtColor(self._base, cv2.COLOR_RGB2RGBA) if self._base.ndim == 3 else self._base
        self._head_ring = head_ring(self._src, _N_RING, size=size)
        self._border = border_points(size)
        self._anchor_d: np.ndarray | None = None
        self._set_anchors(np.full(len(JAW_ANCHORED), _ANCHOR_MIN_PX * float(self._scale)))
        assert self._warp is not None  # built by _set_anchors
        log.debug("classic: %s at %d px, %d triangles", self.cfg.style, size, len(self._warp.triangles))

    def _set_anchors(self, distance: np.ndarray) -> None:
        """Rebuild the mesh with the jaw anchors ``distance`` px (one per anchored jaw point) out."""
        if self._anchor_d is not None and np.allclose(distance, self._anchor_d, atol=0.5):
            return
        self._anchor_d = np.asarray(distance, np.float64)
        # The ring (hair) and the jaw anchors (neck, collar) move with the head only.
        anchors = jaw_anchors(self._src, distance, size=self.cfg.size)
        self._ring = np.concatenate([self._head_ring, anchors])
        self._warp = PiecewiseAffineWarp(self._mesh(self._src, self._ring), self.cfg.size)

    def _fit_anchors(self, points: np.ndarray) -> None:
        """Set the jaw-anchor band per jaw point from how far that point moves off the head in ``points``.

        The band must be wider than the jaw's largest drop (else its triangles fold) but no
        wider: everything beyond it (neck, collar, hair) moves with the head only.
        """
        pts = np.asarray(points, np.float64) * float(self._scale)
        if pts.ndim != 3 or len(pts) == 0:
            return
        src = self._src.astype(np.float64)
        stable = src[_STABLE]
        jaw = list(JAW_ANCHORED)
        step = max(1, len(pts) // 400)  # a subsample is plenty for a maximum over a smooth track
        sub = pts[::step]
        m = similarity_transforms(stable, sub[:, _STABLE]).astype(np.float64)
        rigid = src[jaw] @ np.swapaxes(m[:, :, :2], 1, 2) + m[:, None, :, 2]
        drop = np.maximum(np.zeros(len(jaw)), np.linalg.norm(sub[:, jaw] - rigid, axis=2).max(0))
        s = float(self._scale)
        self._set_anchors(np.clip(_ANCHOR_GAIN * drop + _ANCHOR_MIN_PX * s, _ANCHOR_MIN_PX * s, _ANCHOR_MAX_PX * s))

    def _mesh(self, pts: np.ndarray, ring: np.ndarray) -> np.ndarray:
        return np.concatenate([pts, ring, self._border]).astype(np.float32)

    def render_points(self, points: np.ndarray) -> Iterator[np.ndarray]:
        """Yield one uint8 frame per (68, 2) entry of ``points`` (landmarks in 512-px coordinates)."""
        if self._warp is None or self._base is None:
            raise RuntimeError("ClassicRenderer.render called before prepare")
        self._fit_anchors(points)
        return self._frames(points)

    # Block-parallel rendering (pipeline.frames): copies of a prepared renderer each fit the whole
    # sequence, then render blocks of it; the frames equal render_points' frames.
    def fit_sequence(self, points: np.ndarray) -> None:
        """Fit what depends on the whole sequence (the jaw band), as :meth:`render_points` does first."""
        if self._warp is None or self._base is None:
            raise RuntimeError("ClassicRenderer.render called before prepare")
        self._fit_anchors(points)

    def frames_of(self, points: np.ndarray) -> Iterator[np.ndarray]:
        """The frames of ``points``, a block of the sequence given to :meth:`fit_sequence`."""
        return self._frames(points)

    def _frames(self, points: np.ndarray) -> Iterator[np.ndarray]:
        assert self._warp is not None and self._base is not None  # render_points checked prepare ran
        points = np.asarray(points)
        for start in range(0, len(points), _CHUNK):
            yield from self._chunk(points[start:start + _CHUNK])

    def _chunk(self, points: np.ndarray) -> Iterator[np.ndarray]:
        """Frames of ``points`` (F, 68, 2): the small per-frame geometry batched over the F frames.

        The batched steps are the per-frame ones stacked (see ``similarity_transforms``), so every
        frame is bit-identical to drawing it alone.
        """
        assert self._warp is not None and self._warp_base is not None
        warp, base = self._warp, self._warp_base
        style = "cartoon" if self.cfg.style == "cartoon" else "drawing"
        s = float(self._scale)
        pts = points * self._scale
        # The ring (hair, jaw anchors) moves with the similarity of the stable points.
        ring = apply_transforms(similarity_transforms(self._src[_STABLE], pts[:, _STABLE]), self._ring)
        border = np.broadcast_to(self._border, (len(pts),) + self._border.shape)
        table, bad, corners = warp.frame_tables(np.concatenate([pts, ring, border], axis=1).astype(np.float32))
        gaps = inner_lip_gap(points).tolist()
        paper = (self._paper,) * 4 if isinstance(self._paper, int) else (*self._paper, 255)
        rgba = base.ndim == 3
        for f in range(len(pts)):
            frame = warp.warp_tables(base, table[f], bad[f], corners[f], paper)
            if rgba:
                frame = cv2.cvtColor(frame, cv2.COLOR_RGBA2RGB)
            gap = gaps[f]
            if gap > MOUTH_OPEN_PX:
                opacity = (gap - MOUTH_OPEN_PX) / MOUTH_FADE_PX
                draw_open_mouth(frame, pts[f], style, opacity=opacity, scale=s)
            landmark_strokes(frame, pts[f], scale=s)
            yield frame
