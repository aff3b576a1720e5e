"""The classic renderer's fast paths give the very bytes of the plain per-frame algorithm.

The renderer batches the small per-frame geometry over blocks of frames, warps in bands of rows,
recomputes only the changed box on a still head and draws all stroke splines in one batch. The
reference here is the straightforward algorithm those replaced (one frame at a time, one
``np.linalg`` call per frame, the whole-image map, ``einsum`` splines, one ``polylines`` per
stroke, the mouth blended over its whole padded box), written out independently; every frame must be equal, byte for byte.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from common.ibug68 import inner_lip_gap
from Module2.config import RenderConfig
from Module2.geometry import (
    JAW_ANCHORED,
    PiecewiseAffineWarp,
    apply_transform,
    apply_transforms,
    border_points,
    head_ring,
    similarity_transform,
    similarity_transforms,
)
from Module2.renderers.classic import (
    _ANCHOR_GAIN,
    _ANCHOR_MAX_PX,
    _ANCHOR_MIN_PX,
    _CHUNK,
    _STABLE,
    MOUTH_FADE_PX,
    MOUTH_OPEN_PX,
    ClassicRenderer,
)
from Module2.stylize import _STROKES_LIGHT_FIRST, MOUTH_STYLES, _cr_basis, _smooth01, catmull_rom, draw_open_mouth
from tests.module2.test_classic_renderer import talking
from tests.module2.test_geometry import synthetic_landmarks
from tests.module2.test_stylize import astronaut_portrait, synthetic_portrait


@pytest.fixture(scope="module")
def portrait() -> tuple[np.ndarray, np.ndarray]:
    got = astronaut_portrait()
    return got if got is not None else synthetic_portrait()


# ------------------------------------------------------------------ the reference algorithm

def _ref_catmull_rom(points: np.ndarray, samples: int = 6, closed: bool = False) -> np.ndarray:
    p = np.asarray(points, dtype=np.float32)
    ext = np.concatenate([p[-1:], p, p[:2]]) if closed else \
        np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
    nseg = len(ext) - 3
    win = np.stack([ext[i:i + nseg] for i in range(4)], axis=1)
    pts = np.einsum("sk,nkd->nsd", _cr_basis(samples), win).reshape(-1, 2)
    if not closed:
        pts = np.concatenate([pts, p[-1:]])
    return pts.astype(np.float32)


def _ref_strokes(img: np.ndarray, lms: np.ndarray, s: float) -> None:
    lms = np.asarray(lms, np.float32)
    h, w = img.shape[:2]
    pts = lms[17:]
    x0 = int(max(0, np.floor(pts[:, 0].min()) - 4))
    y0 = int(max(0, np.floor(pts[:, 1].min()) - 4))
    x1 = int(min(w, np.ceil(pts[:, 0].max()) + 5))
    y1 = int(min(h, np.ceil(pts[:, 1].max()) + 5))
    if x1 <= x0 or y1 <= y0:
        return
    canvas = np.full((y1 - y0, x1 - x0), 255, np.uint8)
    off = np.array([x0, y0], np.float32)
    for idx, level, width in _STROKES_LIGHT_FIRST:
        curve = np.round(_ref_catmull_rom(lms[list(idx)] - off) * 16).astype(np.int32)
        thick = max(1, int(round(width * s)))
        lvl = int(round(255 - (255 - level) * min(1.0, width * s / thick)))
        cv2.polylines(canvas, [curve], False, lvl, thick, cv2.LINE_AA, 4)
    roi = img[y0:y1, x0:x1]
    if img.ndim == 2:
        np.minimum(roi, canvas, out=roi)
    else:
        roi[...] = (roi.astype(np.uint16) * canvas[..., None] // 255).astype(np.uint8)


def _ref_open_mouth(img: np.ndarray, lms: np.ndarray, style: str, opacity: float, s: float) -> None:
    """draw_open_mouth as it was: every layer blended over the whole padded box."""
    lms = np.asarray(lms, np.float32)
    pal = MOUTH_STYLES[style]
    inner = lms[60:68]
    h, w = img.shape[:2]
    pad = int(np.ceil(4 * s)) + 3
    x0 = int(max(0, np.floor(inner[:, 0].min()) - pad))
    y0 = int(max(0, np.floor(inner[:, 1].min()) - pad))
    x1 = int(min(w, np.ceil(inner[:, 0].max()) + pad + 1))
    y1 = int(min(h, np.ceil(inner[:, 1].max()) + pad + 1))
    if x1 <= x0 or y1 <= y0:
        return
    off = np.array([x0, y0], np.float32)
    loop16 = np.round(_ref_catmull_rom(inner - off, samples=8, closed=True) * 16).astype(np.int32)
    shape = (y1 - y0, x1 - x0)
    mouth = np.zeros(shape, np.uint8)
    cv2.fillPoly(mouth, [loop16], 255, cv2.LINE_AA, 4)
    gap = float(inner_lip_gap(lms))
    width = float(np.linalg.norm(lms[64] - lms[60]))
    band = min(gap * (0.85 - 0.45 * _smooth01((gap - 4.0 * s) / (10.0 * s))), 0.13 * width)
    upper = _ref_catmull_rom(lms[60:65] - off, samples=8)
    lower_edge = upper + np.array([0.0, band], np.float32)
    tmask = np.zeros(shape, np.uint8)
    cv2.fillPoly(tmask, [np.round(np.concatenate([upper, lower_edge[::-1]]) * 16).astype(np.int32)], 255,
                 cv2.LINE_AA, 4)
    a_teeth = np.minimum(tmask, mouth).astype(np.float32) / 255.0
    layers = [(pal["interior"], mouth.astype(np.float32) / 255.0)]
    if style == "cartoon":
        lower = _ref_catmull_rom(lms[[64, 65, 66, 67, 60]] - off, samples=8)
        cx = float(lower[:, 0].mean())
        top = lower.copy()
        top[:, 1] -= 0.3 * gap
        top[:, 0] = cx + 0.6 * (top[:, 0] - cx)
        tg = np.zeros(shape, np.uint8)
        cv2.fillPoly(tg, [np.round(np.concatenate([lower, top[::-1]]) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
        layers.append((pal["tongue"], np.minimum(tg, mouth).astype(np.float32) / 255.0
                       * _smooth01((gap - 8.0 * s) / (10.0 * s))))
    layers.append((pal["teeth"], a_teeth))
    if style == "drawing":
        edge = np.zeros(shape, np.uint8)
        cv2.polylines(edge, [np.round(lower_edge * 16).astype(np.int32)], False, 255,
                      max(1, int(round(1.2 * s))), cv2.LINE_AA, 4)
        layers.append((pal["ink"], np.minimum(edge, mouth).astype(np.float32) / 255.0
                       * _smooth01((gap - 6.0 * s) / (6.0 * s))))
    loop_ink = np.zeros(shape, np.uint8)
    cv2.polylines(loop_ink, [loop16], True, 255, max(1, int(round((2.6 if style == "drawing" else 1.8) * s))),
                  cv2.LINE_AA, 4)
    wide = _smooth01((gap - 6.0 * s) / (8.0 * s))
    layers.append((pal["ink"], loop_ink.astype(np.float32) / 255.0 * _smooth01(gap / (6.0 * s))
                   * (1.0 - a_teeth * (1.0 - wide))))
    roi = img[y0:y1, x0:x1].astype(np.float32)
    cover = np.zeros(shape, np.float32)
    out = roi.copy()
    for colour, alpha in layers:
        rgb = np.asarray(colour, np.float32)
        if img.ndim == 2:
            out = out + (np.float32(rgb.mean()) - out) * alpha
        else:
            out = out + (np.broadcast_to(rgb, (3,)) - out) * alpha[..., None]
        cover = np.maximum(cover, alpha)
    a = cover * float(np.clip(opacity, 0.0, 1.0))
    res = roi + (out - roi) * (a if img.ndim == 2 else a[..., None])
    img[y0:y1, x0:x1] = np.clip(res + 0.5, 0, 255).astype(np.uint8)


def _ref_map(warp: PiecewiseAffineWarp, dst_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dst = np.asarray(dst_points, np.float64)
    d = dst[warp.triangles]
    dh = np.concatenate([d, np.ones(d.shape[:2] + (1,))], axis=2)
    dt = np.transpose(dh, (0, 2, 1))
    det = np.linalg.det(dt)
    good = np.abs(det) > 1e-6
    inv = np.empty_like(dt)
    if np.any(good):
        inv[good] = np.linalg.inv(dt[good])
    if not np.all(good):
        inv[~good] = np.linalg.pinv(dt[~good])
    aff = warp._src_tri @ inv
    a, b, c = d[:, 0], d[:, 1], d[:, 2]
    area2 = ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])) * warp._src_sign
    bad = area2 < 1.0
    order = np.concatenate([np.flatnonzero(bad), np.flatnonzero(~bad)])
    corners = np.round(d * 16).astype(np.int32)
    s = warp.size
    ids = np.full((s, s), 255, np.uint8)
    for i in order.tolist():
        cv2.fillConvexPoly(ids, corners[i], i, cv2.LINE_8, 4)
    table = np.zeros((256, 6), np.float32)
    table[255] = (1, 0, 0, 0, 1, 0)
    table[: len(aff)] = aff.reshape(-1, 6)
    c = [np.ascontiguousarray(table[:, k])[ids] for k in range(6)]
    xs = np.arange(s, dtype=np.float32)
    x, y = np.broadcast_to(xs[None, :], (s, s)), np.broadcast_to(xs[:, None], (s, s))
    return (c[0] * x + c[1] * y) + c[2], (c[3] * x + c[4] * y) + c[5]


def _ref_fit(r: ClassicRenderer, points: np.ndarray) -> None:
    pts = np.asarray(points, np.float64) * float(r._scale)
    src = r._src.astype(np.float64)
    jaw = list(JAW_ANCHORED)
    drop = np.zeros(len(jaw))
    for p in pts[:: max(1, len(pts) // 400)]:
        m = similarity_transform(src[_STABLE], p[_STABLE]).astype(np.float64)
        drop = np.maximum(drop, np.linalg.norm(p[jaw] - (src[jaw] @ m[:, :2].T + m[:, 2]), axis=1))
    s = float(r._scale)
    r._set_anchors(np.clip(_ANCHOR_GAIN * drop + _ANCHOR_MIN_PX * s, _ANCHOR_MIN_PX * s, _ANCHOR_MAX_PX * s))


def _ref_frames(r: ClassicRenderer, points: np.ndarray) -> list[np.ndarray]:
    _ref_fit(r, points)
    assert r._warp is not None and r._base is not None
    s = float(r._scale)
    paper = (r._paper,) * 4 if isinstance(r._paper, int) else r._paper
    out = []
    for pts512 in points:
        pts = pts512 * r._scale
        ring = apply_transform(similarity_transform(r._src[_STABLE], pts[_STABLE]), r._ring)
        mx, my = _ref_map(r._warp, np.concatenate([pts, ring, r._border]).astype(np.float32))
        frame = cv2.remap(r._base, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=paper)
        gap = float(inner_lip_gap(pts512))
        if gap > MOUTH_OPEN_PX:
            _ref_open_mouth(frame, pts, r.cfg.style, (gap - MOUTH_OPEN_PX) / MOUTH_FADE_PX, s)
        _ref_strokes(frame, pts, s)
        out.append(frame)
    return out


# ------------------------------------------------------------------ inputs

def _hostile(lm: np.ndarray) -> np.ndarray:
    """Head sway and speech, then a still head (only the mouth moves, then nothing), blinks with lids
    that meet exactly, inner lips pushed through each other, all inner lips on one point, a face half
    out of frame; more than one batch of frames."""
    moving = talking(lm, 20, blink_at=(3, 4))
    still = talking(lm, 14, head=False, jaw=False, blink_at=(6,))
    frames = [*moving, *still, still[-1], still[-1], still[-1], *moving[:4]]
    odd: list[np.ndarray] = []
    for k, p in enumerate(frames[:8]):
        q = p.copy()
        if k % 4 == 0:
            q[65:68, 1] -= 18.0  # lower inner lip above the upper: folded triangles
            q[56:59, 1] -= 22.0
        elif k % 4 == 1:
            q[60:68] = q[60:68].mean(0)
        elif k % 4 == 2:
            q += np.array([190.0, -150.0], np.float32)  # partly out of frame
        else:
            q = odd[-1].copy()  # identical to the previous frame
        odd.append(q)
    pts = np.asarray([*frames, *odd, *frames[20:26]], np.float32)
    assert len(pts) > _CHUNK
    return pts


@pytest.mark.slow
@pytest.mark.parametrize("size", [256, 512])
@pytest.mark.parametrize("style", ["drawing", "cartoon"])
def test_frames_equal_the_plain_algorithm(portrait, style, size):
    photo, lm = portrait
    pts = _hostile(lm)
    fast = ClassicRenderer(RenderConfig(style=style, size=size, quiet=True))
    fast.prepare(photo, lm)
    ref = ClassicRenderer(RenderConfig(style=style, size=size, quiet=True))
    ref.prepare(photo, lm)
    got = list(fast.render_points(pts))
    want = _ref_frames(ref, pts)
    assert np.array_equal(fast._anchor_d, ref._anchor_d)
    diff = [i for i, (a, b) in enumerate(zip(got, want, strict=True)) if not np.array_equal(a, b)]
    assert diff == []
    assert fast._warp is not None and fast._warp._ref is not None


def test_frames_equal_the_plain_algorithm_quick(portrait):
    """The 256-px drawing on the hostile sequence (the full grid is the slow test above)."""
    photo, lm = portrait
    pts = _hostile(lm)
    fast = ClassicRenderer(RenderConfig(style="drawing", size=256, quiet=True))
    fast.prepare(photo, lm)
    ref = ClassicRenderer(RenderConfig(style="drawing", size=256, quiet=True))
    ref.prepare(photo, lm)
    got = list(fast.render_points(pts))
    want = _ref_frames(ref, pts)
    assert [i for i, (a, b) in enumerate(zip(got, want, strict=True)) if not np.array_equal(a, b)] == []
    # The still stretch went through the changed-box path: its reference frame is kept.
    still = pts[20:37]
    fast.fit_sequence(pts)
    list(fast.frames_of(still))
    assert fast._warp is not None and fast._warp._ref is not None and fast._warp._ref[4] is not None


# ------------------------------------------------------------------ the pieces

def test_batched_similarities_are_the_single_ones():
    rng = np.random.default_rng(0)
    src = rng.normal(200, 40, (27, 2)).astype(np.float32)
    dst = (src[None] * rng.uniform(0.5, 2, (40, 1, 1)) + rng.normal(0, 30, (40, 27, 2))).astype(np.float32)
    dst[5] = dst[5] * np.array([-1, 1], np.float32)  # a mirrored frame: the reflection branch
    ms = similarity_transforms(src, dst)
    ring = rng.uniform(0, 512, (23, 2)).astype(np.float32)
    rings = apply_transforms(ms, ring)
    for i in range(len(dst)):
        m = similarity_transform(src, dst[i])
        assert ms[i].tobytes() == m.tobytes()
        assert rings[i].tobytes() == apply_transform(m, ring).tobytes()


def test_catmull_rom_is_the_einsum_form():
    rng = np.random.default_rng(1)
    for t in range(400):
        p = rng.normal(0, 200, (int(rng.integers(2, 10)), 2)).astype(np.float32)
        if t % 5 == 0:
            p[:] = p[0]  # a closed eye: all points on one
        for samples in (6, 8):
            for closed in (False, True):
                assert catmull_rom(p, samples, closed).tobytes() == _ref_catmull_rom(p, samples, closed).tobytes()


def test_warp_tables_changed_box_equals_whole_warp():
    """Frames that move only some points (the incremental path) against the whole-image map."""
    size = 128
    lm = synthetic_landmarks(size)
    src = np.concatenate([lm, head_ring(lm), border_points(size)]).astype(np.float32)
    warp = PiecewiseAffineWarp(src, size)
    rng = np.random.default_rng(2)
    img = cv2.resize(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
    seqs = [src.copy()]
    for k in range(30):
        q = seqs[-1].copy()
        if k % 6 == 5:
            q[60:68, 1] += rng.normal(0, 1.5, 8)  # the lips only
        elif k % 6 == 4:
            q[65:68, 1] -= 9.0  # pushed through: folded triangles, then back
        elif k % 6 == 3:
            q = seqs[-2].copy()
        elif k % 6 == 2:
            pass  # identical to the previous
        else:
            q[36:48] += rng.normal(0, 0.7, (12, 2))  # eyes
        seqs.append(q.astype(np.float32))
    pts = np.asarray(seqs)
    table, bad, corners = warp.frame_tables(pts)
    assert bad.any()
    for f in range(len(pts)):
        mx, my = _ref_map(warp, pts[f])
        want = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(9, 9, 9, 9))
        got = warp.warp_tables(img, table[f], bad[f], corners[f], (9, 9, 9, 9))
        assert np.array_equal(got, want), f
        gx, gy = warp.map(pts[f])
        assert gx.tobytes() == mx.tobytes() and gy.tobytes() == my.tobytes()


@pytest.mark.parametrize("style", ["drawing", "cartoon"])
def test_open_mouth_is_the_whole_box_blend(style):
    rng = np.random.default_rng(3)
    lm = synthetic_landmarks(256)
    for k in range(30):
        p = lm.copy()
        p[65:68, 1] += k * 0.8 - 2.0  # from pushed through to wide open
        p[60:68] += rng.normal(0, 0.6, (8, 2))
        if k == 7:
            p[60:68] = p[60:68].mean(0)
        if k == 9:
            p += np.array([-120.0, 0.0], np.float32)  # the mouth at the left edge
        img = rng.integers(0, 256, (256, 256, 3) if style == "cartoon" else (256, 256), dtype=np.uint8)
        want = img.copy()
        _ref_open_mouth(want, p, style, 0.3 + 0.025 * k, 0.5)
        draw_open_mouth(img, p, style, opacity=0.3 + 0.025 * k, scale=0.5)
        assert np.array_equal(img, want), k
