"""The weight-free default renderer (Module2.renderers.classic)."""
from __future__ import annotations

import types

import cv2
import numpy as np
import pytest

from common import LandmarkSequence
from Module2.config import RenderConfig
from Module2.renderers import RENDERERS, resolve_renderer
from Module2.renderers.classic import ClassicRenderer
from Module2.stylize import line_drawing
from tests.module2.test_stylize import astronaut_portrait, synthetic_portrait


@pytest.fixture(scope="module")
def portrait() -> tuple[np.ndarray, np.ndarray]:
    got = astronaut_portrait()
    return got if got is not None else synthetic_portrait()


def talking(
    source: np.ndarray, n: int, head: bool = True, jaw: bool = True, blink_at: tuple[int, ...] = ()
) -> np.ndarray:
    """(n, 68, 2) landmarks: lower lip (and jaw) open and close, lids close at ``blink_at``, head sways."""
    out = np.repeat(source[None], n, 0).astype(np.float64)
    gap0 = float(np.mean(source[[67, 66, 65], 1] - source[[61, 62, 63], 1]))
    width = float(np.linalg.norm(source[54] - source[48]))
    for t in range(n):
        p = out[t]
        dy = max(0.3 * width * max(0.0, np.sin(2 * np.pi * t / 6)) - gap0, 1.0 - gap0)
        p[[65, 66, 67], 1] += dy
        p[[55, 56, 57, 58, 59], 1] += 0.9 * dy
        p[[48, 54, 60, 64], 1] += 0.35 * dy
        if jaw:
            p[5:12, 1] += 0.6 * dy * (1 - np.abs(np.arange(5, 12) - 8) / 4)
        if t in blink_at:
            for up, lo in ((37, 41), (38, 40), (43, 47), (44, 46)):
                p[up] = p[lo]
        if head:
            a = np.deg2rad(3 * np.sin(t / 4))
            rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
            pivot = p[8] + (0, 20)
            p[:] = (p - pivot) @ rot.T + pivot + (5 * np.sin(t / 3), 3 * np.sin(t / 5))
    return out.astype(np.float32)


def _renderer(portrait, style="drawing", size=256) -> ClassicRenderer:
    r = ClassicRenderer(RenderConfig(style=style, size=size))
    r.prepare(*portrait)
    return r


def _poly_mask(pts: np.ndarray, size: int, dilate: int) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    for idx in (range(48, 60), range(36, 42), range(42, 48)):
        cv2.fillPoly(m, [np.round(pts[list(idx)]).astype(np.int32)], 1)
    k = 2 * dilate + 1
    return cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0


