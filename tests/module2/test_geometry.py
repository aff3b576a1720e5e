"""Fast warps of the classic renderer (Module2.geometry)."""
from __future__ import annotations

import numpy as np
import pytest

from Module2.geometry import (
    STABLE_POINTS,
    PiecewiseAffineWarp,
    apply_transform,
    border_points,
    head_ring,
    similarity_transform,
)


def synthetic_landmarks(size: int = 512) -> np.ndarray:
    """A plausible frontal iBUG-68 layout (jaw, brows, nose, eyes, lips) in a size×size frame."""
    s = size / 512.0
    pts = []
    t = np.linspace(np.pi * 0.95, np.pi * 0.05, 17)  # jaw: left ear → chin → right ear
    pts += [(256 + 110 * np.cos(a), 250 + 130 * np.sin(a)) for a in t]
    pts += [(170 + 17 * i, 205 - 8 * np.sin(np.pi * i / 4)) for i in range(5)]  # right brow
    pts += [(274 + 17 * i, 205 - 8 * np.sin(np.pi * i / 4)) for i in range(5)]  # left brow
    pts += [(256, 235 + 14 * i) for i in range(4)]  # nose bridge
    pts += [(236 + 10 * i, 292 + (4 if i in (1, 3) else 6 if i == 2 else 0)) for i in range(5)]  # nose base
    for cx in (210, 302):  # eyes: corner, 2 upper, corner, 2 lower
        pts += [(cx - 20, 240), (cx - 7, 232), (cx + 7, 232), (cx + 20, 240), (cx + 7, 246), (cx - 7, 246)]
    outer = [(216, 330), (228, 322), (244, 318), (256, 320), (268, 318), (284, 322), (296, 330),
             (284, 342), (268, 348), (256, 349), (244, 348), (228, 342)]
    inner = [(224, 330), (244, 327), (256, 328), (268, 327), (288, 330), (268, 334), (256, 335), (244, 334)]
    pts += outer + inner
    arr = np.asarray(pts, np.float32) * s
    assert arr.shape == (68, 2)
    return arr


def _rotation(deg: float, scale: float, t: tuple[float, float]) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), t[0]],
                     [scale * np.sin(a), scale * np.cos(a), t[1]]], np.float64)


class TestSimilarityTransform:
    def test_recovers_known_similarity(self):
        rng = np.random.default_rng(0)
        src = rng.uniform(0, 512, (30, 2)).astype(np.float32)
        m_true = _rotation(17.0, 1.3, (12.5, -7.25))
        dst = src @ m_true[:, :2].T + m_true[:, 2]
        m = similarity_transform(src, dst)
        assert m.shape == (2, 3) and m.dtype == np.float32
        np.testing.assert_allclose(m, m_true, atol=1e-3)

    def test_least_squares_under_noise(self):
        rng = np.random.default_rng(1)
        src = rng.uniform(100, 400, (200, 2))
        m_true = _rotation(-4.0, 0.9, (3.0, 5.0))
        dst = src @ m_true[:, :2].T + m_true[:, 2] + rng.normal(0, 0.5, src.shape)
        m = similarity_transform(src, dst)
        np.testing.assert_allclose(m[:, :2], m_true[:, :2], atol=0.005)
        np.testing.assert_allclose(m[:, 2], m_true[:, 2], atol=0.5)
        resid = np.linalg.norm(apply_transform(m, src) - dst, axis=1)
        assert resid.mean() < 1.0  # ≈ the 0.5-px noise

    def test_no_reflection(self):
        src = np.random.default_rng(2).uniform(0, 50, (12, 2)).astype(np.float32)
        dst = src * np.array([-1, 1], np.float32)  # a mirror image
        m = similarity_transform(src, dst)
        assert np.linalg.det(m[:, :2]) >= 0

    def test_apply_transform(self):
        m = _rotation(90.0, 2.0, (1.0, 0.0))
        out = apply_transform(m, np.array([[1.0, 0.0]]))
        np.testing.assert_allclose(out, [[1.0, 2.0]], atol=1e-5)

    @pytest.mark.parametrize("shape", [(5, 3), (5,), (2, 5, 2)])
    def test_bad_shape_names_it(self, shape):
        with pytest.raises(ValueError, match=r"\(N, 2\)"):
            similarity_transform(np.zeros(shape), np.zeros(shape))

    def test_mismatched_counts(self):
        with pytest.raises(ValueError, match=r"\(4, 2\)"):
            similarity_transform(np.zeros((4, 2)), np.ones((5, 2)))


