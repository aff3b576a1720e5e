"""Weight-free stylisation (Module2.stylize): line drawing, cartoon, strokes, mouth, foreground."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy import ndimage

from Module2.stylize import (
    CLEANUP_MAX_DARKEST,
    CLEANUP_MIN_AREA,
    CLEANUP_MIN_EXTENT,
    FEATURE_MAX_DARKEST,
    FEATURE_MIN_AREA,
    cartoonize,
    catmull_rom,
    clean_components,
    draw_inner_mouth,
    foreground_mask,
    inner_lip_gap,
    landmark_strokes,
    line_drawing,
    nose_zone,
)

ASTRONAUT = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


def astronaut_portrait() -> tuple[np.ndarray, np.ndarray] | None:
    """examples/astronaut.jpg square-cropped around its dlib face → (512² RGB, (68, 2) landmarks)."""
    if not ASTRONAUT.is_file():
        return None
    try:
        import dlib
        import face_recognition_models
    except ImportError:
        return None
    img = cv2.cvtColor(cv2.imread(str(ASTRONAUT)), cv2.COLOR_BGR2RGB)
    rects, scores, _ = dlib.get_frontal_face_detector().run(img, 1, 0)
    upper = [(s, r) for s, r in zip(scores, rects) if r.center().y < img.shape[0] / 2]  # not the suit patch
    if not upper:
        return None
    rect = max(upper, key=lambda c: c[0])[1]
    shape = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())(img, rect)
    pts = np.array([[p.x, p.y] for p in shape.parts()], np.float32)
    half = 1.2 * (pts[16, 0] - pts[0, 0])
    cx, cy = pts.mean(0)
    k = 512 / (2 * half)
    m = np.array([[k, 0, -(cx - half) * k], [0, k, -(cy - 1.1 * half) * k]], np.float32)
    crop = cv2.warpAffine(img, m, (512, 512), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return crop, (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


def synthetic_portrait() -> tuple[np.ndarray, np.ndarray]:
    """A cartoon face drawn with cv2 ellipses, with matching landmarks (no detector needed)."""
    from tests.module2.test_geometry import synthetic_landmarks

    lm = synthetic_landmarks(512)
    img = np.full((512, 512, 3), (205, 210, 215), np.uint8)
    cv2.ellipse(img, (256, 200), (150, 150), 0, 0, 360, (90, 60, 40), -1)  # hair
    cv2.ellipse(img, (256, 262), (112, 135), 0, 0, 360, (225, 185, 160), -1)  # face
    for cx in (210, 302):
        cv2.ellipse(img, (cx, 239), (20, 7), 0, 0, 360, (250, 250, 250), -1)
        cv2.circle(img, (cx, 239), 6, (60, 40, 30), -1)
    cv2.ellipse(img, (256, 205), (60, 4), 0, 0, 360, (90, 60, 40), -1)
    cv2.ellipse(img, (256, 331), (40, 8), 0, 0, 360, (170, 70, 70), -1)
    cv2.line(img, (236, 292), (276, 292), (150, 110, 95), 3)
    return img, lm


@pytest.fixture(scope="module")
def portrait() -> tuple[np.ndarray, np.ndarray, bool]:
    got = astronaut_portrait()
    if got is None:
        return (*synthetic_portrait(), False)
    return (*got, True)


def _components_ok(img: np.ndarray, size: int, lm: np.ndarray | None = None) -> list[tuple[int, int, int]]:
    """Non-white components violating the clean-up thresholds: (area, extent, darkest).

    With landmarks (photo pixels), components touching the nose zone get the relaxed
    feature thresholds.
    """
    s = size / 512
    zone = nose_zone(lm * np.float32(s), size) if lm is not None else np.zeros(img.shape, bool)
    labels, n = ndimage.label(img < 255, structure=np.ones((3, 3)))
    bad = []
    for i, sl in enumerate(ndimage.find_objects(labels), start=1):
        comp = labels[sl] == i
        area = int(comp.sum())
        extent = max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start)
        darkest = int(img[sl][comp].min())
        near_nose = bool(zone[sl][comp].any())
        min_area = (FEATURE_MIN_AREA if near_nose else CLEANUP_MIN_AREA) * s * s
        max_dark = (FEATURE_MAX_DARKEST if near_nose else CLEANUP_MAX_DARKEST) * 255
        if area < min_area or extent < CLEANUP_MIN_EXTENT * s or darkest > max_dark:
            bad.append((area, extent, darkest))
    return bad


class TestLineDrawing:
    @pytest.mark.parametrize("size", [256, 512])
    def test_clean_white_paper_with_dark_lines(self, portrait, size):
        photo, lm, real = portrait
        d = line_drawing(photo, lm, size)
        assert d.shape == (size, size) and d.dtype == np.uint8
        white = float(np.mean(d == 255))
        assert white >= (0.88 if real else 0.85)
        assert float(np.mean(d < 128)) > 0.01  # there are real lines
        assert _components_ok(d, size, lm) == []  # no speckle

    def test_with_strokes_still_clean(self, portrait):
        photo, lm, real = portrait
        d = line_drawing(photo, lm, 512, strokes=True)
        assert float(np.mean(d == 255)) >= (0.88 if real else 0.85)
        plain = line_drawing(photo, lm, 512)
        assert np.all(d <= plain)  # strokes only darken
        x0, y0 = np.floor(lm[36:48].min(0)).astype(int)
        x1, y1 = np.ceil(lm[36:48].max(0)).astype(int)
        assert d[y0:y1, x0:x1].sum() < plain[y0:y1, x0:x1].sum()  # lids drawn

    def test_xdog_option(self, portrait):
        photo, lm, real = portrait
        d = line_drawing(photo, lm, 256, method="xdog")
        assert d.shape == (256, 256) and float(np.mean(d == 255)) >= 0.85
        assert _components_ok(d, 256, lm) == []

    def test_deterministic(self, portrait):
        photo, lm, _ = portrait
        np.testing.assert_array_equal(line_drawing(photo, lm, 256), line_drawing(photo, lm, 256))

    def test_edges_of_a_disc_become_a_ring(self):
        img = np.full((256, 256, 3), 230, np.uint8)
        cv2.circle(img, (128, 128), 60, (40, 40, 40), -1)
        lm = np.zeros((68, 2), np.float32) + 128
        d = line_drawing(img, lm, 256)
        ang = np.linspace(0, 2 * np.pi, 36, endpoint=False)
        # The outline at radius ~60 is dark, the centre and the far background are white.
        near = [d[int(128 + r * np.sin(a)), int(128 + r * np.cos(a))] for a in ang for r in (57, 58, 59, 60)]
        assert np.mean(np.asarray(near) < 128) > 0.2
        assert d[128, 128] == 255 and d[10, 10] == 255

    def test_bad_inputs(self, portrait):
        photo, lm, _ = portrait
        with pytest.raises(ValueError, match="method"):
            line_drawing(photo, lm, 256, method="sketchy")
        with pytest.raises(ValueError, match=r"\(68, 2\)"):
            line_drawing(photo, lm[:60], 256)
        with pytest.raises(ValueError, match=r"\(512, 512\)"):
            line_drawing(photo[..., 0], lm, 256)


class TestCleanComponents:
    def test_drops_small_and_faint_keeps_long_dark(self):
        img = np.full((100, 100), 255, np.uint8)
        img[10:13, 10:13] = 0  # small blob (area 9)
        img[50, 5:95] = 200  # long but faint line
        img[80, 5:95] = 20  # long dark line
        img[81, 5:95] = 160  # its lighter fringe (same component)
        out = clean_components(img, min_area=20, min_extent=10, max_darkest=0.35)
        assert np.all(out[10:13, 10:13] == 255)
        assert np.all(out[50] == 255)
        assert np.all(out[80, 5:95] == 20) and np.all(out[81, 5:95] == 160)
        assert img[10, 10] == 0  # input untouched

    def test_feature_zone_keeps_short_faint_lines(self):
        img = np.full((100, 100), 255, np.uint8)
        img[30:33, 20:32] = 180  # short (area 36) and faint (darkest 180)
        img[70:73, 20:32] = 180
        zone = np.zeros((100, 100), bool)
        zone[25:40, 15:40] = True
        out = clean_components(img, min_area=60, min_extent=10, max_darkest=0.35,
                               feature=zone, feature_area=15, feature_darkest=0.85)
        assert np.all(out[30:33, 20:32] == 180)  # in the zone: kept
        assert np.all(out[70:73, 20:32] == 255)  # elsewhere: dropped

    def test_nose_zone_covers_nose_and_mouth_corners(self, portrait):
        _, lm, _ = portrait
        z = nose_zone(lm, 512)
        for i in (30, 31, 33, 35, 48, 54):
            x, y = np.round(lm[i]).astype(int)
            assert z[y, x]
        for i in (8, 19, 24, 36, 45):  # chin, brows, outer eye corners
            x, y = np.round(lm[i]).astype(int)
            assert not z[y, x]


class TestCartoon:
    def test_shape_dtype_fewer_colours(self, portrait):
        photo, lm, _ = portrait
        c = cartoonize(photo, lm, 256)
        assert c.shape == (256, 256, 3) and c.dtype == np.uint8
        ref = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA)
        n_c = len(np.unique(c.reshape(-1, 3), axis=0))
        n_p = len(np.unique(ref.reshape(-1, 3), axis=0))
        assert n_c < 0.5 * n_p
        # Outlines: the line drawing's dark pixels are dark in the cartoon too.
        lines = line_drawing(photo, lm, 256)
        assert c[lines < 40].max(axis=1).mean() < 60


class TestForegroundMask:
    def test_face_in_background_out(self, portrait):
        photo, lm, _ = portrait
        m = foreground_mask(photo, lm, 256)
        assert m.shape == (256, 256) and m.dtype == np.float32
        assert m.min() >= 0.0 and m.max() <= 1.0
        p = lm * 0.5
        hull = cv2.convexHull(np.round(p).astype(np.int32))
        inside = np.zeros((256, 256), np.uint8)
        cv2.fillConvexPoly(inside, hull, 1)
        assert m[inside > 0].mean() > 0.95
        assert m[:8, :8].max() < 0.05 and m[:8, -8:].max() < 0.05  # top corners are background
        np.testing.assert_array_equal(m, foreground_mask(photo, lm, 256))


class TestStrokesAndMouth:
    def test_catmull_rom_interpolates(self):
        pts = np.array([[0, 0], [10, 5], [20, 0], [30, 8]], np.float32)
        c = catmull_rom(pts, samples=5)
        assert c.shape == (3 * 5 + 1, 2)
        for p in pts:
            assert np.min(np.linalg.norm(c - p, axis=1)) < 1e-4
        closed = catmull_rom(pts, samples=4, closed=True)
        assert closed.shape == (16, 2)
        same = catmull_rom(np.array([[3, 3], [3, 3], [3, 3]], np.float32))  # collapsed lid
        assert np.all(np.isfinite(same)) and np.allclose(same, 3)

    @pytest.mark.parametrize("rgb", [False, True])
    def test_strokes_darken_only_near_features(self, rgb):
        from tests.module2.test_geometry import synthetic_landmarks

        lm = synthetic_landmarks(256)
        img = np.full((256, 256, 3) if rgb else (256, 256), 250, np.uint8)
        out = landmark_strokes(img.copy(), lm)
        assert out.shape == img.shape and np.all(out <= img)
        grey = out if not rgb else out.min(axis=2)
        # Upper lid (36–39) is dark, the lower lid light, the far background untouched.
        x, y = np.round((lm[37] + lm[38]) / 2).astype(int)
        upper = grey[y - 1:y + 2, x].min()
        x, y = np.round((lm[40] + lm[41]) / 2).astype(int)
        lower = grey[y - 1:y + 2, x].min()
        assert upper < 128 and upper + 40 < lower < 250
        assert np.all(grey[:60] == 250) and np.all(grey[-40:] == 250)

    def test_inner_mouth_fill(self):
        from tests.module2.test_geometry import synthetic_landmarks

        lm = synthetic_landmarks(512)
        lm[65:68, 1] += 20  # open the mouth
        assert inner_lip_gap(lm) == pytest.approx(np.mean(lm[[67, 66, 65], 1] - lm[[61, 62, 63], 1]), abs=1e-4)
        img = np.full((512, 512), 255, np.uint8)
        draw_inner_mouth(img, lm, interior=80, teeth=250)
        cx = int(lm[62, 0])
        col = img[int(lm[62, 1]) + 2: int(lm[66, 1]) - 1, cx]
        assert col[:3].min() > 200  # teeth band under the upper lip
        assert col[-len(col) // 2:].min() < 200 and col.min() < 140  # shaded interior
        assert col.min() > 40  # mid-dark, not black
        assert np.all(img[:250] == 255) and np.all(img[400:] == 255)
        faded = np.full((512, 512), 255, np.uint8)
        draw_inner_mouth(faded, lm, interior=80, teeth=250, opacity=0.3)
        assert faded.min() > img.min()