class TestClassicRenderer:
    def test_registered_as_default(self):
        assert RENDERERS.get("classic") is ClassicRenderer
        name, _ = resolve_renderer("classic", RenderConfig())
        assert name == "classic"

    @pytest.mark.parametrize("style", ["drawing", "cartoon"])
    @pytest.mark.parametrize("size", [256, 512])
    def test_frame_count_and_shapes(self, portrait, style, size):
        photo, lm = portrait
        r = _renderer(portrait, style, size)
        seq = LandmarkSequence(talking(lm, 4, blink_at=(2,)), 25.0, lm)
        gen = r.render(seq)
        assert isinstance(gen, types.GeneratorType)  # streamed, not a list
        frames = list(gen)
        assert len(frames) == len(seq)
        want = (size, size) if style == "drawing" else (size, size, 3)
        assert r.channels == (1 if style == "drawing" else 3)
        for f in frames:
            assert f.shape == want and f.dtype == np.uint8

    def test_identical_landmarks_identical_frames(self, portrait):
        photo, lm = portrait
        pts = talking(lm, 3)
        seq = LandmarkSequence(np.stack([pts[1], pts[1], pts[2], pts[1]]), 25.0, lm)
        f = [x.copy() for x in _renderer(portrait).render(seq)]
        np.testing.assert_array_equal(f[0], f[1])
        np.testing.assert_array_equal(f[0], f[3])
        assert np.any(f[0] != f[2])
        # A second renderer on the same input is bit-identical (deterministic).
        g = [x.copy() for x in _renderer(portrait).render(seq)]
        np.testing.assert_array_equal(f[2], g[2])

    def test_source_landmarks_give_the_drawing_back(self, portrait):
        photo, lm = portrait
        closed = lm.copy()
        closed[[65, 66, 67]] = closed[[63, 62, 61]]  # inner lips touch: no mouth fill
        r = ClassicRenderer(RenderConfig(size=256))
        r.prepare(photo, closed)
        frame = next(iter(r.render(LandmarkSequence(closed[None], 25.0, closed))))
        base = line_drawing(photo, closed, 256, strokes=True)
        diff = np.abs(frame.astype(int) - base.astype(int))
        mouth = np.zeros((256, 256), np.uint8)
        cv2.fillPoly(mouth, [np.round(closed[48:60] * 0.5).astype(np.int32)], 1)
        mouth = cv2.dilate(mouth, np.ones((7, 7), np.uint8)) > 0  # the photo's own mouth is painted out
        assert diff[~mouth].max() <= 1  # identity warp + the same strokes elsewhere
        assert frame[mouth].mean() >= base[mouth].mean()

    @pytest.mark.parametrize("style", ["drawing", "cartoon"])
    def test_mouth_darker_when_open(self, portrait, style):
        photo, lm = portrait
        closed = lm.copy()
        closed[[65, 66, 67]] = closed[[63, 62, 61]]
        opened = lm.copy()
        opened[[65, 66, 67], 1] = closed[[65, 66, 67], 1] + 22
        opened[[56, 57, 58], 1] += 20
        opened[5:12, 1] += 10
        r = _renderer(portrait, style, 512)
        f_closed, f_open = [x.copy() for x in r.render(LandmarkSequence(np.stack([closed, opened]), 25.0, lm))]
        inner = np.zeros((512, 512), np.uint8)
        cv2.fillPoly(inner, [np.round(opened[60:68]).astype(np.int32)], 1)
        inner = cv2.erode(inner, np.ones((3, 3), np.uint8), iterations=2) > 0
        top, bottom = opened[[61, 62, 63], 1].mean(), opened[[65, 66, 67], 1].mean()
        inner[: int(top + 0.45 * (bottom - top))] = False  # below the teeth band
        assert inner.sum() > 200

        def lum(f: np.ndarray) -> np.ndarray:
            return f if f.ndim == 2 else f.mean(axis=2)

        # The style's open mouth: a white upper-teeth band under the upper lip, and below it a dark
        # ink interior (drawing) or a flat pink-red mouth (cartoon).
        band = f_open[int(top) + 6: int(top) + 8, int(opened[62, 0]) - 3: int(opened[62, 0]) + 3]
        assert lum(band).mean() > 200  # (rows 0–5 under the lip hold its bold ink line)
        if style == "cartoon":
            mean_rgb = f_open[inner].mean(axis=0)
            assert mean_rgb[0] > mean_rgb[1] + 60 and mean_rgb[0] > mean_rgb[2] + 50  # pink-red
            assert lum(f_open)[inner].mean() < lum(f_closed)[inner].mean() - 20
        else:
            assert lum(f_open)[inner].mean() < 60  # dark, as ink
            assert lum(f_open)[inner].mean() < lum(f_closed)[inner].mean() - 80

    def test_blink_closes_the_eyes(self, portrait):
        photo, lm = portrait
        pts = talking(lm, 2, head=False, blink_at=(1,))
        f_open, f_shut = [x.copy() for x in _renderer(portrait, size=512).render(LandmarkSequence(pts, 25.0, lm))]
        for eye in (range(36, 42), range(42, 48)):
            x0, y0 = np.floor(lm[list(eye)].min(0)).astype(int) - 2
            x1, y1 = np.ceil(lm[list(eye)].max(0)).astype(int) + 2
            dark_open = int((f_open[y0:y1, x0:x1] < 100).sum())
            dark_shut = int((f_shut[y0:y1, x0:x1] < 100).sum())
            assert dark_shut < 0.7 * dark_open  # iris and lashes folded away
            # The lid line is one stroke: each column crossing the eye has a single dark run.
            cols = (f_shut[y0:y1, x0 + 4:x1 - 4] < 100)
            runs = (np.diff(cols.astype(int), axis=0) == 1).sum(axis=0) + cols[0]
            assert np.median(runs) <= 1

    def test_static_head_does_not_flicker(self, portrait):
        photo, lm = portrait
        size = 512
        pts = talking(lm, 12, head=False, jaw=False, blink_at=(4, 5))
        r = _renderer(portrait, size=size)
        prev, prev_pts = None, None
        outside, inside = [], []
        for f, p in zip(r.render(LandmarkSequence(pts, 25.0, lm)), pts):
            f = f.astype(np.int16)
            if prev is not None:
                mask = _poly_mask(p, size, 12) | _poly_mask(prev_pts, size, 12)
                d = np.abs(f - prev)
                outside.append(d[~mask].mean())
                inside.append(d[mask].mean())
            prev, prev_pts = f, p
        assert max(outside) < 0.5, outside
        assert max(inside) > 5.0 and np.mean(inside) > 1.0, inside  # the mouth does move

    def test_render_before_prepare_and_bad_inputs(self, portrait):
        photo, lm = portrait
        r = ClassicRenderer(RenderConfig(size=256))
        with pytest.raises(RuntimeError, match="prepare"):
            next(iter(r.render(LandmarkSequence(lm[None], 25.0, lm))))
        with pytest.raises(ValueError, match=r"\(256, 256, 3\)"):
            r.prepare(cv2.resize(photo, (256, 256)), lm)
        with pytest.raises(ValueError, match=r"68, 2\)"):
            r.prepare(photo, lm[:10])