class TestHeadRing:
    def test_encloses_landmarks_and_stays_in_frame(self):
        lm = synthetic_landmarks()
        ring = head_ring(lm, 12)
        assert ring.shape == (12, 2) and ring.dtype == np.float32
        import cv2

        poly = ring.reshape(-1, 1, 2)
        inside = [cv2.pointPolygonTest(poly, (float(x), float(y)), True) for x, y in lm]
        assert min(inside) > 5.0  # every landmark well inside the ring
        assert ring[:, 1].min() < lm[17:27, 1].min() - 80  # room for the hair above the brows

    def test_moves_rigidly_with_the_face(self):
        lm = synthetic_landmarks()
        m = _rotation(8.0, 1.1, (5.0, -3.0))
        moved = apply_transform(m, lm)
        np.testing.assert_allclose(head_ring(moved), apply_transform(m, head_ring(lm)), atol=1e-2)

    def test_clamped_into_frame(self):
        lm = synthetic_landmarks(256) + np.float32([0, -60])  # face high in the frame
        free = head_ring(lm)
        assert free[:, 1].min() < 0
        ring = head_ring(lm, size=256, margin=0.02)
        assert ring.min() >= 256 * 0.02 - 1e-4 and ring.max() <= 255 - 256 * 0.02 + 1e-4
        inside = (free >= 6) & (free <= 249)
        np.testing.assert_allclose(ring[inside.all(1)], free[inside.all(1)])

    def test_bad_shape(self):
        with pytest.raises(ValueError, match=r"\(68, 2\)"):
            head_ring(np.zeros((67, 2)))


def _mesh_points(size: int = 128) -> np.ndarray:
    lm = synthetic_landmarks(size)
    return np.concatenate([lm, head_ring(lm), border_points(size)])


def _texture(size: int, seed: int = 0) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (size // 4, size // 4), dtype=np.uint8)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)


class TestPiecewiseAffineWarp:
    def test_border_points(self):
        b = border_points(64)
        assert b.shape == (16, 2)
        assert b.min() == 0 and b.max() == 63
        assert {(0.0, 0.0), (63.0, 0.0), (63.0, 63.0), (0.0, 63.0)} <= {tuple(p) for p in b.tolist()}

    def test_identity_reproduces_image(self):
        size = 128
        pts = _mesh_points(size)
        warp = PiecewiseAffineWarp(pts, size)
        img = _texture(size)
        out = warp.warp(img, pts, border_value=0)
        assert out.shape == img.shape and out.dtype == np.uint8
        diff = np.abs(out.astype(int) - img.astype(int))
        assert diff[1:-1, 1:-1].max() <= 1

    def test_identity_maps(self):
        size = 64
        pts = _mesh_points(size) * (size / 128)
        pts = np.concatenate([synthetic_landmarks(size), head_ring(synthetic_landmarks(size)), border_points(size)])
        mx, my = PiecewiseAffineWarp(pts, size).map(pts)
        xs = np.arange(size, dtype=np.float32)
        np.testing.assert_allclose(mx, np.broadcast_to(xs[None], (size, size)), atol=1e-3)
        np.testing.assert_allclose(my, np.broadcast_to(xs[:, None], (size, size)), atol=1e-3)

    def test_translation_shifts_content(self):
        size = 128
        rng = np.random.default_rng(3)
        src = rng.uniform(30, 98, (40, 2)).astype(np.float32)
        src = np.concatenate([src, [[30, 30], [98, 30], [98, 98], [30, 98]]]).astype(np.float32)
        shift = np.array([7.0, -4.0], np.float32)
        warp = PiecewiseAffineWarp(src, size)
        img = _texture(size, seed=1)
        out = warp.warp(img, src + shift, border_value=0)
        # Inside the destination hull [37, 105] × [26, 94], out(x, y) = img(x - 7, y + 4).
        y0, y1, x0, x1 = 28, 92, 39, 103
        np.testing.assert_array_equal(out[y0:y1, x0:x1], img[y0 + 4:y1 + 4, x0 - 7:x1 - 7])

    def test_collapsed_eye_has_no_holes(self):
        size = 256
        lm = synthetic_landmarks(size)
        pts = np.concatenate([lm, head_ring(lm), border_points(size)])
        warp = PiecewiseAffineWarp(pts, size)
        closed = pts.copy()
        for up, lo in ((37, 41), (38, 40), (43, 47), (44, 46)):  # lids meet exactly
            closed[up] = closed[lo]
        mx, my = warp.map(closed)
        assert np.all(np.isfinite(mx)) and np.all(np.isfinite(my))
        # Every destination pixel reads from inside the source image: no holes.
        flat = np.full((size, size), 200, np.uint8)
        out = warp.warp(flat, closed, border_value=0)
        assert out.min() == 200
        # Around the closed eyes the map stays local (no pixel jumps across the face).
        ex0, ey0 = np.floor(lm[36:48].min(0)).astype(int) - 3
        ex1, ey1 = np.ceil(lm[36:48].max(0)).astype(int) + 3
        region = (slice(ey0, ey1), slice(ex0, ex1))
        xs = np.arange(size)[None, :].repeat(size, 0)[region]
        ys = np.arange(size)[:, None].repeat(size, 1)[region]
        assert np.abs(mx[region] - xs).max() < 12 and np.abs(my[region] - ys).max() < 12

    def test_folded_triangle_does_not_leak(self):
        size = 128
        src = np.array([[0, 0], [127, 0], [127, 127], [0, 127], [64, 40], [64, 80]], np.float32)
        warp = PiecewiseAffineWarp(src, size)
        dst = src.copy()
        dst[5] = (64, 38)  # pushed through point 4: its triangles fold over
        mx, my = warp.map(dst)
        assert np.all(np.isfinite(mx)) and np.all(np.isfinite(my))
        assert mx.min() > -1 and mx.max() < 128 and my.min() > -1 and my.max() < 128

    def test_coincident_source_points_still_triangulated(self):
        size = 64
        src = np.array([[0, 0], [63, 0], [63, 63], [0, 63], [30, 30], [30, 30], [40, 30]], np.float32)
        warp = PiecewiseAffineWarp(src, size)
        used = np.unique(warp.triangles)
        assert 4 in used and 5 in used

    def test_rgb_and_out_buffer(self):
        size = 64
        pts = np.concatenate([synthetic_landmarks(size), border_points(size)])
        warp = PiecewiseAffineWarp(pts, size)
        img = np.dstack([_texture(size, k) for k in range(3)])
        buf = np.empty_like(img)
        res = warp.warp(img, pts, border_value=(0, 0, 0), out=buf)
        assert res is buf and res.shape == (64, 64, 3)
        assert np.abs(res[1:-1, 1:-1].astype(int) - img[1:-1, 1:-1]).max() <= 1

    def test_stable_points_are_rigid_features(self):
        assert set(STABLE_POINTS).isdisjoint(range(48, 68))  # no lips
        assert set(STABLE_POINTS).isdisjoint({37, 38, 40, 41, 43, 44, 46, 47})  # no lids
        assert 8 not in STABLE_POINTS  # no chin

    @pytest.mark.parametrize("bad", [(10, 3), (10,)])
    def test_bad_shapes(self, bad):
        with pytest.raises(ValueError, match=r"\(N, 2\)"):
            PiecewiseAffineWarp(np.zeros(bad), 32)
        warp = PiecewiseAffineWarp(np.array([[0, 0], [31, 0], [0, 31], [31, 31]], np.float32), 32)
        with pytest.raises(ValueError, match=r"\(4, 2\)"):
            warp.map(np.zeros((5, 2)))
        with pytest.raises(ValueError, match=r"\(32, 32"):
            warp.warp(np.zeros((16, 16), np.uint8), np.zeros((4, 2)))