@pytest.mark.parametrize("style", ["drawing", "cartoon"])
def test_jaw_warp_leaves_far_pixels_unchanged(portrait, style):
    """Still head, jaw and lips opening wide: beside and below the jaw (neck, collar, hair) nothing moves
    beyond the thin band the jaw anchors allow; the mouth and chin do move."""
    photo, lm = portrait
    size = 512
    pts = talking(lm, 7, head=False, jaw=True)  # frame 0 closed, frames 1–2 open wide
    r = _renderer(portrait, style=style, size=size)
    frames = [f.astype(np.int16) for f in r.render(LandmarkSequence(pts, 25.0, lm))]
    diff = np.abs(frames[0] - frames[1])
    diff = diff.max(axis=2) if diff.ndim == 3 else diff
    # Far from the face: outside the landmarks' hull (both frames) grown by 0.45 × the eye distance.
    eye_d = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))
    hull = np.zeros((size, size), np.uint8)
    for p in (pts[0], pts[1]):
        cv2.fillConvexPoly(hull, cv2.convexHull(np.round(p).astype(np.int32)), 1)
    k = 2 * int(0.45 * eye_d) + 1
    near = cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
    assert diff[~near].max() <= 2, int(diff[~near].max())
    assert diff[near].max() > 60  # the mouth opened


@pytest.mark.parametrize("style, size, want", [("drawing", 256, (256, 256)), ("cartoon", 512, (512, 512, 3))])
def test_frame_shape_is_the_shape_of_the_frames(style, size, want):
    # the forked render path sizes its shared ring by it (tests/pipeline/test_frames.py renders through it)
    renderer = RENDERERS.get("classic")(RenderConfig(style=style, size=size, quiet=True))
    assert renderer.frame_shape == want
