"""Weight-free stylisation of an aligned portrait: line drawing, cartoon, feature strokes, foreground.

All functions are pure (arrays in, arrays out; ``draw_*`` functions draw into the
array they are given). Images are uint8, RGB order for colour. Landmarks are (68, 2)
float ``(x, y)`` pixels of the image they come with, iBUG-68 order; functions taking a
``size`` rescale them by ``size / photo width``. Parameters are given for a 512-px
output and scale with the size (``s = size / 512``).

Line drawing (:func:`line_drawing`), after Kang et al. 2007 (FDoG) and Winnemöller
et al. 2012 (XDoG):

1. grey + light bilateral pre-filter (skin and hair texture);
2. ``fdog``: edge tangent flow from a smoothed structure tensor, a 1-D DoG across the
   edge, a line-integral smoothing along the flow; ``xdog``: isotropic DoG (fast);
3. XDoG soft threshold, tone clip (faint grey → white);
4. connected-component clean-up: non-white components that are small or faint vanish
   (shorter, fainter ones may stay at the nose wings and nasolabial folds, :func:`nose_zone`).
"""
from __future__ import annotations

import functools
import logging

import cv2
import numpy as np

from common.ibug68 import inner_lip_gap  # re-exported (was defined here)

from .geometry import head_ring

__all__ = [
    "LINE_METHODS",
    "CLEANUP_MIN_AREA",
    "CLEANUP_MIN_EXTENT",
    "CLEANUP_MAX_DARKEST",
    "FEATURE_MAX_DARKEST",
    "FEATURE_MIN_AREA",
    "nose_zone",
    "line_drawing",
    "clean_components",
    "cartoonize",
    "foreground_mask",
    "catmull_rom",
    "landmark_strokes",
    "inner_lip_gap",
    "draw_inner_mouth",
    "draw_open_mouth",
    "MOUTH_STYLES",
    "erase_inner_mouth",
]

log = logging.getLogger(__name__)

LINE_METHODS = ("fdog", "xdog")
# Clean-up thresholds at 512 px (area scales with s², extent with s).
CLEANUP_MIN_AREA = 60.0
CLEANUP_MIN_EXTENT = 10.0
CLEANUP_MAX_DARKEST = 0.35  # a component whose darkest pixel is lighter than this is dropped
# Around the nose wings and the nasolabial folds the photo's edges are weak: shorter and
# fainter lines are kept there (:func:`nose_zone`) so that the nose does not vanish.
FEATURE_MAX_DARKEST = 0.85
FEATURE_MIN_AREA = 15.0

# XDoG constants (intensities in [0, 1]).
_SIGMA_E, _K, _TAU, _EPS, _PHI = 1.2, 1.6, 0.99, -0.0015, 200.0
_SIGMA_C, _SIGMA_M = 2.5, 4.0  # structure-tensor smoothing, flow smoothing (px at 512)
_TONE = (0.05, 0.8)


def _check_photo(photo: np.ndarray) -> np.ndarray:
    arr = np.asarray(photo)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] != arr.shape[1] or arr.dtype != np.uint8:
        raise ValueError(f"photo must be a square (H, H, 3) uint8 RGB image; got {arr.shape} {arr.dtype}")
    return arr


def _check_landmarks(landmarks: np.ndarray) -> np.ndarray:
    arr = np.asarray(landmarks, dtype=np.float32)
    if arr.shape != (68, 2):
        raise ValueError(f"landmarks must have shape (68, 2); got {arr.shape}")
    return arr


def _check_size(size: int) -> int:
    if int(size) < 16:
        raise ValueError(f"size must be at least 16; got {size}")
    return int(size)


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    if img.shape[0] == size:
        return img
    interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(img, (size, size), interpolation=interp)


def _gauss_weights(offsets: np.ndarray, sigma: float) -> np.ndarray:
    w = np.exp(-0.5 * (offsets / sigma) ** 2)
    return w / w.sum()


def _soft_threshold(d: np.ndarray) -> np.ndarray:
    """XDoG: white where ``d ≥ ε``, a tanh ramp to black below."""
    out = 1.0 + np.tanh(_PHI * (d - _EPS))
    np.putmask(out, d >= _EPS, 1.0)
    return out


def _xdog_response(grey: np.ndarray, s: float) -> np.ndarray:
    sig = _SIGMA_E * s
    g1 = cv2.GaussianBlur(grey, (0, 0), sig)
    g2 = cv2.GaussianBlur(grey, (0, 0), sig * _K)
    return g1 - _TAU * g2


def _tangent_field(grey: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit edge tangents (tx, ty) from the smoothed structure tensor (minor eigenvector)."""
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    sc = _SIGMA_C * s
    e = cv2.GaussianBlur(gx * gx, (0, 0), sc)
    f = cv2.GaussianBlur(gx * gy, (0, 0), sc)
    g = cv2.GaussianBlur(gy * gy, (0, 0), sc)
    theta = 0.5 * np.arctan2(2.0 * f, e - g)  # gradient orientation
    return (-np.sin(theta)).astype(np.float32), np.cos(theta).astype(np.float32)


def _fdog_response(grey: np.ndarray, s: float) -> np.ndarray:
    n = grey.shape[0]
    tx, ty = _tangent_field(grey, s)
    nx, ny = ty, -tx  # across the edge (gradient direction)
    xs = np.arange(n, dtype=np.float32)
    gx_, gy_ = np.meshgrid(xs, xs)
    sig = _SIGMA_E * s
    reach = int(np.ceil(3.0 * sig * _K))
    offs = np.arange(-reach, reach + 1, dtype=np.float64)
    w = _gauss_weights(offs, sig) - _TAU * _gauss_weights(offs, sig * _K)
    h = grey * np.float32(w[reach])
    mx, my = np.empty_like(grey), np.empty_like(grey)
    sample = np.empty_like(grey)
    for o, wk in zip(offs, w):
        if o == 0:
            continue
        cv2.scaleAdd(nx, float(o), gx_, dst=mx)
        cv2.scaleAdd(ny, float(o), gy_, dst=my)
        cv2.remap(grey, mx, my, cv2.INTER_LINEAR, dst=sample, borderMode=cv2.BORDER_REFLECT)
        cv2.scaleAdd(sample, float(wk), h, dst=h)
    # Line-integral smoothing along the flow: follow the streamline both ways in steps of
    # ~2 px at 512 (1 px at 256), re-reading the tangent at every step.
    sm = _SIGMA_M * s
    step = max(1.0, round(2.0 * s))
    steps = int(np.ceil(2.5 * sm / step))
    wts = np.exp(-0.5 * (np.arange(steps + 1) * step / sm) ** 2)
    acc = h * np.float32(wts[0])
    total = float(wts[0])
    tfield = np.dstack([tx, ty])
    t = np.empty_like(tfield)
    for sign in (1.0, -1.0):
        px, py = gx_.copy(), gy_.copy()
        dx, dy = tx * np.float32(sign * step), ty * np.float32(sign * step)
        for k in range(1, steps + 1):
            px += dx
            py += dy
            cv2.remap(h, px, py, cv2.INTER_LINEAR, dst=sample, borderMode=cv2.BORDER_REFLECT)
            cv2.scaleAdd(sample, float(wts[k]), acc, dst=acc)
            total += float(wts[k])
            if k == steps:
                break
            cv2.remap(tfield, px, py, cv2.INTER_LINEAR, dst=t, borderMode=cv2.BORDER_REFLECT)
            ux, uy = cv2.split(t)
            # The tangent field has no sign: keep heading the way we came.
            sgn = np.sign(ux * dx + uy * dy)
            sgn[sgn == 0] = 1.0
            sgn *= np.float32(step)
            np.multiply(ux, sgn, out=dx)
            np.multiply(uy, sgn, out=dy)
    return acc / np.float32(total)


def clean_components(
    drawing: np.ndarray,
    min_area: float = CLEANUP_MIN_AREA,
    min_extent: float = CLEANUP_MIN_EXTENT,
    max_darkest: float = CLEANUP_MAX_DARKEST,
    feature: np.ndarray | None = None,
    feature_area: float = FEATURE_MIN_AREA,
    feature_darkest: float = FEATURE_MAX_DARKEST,
) -> np.ndarray:
    """Turn small or faint non-white components of a uint8 grey drawing white.

    A component (8-connected pixels < 255) is kept only when its area ≥ ``min_area``,
    its bounding-box extent (max of width, height) ≥ ``min_extent`` and its darkest pixel
    ≤ ``max_darkest`` × 255. A component touching the boolean mask ``feature`` needs only
    area ≥ ``feature_area`` and darkest ≤ ``feature_darkest`` × 255. Thresholds are in
    pixels of ``drawing``. Returns a new array.
    """
    img = np.asarray(drawing)
    if img.ndim != 2 or img.dtype != np.uint8:
        raise ValueError(f"drawing must be a (H, W) uint8 image; got {img.shape} {img.dtype}")
    dark = (img < 255).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    out = img.copy()
    if n <= 1:
        return out
    # "darkest pixel ≤ threshold" ⇔ the component holds at least one core pixel.
    has_core = np.bincount(labels[img <= max_darkest * 255], minlength=n) > 0
    area = stats[:, cv2.CC_STAT_AREA]
    extent = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    lut = (area < min_area) | (extent < min_extent) | ~has_core
    if feature is not None:
        touches = np.bincount(labels[feature], minlength=n) > 0
        faint_core = np.bincount(labels[img <= feature_darkest * 255], minlength=n) > 0
        lut_feature = (area < feature_area) | (extent < min_extent) | ~faint_core
        lut = np.where(touches, lut_feature, lut)
    lut[0] = False
    out[lut[labels]] = 255
    return out


def nose_zone(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Boolean (size, size) mask of the nose wings and nasolabial folds.

    The convex hull of the lower nose (29–35) and the mouth corners (48, 54), grown by
    half the nose width — landmarks in output pixels — is the region where faint lines
    survive the clean-up.
    """
    lms = _check_landmarks(landmarks)
    mask = np.zeros((size, size), np.uint8)
    hull = cv2.convexHull(np.round(lms[[29, 31, 32, 33, 34, 35, 48, 54]]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    r = int(round(0.5 * float(np.linalg.norm(lms[35] - lms[31]))))
    if r > 0:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return mask > 0


def line_drawing(
    photo_rgb: np.ndarray,
    landmarks: np.ndarray,
    size: int,
    method: str = "fdog",
    strokes: bool = False,
) -> np.ndarray:
    """Black-on-white line drawing of an aligned portrait.

    Args:
        photo_rgb: (H, H, 3) uint8 RGB photo (the 512-px aligned photo).
        landmarks: (68, 2) landmarks in ``photo_rgb`` pixels (used for the strokes).
        size: output side length.
        method: ``"fdog"`` (coherent, ~60 ms at 512) or ``"xdog"`` (fast, scratchier).
        strokes: also draw :func:`landmark_strokes` (the renderer draws them per frame instead).

    Returns:
        uint8 (size, size), 255 = paper.
    """
    photo = _check_photo(photo_rgb)
    lms = _check_landmarks(landmarks)
    size = _check_size(size)
    if method not in LINE_METHODS:
        raise ValueError(f"method must be one of {LINE_METHODS}; got {method!r}")
    s = size / 512.0
    grey = cv2.cvtColor(_resize(photo, size), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    d = max(3, int(round(7 * s)) | 1)
    grey = cv2.bilateralFilter(grey, d, 0.1, 3.0 * s)
    resp = _fdog_response(grey, s) if method == "fdog" else _xdog_response(grey, s)
    v = _soft_threshold(resp)
    lo, hi = _TONE
    v = np.clip((v - lo) / (hi - lo), 0.0, 1.0)
    u8 = np.round(v * 255.0).astype(np.uint8)
    zone = nose_zone(lms * np.float32(size / photo.shape[1]), size)
    out = clean_components(u8, CLEANUP_MIN_AREA * s * s, CLEANUP_MIN_EXTENT * s, CLEANUP_MAX_DARKEST,
                           feature=zone, feature_area=FEATURE_MIN_AREA * s * s)
    if strokes:
        landmark_strokes(out, lms * np.float32(size / photo.shape[1]))
    return out


def cartoonize(photo_rgb: np.ndarray, landmarks: np.ndarray, size: int, method: str = "fdog") -> np.ndarray:
    """Cel-shaded colour portrait: edge-preserving smoothing, soft Lab quantisation, line outlines.

    Returns uint8 (size, size, 3) RGB. Landmarks as for :func:`line_drawing`.
    """
    photo = _check_photo(photo_rgb)
    size = _check_size(size)
    s = size / 512.0
    img = _resize(photo, size)
    smooth = cv2.edgePreservingFilter(img, flags=cv2.RECURS_FILTER, sigma_s=40.0 * s, sigma_r=0.35)
    lab = cv2.cvtColor(smooth.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    # L in [0, 100]: 6 flat bands joined by steep tanh steps (a hard floor would alias).
    step = 100.0 / 6.0
    q = lab[..., 0] / step
    base = np.floor(q)
    frac = q - base
    lab[..., 0] = np.clip((base + 0.5 + 0.5 * np.tanh(8.0 * (frac - 0.5)) / np.tanh(4.0)) * step - step / 2, 0, 100)
    lab[..., 1:] = np.round(lab[..., 1:] / 6.0) * 6.0
    rgb = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    lines = line_drawing(photo, landmarks, size, method=method).astype(np.float32) / 255.0
    out = rgb * lines[..., None]
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


def foreground_mask(photo_rgb: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    """Weight-free face + hair (+ neck and shoulders) foreground estimate in [0, 1].

    A stand-in for the MODNet portrait matte of the original system (no weights needed):
    ``cv2.grabCut`` on a 128-px copy, seeded with the landmarks' convex hull (eroded) and a
    neck band below the chin as sure foreground, the ellipse of :func:`head_ring` and the
    region under the chin as probable foreground, and the top and side borders above the
    chin as sure background. The hard result is upsampled and blurred into a soft edge.
    Deterministic (OpenCV's RNG is re-seeded). Returns float32 (size, size).
    """
    photo = _check_photo(photo_rgb)
    lms = _check_landmarks(landmarks)
    size = _check_size(size)
    work = 128
    small = _resize(photo, work)
    p = lms * np.float32(work / photo.shape[1])
    mask = np.full((work, work), cv2.GC_PR_BGD, np.uint8)
    ring = head_ring(p, 24)
    cv2.fillPoly(mask, [np.round(ring).astype(np.int32)], cv2.GC_PR_FGD)
    chin_y = float(p[8, 1])
    jaw_w = float(np.linalg.norm(p[16] - p[0]))
    # Below the chin the body reaches the bottom edge: probable foreground between the shoulders.
    x0, x1 = int(max(0, p[0, 0] - 0.6 * jaw_w)), int(min(work, p[16, 0] + 0.6 * jaw_w))
    mask[int(max(0, chin_y)):, x0:x1] = cv2.GC_PR_FGD
    band = max(2, work // 32)
    top_side = mask[: int(max(0, min(work, chin_y)))]
    top_side[:band] = cv2.GC_BGD
    top_side[:, :band] = cv2.GC_BGD
    top_side[:, -band:] = cv2.GC_BGD
    hull = cv2.convexHull(np.round(p).astype(np.int32))
    fg = np.zeros_like(mask)
    cv2.fillConvexPoly(fg, hull, 1)
    fg = cv2.erode(fg, np.ones((3, 3), np.uint8), iterations=max(1, work // 64))
    neck_w = 0.25 * jaw_w
    cx = float(p[8, 0])
    cv2.rectangle(fg, (int(cx - neck_w), int(chin_y)), (int(cx + neck_w), int(min(work - 1, chin_y + 0.3 * jaw_w))), 1, -1)
    mask[fg > 0] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(small, mask, None, bgd, fgd, 4, cv2.GC_INIT_WITH_MASK)
    except cv2.error as exc:  # degenerate colour models (e.g. a flat image): keep the seeds
        log.debug("grabCut failed (%s); using the seed mask", exc)
    hard = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.float32)
    # Keep only the component(s) touching the face.
    n, labels = cv2.connectedComponents(hard.astype(np.uint8), connectivity=8)
    if n > 2:
        keep = np.unique(labels[fg > 0])
        hard = np.isin(labels, keep[keep > 0]).astype(np.float32)
    soft = cv2.resize(hard, (size, size), interpolation=cv2.INTER_LINEAR)
    soft = cv2.GaussianBlur(soft, (0, 0), 1.5 * size / 256.0)
    return np.clip(soft, 0.0, 1.0).astype(np.float32)


# ------------------------------------------------------------------- per-frame strokes

@functools.lru_cache(maxsize=8)
def _cr_basis(samples: int) -> np.ndarray:
    """(samples, 4) uniform Catmull-Rom weights for t in [0, 1)."""
    t = np.linspace(0.0, 1.0, samples, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    return np.hstack([
        -0.5 * t3 + t2 - 0.5 * t,
        1.5 * t3 - 2.5 * t2 + 1.0,
        -1.5 * t3 + 2.0 * t2 + 0.5 * t,
        0.5 * t3 - 0.5 * t2,
    ]).astype(np.float32)


def catmull_rom(points: np.ndarray, samples: int = 6, closed: bool = False) -> np.ndarray:
    """Uniform Catmull-Rom spline through ``points`` (K, 2): float32 (M, 2).

    Passes through every point; ``samples`` points per segment; ``closed`` wraps around.
    Coincident points (a closed eye) are fine: the uniform form never divides by distances.
    """
    p = np.asarray(points, dtype=np.float32)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) < 2:
        raise ValueError(f"points must have shape (K>=2, 2); got {p.shape}")
    if closed:
        ext = np.concatenate([p[-1:], p, p[:2]])
    else:
        ext = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
    nseg = len(ext) - 3
    pts = _cr_segments(_cr_basis(samples), [ext[i:i + nseg] for i in range(4)]).reshape(-1, 2)
    if not closed:
        pts = np.concatenate([pts, p[-1:]])
    return pts


def _cr_segments(basis: np.ndarray, windows: list[np.ndarray]) -> np.ndarray:
    """(nseg, samples, 2) float32 spline points: ``sum_k basis[s, k] · windows[k][n]``.

    Summed in float32 from k = 0 up, which is what ``einsum("sk,nkd->nsd")`` did (bit for bit), without
    stacking the windows.
    """
    out = basis[:, 0, None] * windows[0][:, None]
    for k in (1, 2, 3):
        out += basis[:, k, None] * windows[k][:, None]
    return out


# (indices, grey level, thickness at 512 px)
_STROKES: tuple[tuple[tuple[int, ...], int, float], ...] = (
    ((36, 37, 38, 39), 25, 2.0),          # upper lids: dark, 2 px
    ((42, 43, 44, 45), 25, 2.0),
    ((39, 40, 41, 36), 185, 1.0),         # lower lids: light
    ((45, 46, 47, 42), 185, 1.0),
    ((31, 32, 33, 34, 35), 95, 1.0),      # nose base
    ((56, 57, 58), 175, 1.0),             # lower-lip hint
    ((60, 61, 62, 63, 64), 45, 1.5),      # inner lips (the closed mouth's only line)
    ((64, 65, 66, 67, 60), 45, 1.5),
)


_STROKES_LIGHT_FIRST = tuple(sorted(_STROKES, key=lambda st: -st[1]))


class _SplinePlan:
    """Open Catmull-Rom splines (6 samples a segment) through several landmark index tuples, all at once.

    ``curves16(lms)`` equals ``[np.round(catmull_rom(lms[list(idx)]) * 16).astype(np.int32) for idx in strokes]``
    bit for bit (the same float32 operations on every element), with a few numpy calls instead of
    a dozen per stroke.
    """

    def __init__(self, strokes: tuple[tuple[tuple[int, ...], int, float], ...], samples: int = 6) -> None:
        idx = [list(st[0]) for st in strokes]
        self.rows = np.concatenate(idx)  # landmark rows, stroke after stroke
        n_p, n_s = len(self.rows), len(idx)
        starts = np.cumsum([0] + [len(i) for i in idx])[:-1]
        self.first, self.second = starts, starts + 1
        self.last = starts + np.array([len(i) - 1 for i in idx])
        self.before_last = self.last - 1
        self.basis = _cr_basis(samples)
        # The extended sequences live in E = [points; start extrapolations; end extrapolations].
        windows: list[list[int]] = [[], [], [], []]
        gather: list[int] = []
        self.bounds: list[tuple[int, int]] = []
        n_seg_total = sum(len(i) - 1 for i in idx)
        seg = 0
        for j, ind in enumerate(idx):
            k = len(ind)
            ext = [n_p + j, *range(int(starts[j]), int(starts[j]) + k), n_p + n_s + j]
            for w in range(4):
                windows[w].extend(ext[w:w + k - 1])
            a = len(gather)
            gather.extend(range(seg * samples, (seg + k - 1) * samples))
            gather.append(n_seg_total * samples + int(self.last[j]))  # the spline ends on the last point
            self.bounds.append((a, len(gather)))
            seg += k - 1
        self.windows = [np.asarray(w) for w in windows]
        self.gather = np.asarray(gather)
        groups: list[tuple[tuple[int, float], list[int]]] = []
        for j, (_, level, width) in enumerate(strokes):
            if groups and groups[-1][0] == (level, width):
                groups[-1][1].append(j)
            else:
                groups.append(((level, width), [j]))
        self.groups = groups

    def curves16(self, lms: np.ndarray) -> list[np.ndarray]:
        """Per stroke, its spline through ``lms`` (68, 2) float32, in 1/16 px: int32 (M, 2)."""
        p = lms[self.rows]
        e = np.concatenate([p, 2 * p[self.first] - p[self.second], 2 * p[self.last] - p[self.before_last]])
        seg = _cr_segments(self.basis, [e[w] for w in self.windows]).reshape(-1, 2)
        full = np.round(np.concatenate([seg, p]) * 16).astype(np.int32)[self.gather]
        return [full[a:b] for a, b in self.bounds]


@functools.lru_cache(maxsize=1)
def _stroke_plan() -> _SplinePlan:
    return _SplinePlan(_STROKES_LIGHT_FIRST)


def _stroke_canvas(image: np.ndarray, landmarks: np.ndarray, pad: int):
    h, w = image.shape[:2]
    pts = landmarks[17:]
    x0 = int(max(0, np.floor(pts[:, 0].min()) - pad))
    y0 = int(max(0, np.floor(pts[:, 1].min()) - pad))
    x1 = int(min(w, np.ceil(pts[:, 0].max()) + pad + 1))
    y1 = int(min(h, np.ceil(pts[:, 1].max()) + pad + 1))
    return x0, y0, x1, y1


def landmark_strokes(image: np.ndarray, landmarks: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Darken ``image`` in place with anti-aliased feature strokes on ``landmarks``.

    Strokes: upper lids (dark, 2 px at 512), lower lids (light), nose base, a short
    lower-lip hint (56–58) and the inner lips; no brows, jaw or nose bridge (the
    drawing has the brows; the others look like a diagram). Strokes only darken: grey
    images take the minimum, RGB images are multiplied. ``scale`` = image side / 512
    by default. Returns ``image``.
    """
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError(f"image must be uint8 (H, W) or (H, W, 3); got {img.shape} {img.dtype}")
    lms = _check_landmarks(landmarks)
    s = img.shape[0] / 512.0 if scale is None else float(scale)
    x0, y0, x1, y1 = _stroke_canvas(img, lms, pad=4)
    if x1 <= x0 or y1 <= y0:
        return img
    canvas = np.full((y1 - y0, x1 - x0), 255, np.uint8)
    off = np.array([x0, y0], np.float32)
    plan = _stroke_plan()
    curves = plan.curves16(lms - off)
    # Lightest first: anti-aliased blending of a darker stroke over a lighter one only
    # darkens, so one canvas gives the per-pixel minimum of all strokes. Strokes of one
    # level and width share a call (polylines draws its curves one after the other).
    for (level, width), members in plan.groups:
        thick = max(1, int(round(width * s)))
        # Lighter where the 512-px stroke would be thicker than what we can draw.
        lvl = int(round(255 - (255 - level) * min(1.0, width * s / thick)))
        cv2.polylines(canvas, [curves[j] for j in members], False, lvl, thick, cv2.LINE_AA, 4)
    roi = img[y0:y1, x0:x1]
    if img.ndim == 2:
        np.minimum(roi, canvas, out=roi)
    else:  # multiply; where the canvas is white (most of it) that changes nothing, so skip those pixels
        ys, xs = np.nonzero(canvas < 255)
        roi[ys, xs] = (roi[ys, xs].astype(np.uint16) * canvas[ys, xs, None] // 255).astype(np.uint8)
    return img


def draw_inner_mouth(
    image: np.ndarray,
    landmarks: np.ndarray,
    interior: int | tuple[int, int, int],
    teeth: int | tuple[int, int, int],
    opacity: float = 1.0,
    tongue: int | tuple[int, int, int] | None = None,
) -> np.ndarray:
    """Fill the inner mouth (closed spline through 60–67) and an upper-teeth band, in place.

    The teeth band hangs from the upper inner lip, ``min(0.42 × gap, 0.11 × mouth width)``
    high, with a soft grey lower edge. The interior shades from ``interior`` under the
    teeth to ``tongue`` (default: 45 % of the way to white) at the lower lip, which reads
    as depth rather than a flat hole. ``opacity`` in [0, 1] fades the fill in as the
    mouth opens (no popping). Works on (H, W) grey or (H, W, 3) RGB uint8. Returns ``image``.
    """
    img = np.asarray(image)
    lms = _check_landmarks(landmarks)
    opacity = float(np.clip(opacity, 0.0, 1.0))
    if opacity <= 0.0:
        return img
    inner = lms[60:68]
    h, w = img.shape[:2]
    x0 = int(max(0, np.floor(inner[:, 0].min()) - 3))
    y0 = int(max(0, np.floor(inner[:, 1].min()) - 3))
    x1 = int(min(w, np.ceil(inner[:, 0].max()) + 4))
    y1 = int(min(h, np.ceil(inner[:, 1].max()) + 4))
    if x1 <= x0 or y1 <= y0:
        return img
    off = np.array([x0, y0], np.float32)
    loop = catmull_rom(inner - off, samples=6, closed=True)
    mouth = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mouth, [np.round(loop * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    gap = float(inner_lip_gap(lms))
    width = float(np.linalg.norm(lms[64] - lms[60]))
    band = min(0.42 * gap, 0.11 * width)
    upper = catmull_rom(lms[60:65] - off, samples=6)
    lower_edge = upper + np.array([0.0, band], np.float32)
    teeth_poly = np.concatenate([upper, lower_edge[::-1]])
    tmask = np.zeros_like(mouth)
    cv2.fillPoly(tmask, [np.round(teeth_poly * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    edge = np.zeros_like(mouth)
    cv2.polylines(edge, [np.round(lower_edge * 16).astype(np.int32)], False, 255, 1, cv2.LINE_AA, 4)
    roi = img[y0:y1, x0:x1]
    a_mouth = mouth.astype(np.float32) * (opacity / 255.0)
    a_teeth = np.minimum(tmask, mouth).astype(np.float32) / 255.0
    a_edge = np.minimum(edge, mouth).astype(np.float32) / 255.0 * 0.6
    col_i = np.asarray(interior, np.float32)
    col_t = np.asarray(teeth, np.float32)
    col_e = col_t * 0.55
    ys = np.arange(y1 - y0, dtype=np.float32)[:, None] + y0
    top, bottom = float(lms[[61, 62, 63], 1].mean()) + band, float(lms[[65, 66, 67], 1].mean())
    ramp = np.clip((ys - top) / max(bottom - top, 1.0), 0.0, 1.0) ** 2
    ramp = np.broadcast_to(ramp, mouth.shape)
    col_b = col_i + (255.0 - col_i) * 0.45 if tongue is None else np.asarray(tongue, np.float32)
    lift = col_b - col_i
    col_i = col_i + (lift * ramp[..., None] if img.ndim == 3 else lift * ramp)
    fill = col_i + (col_t - col_i) * (a_teeth[..., None] if img.ndim == 3 else a_teeth)
    fill = fill + (col_e - fill) * (a_edge[..., None] if img.ndim == 3 else a_edge)
    am = a_mouth[..., None] if img.ndim == 3 else a_mouth
    roi[...] = np.clip(roi + (fill - roi) * am + 0.5, 0, 255).astype(np.uint8)
    return img


# Open-mouth palettes: interior, teeth, tongue, outline (grey levels for the drawing, RGB for the cartoon).
MOUTH_STYLES: dict[str, dict[str, tuple[int, ...]]] = {
    "drawing": {"interior": (28,), "teeth": (252,), "tongue": (28,), "ink": (15,)},
    "cartoon": {"interior": (122, 28, 44), "teeth": (250, 248, 242), "tongue": (214, 96, 110), "ink": (58, 18, 24)},
}


def _smooth01(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def draw_open_mouth(image: np.ndarray, landmarks: np.ndarray, style: str = "drawing", opacity: float = 1.0,
                    scale: float | None = None) -> np.ndarray:
    """Draw the open mouth the way the style draws it, in place.

    ``drawing``: a flat dark interior inside bold ink lip lines, and the upper teeth as a white
    band (with an ink edge) once the gap is wide. ``cartoon``: flat colours, a pink-red mouth
    with a clear row of white upper teeth and a flat tongue, inside a dark outline. The
    interior is the closed spline through 60–67; the teeth band hangs from the upper inner
    lip. For a small gap (an f or v: lower lip under the teeth) the band fills most of it.
    Every size and opacity is a smooth function of the landmarks, so nothing pops between
    frames. ``scale`` = image side / 512 by default. Returns ``image``.
    """
    img = np.asarray(image)
    lms = _check_landmarks(landmarks)
    if style not in MOUTH_STYLES:
        raise ValueError(f"style must be one of {sorted(MOUTH_STYLES)}; got {style!r}")
    opacity = float(np.clip(opacity, 0.0, 1.0))
    if opacity <= 0.0:
        return img
    pal = MOUTH_STYLES[style]
    s = img.shape[0] / 512.0 if scale is None else float(scale)
    inner = lms[60:68]
    h, w = img.shape[:2]
    pad = int(np.ceil(4 * s)) + 3
    x0 = int(max(0, np.floor(inner[:, 0].min()) - pad))
    y0 = int(max(0, np.floor(inner[:, 1].min()) - pad))
    x1 = int(min(w, np.ceil(inner[:, 0].max()) + pad + 1))
    y1 = int(min(h, np.ceil(inner[:, 1].max()) + pad + 1))
    if x1 <= x0 or y1 <= y0:
        return img
    off = np.array([x0, y0], np.float32)
    loop = catmull_rom(inner - off, samples=8, closed=True)
    loop16 = np.round(loop * 16).astype(np.int32)
    shape = (y1 - y0, x1 - x0)
    mouth = np.zeros(shape, np.uint8)
    cv2.fillPoly(mouth, [loop16], 255, cv2.LINE_AA, 4)
    gap = float(inner_lip_gap(lms))
    width = float(np.linalg.norm(lms[64] - lms[60]))
    # Teeth: nearly the whole gap when it is small (f, v), then a band of at most 0.13 × width.
    band = min(gap * (0.85 - 0.45 * _smooth01((gap - 4.0 * s) / (10.0 * s))), 0.13 * width)
    upper = catmull_rom(lms[60:65] - off, samples=8)
    lower_edge = upper + np.array([0.0, band], np.float32)
    ink_w = 2.6 if style == "drawing" else 1.8
    tmask = np.zeros(shape, np.uint8)
    cv2.fillPoly(tmask, [np.round(np.concatenate([upper, lower_edge[::-1]]) * 16).astype(np.int32)], 255,
                 cv2.LINE_AA, 4)
    a_mouth = mouth.astype(np.float32) / 255.0
    a_teeth = np.minimum(tmask, mouth).astype(np.float32) / 255.0
    layers = [(pal["interior"], a_mouth)]
    if style == "cartoon":
        # A flat tongue: the lower part of the opening, in from the corners.
        lower = catmull_rom(lms[[64, 65, 66, 67, 60]] - off, samples=8)
        cx = float(lower[:, 0].mean())
        tongue_top = lower.copy()
        tongue_top[:, 1] -= 0.3 * gap
        tongue_top[:, 0] = cx + 0.6 * (tongue_top[:, 0] - cx)
        tpoly = np.concatenate([lower, tongue_top[::-1]])
        tg = np.zeros(shape, np.uint8)
        cv2.fillPoly(tg, [np.round(tpoly * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
        a_tongue = np.minimum(tg, mouth).astype(np.float32) / 255.0 * _smooth01((gap - 8.0 * s) / (10.0 * s))
        layers.append((pal["tongue"], a_tongue))
    layers.append((pal["teeth"], a_teeth))
    # Ink: (drawing) the teeth's lower edge, and a bold line round the opening. On a small gap
    # (an f or v) the line leaves the teeth showing under the upper lip; it covers them gradually
    # as the mouth opens.
    if style == "drawing":
        edge = np.zeros(shape, np.uint8)
        cv2.polylines(edge, [np.round(lower_edge * 16).astype(np.int32)], False, 255,
                      max(1, int(round(1.2 * s))), cv2.LINE_AA, 4)
        layers.append((pal["ink"], np.minimum(edge, mouth).astype(np.float32) / 255.0
                       * _smooth01((gap - 6.0 * s) / (6.0 * s))))
    loop_ink = np.zeros(shape, np.uint8)
    cv2.polylines(loop_ink, [loop16], True, 255, max(1, int(round(ink_w * s))), cv2.LINE_AA, 4)
    wide = _smooth01((gap - 6.0 * s) / (8.0 * s))
    a_ink = loop_ink.astype(np.float32) / 255.0 * _smooth01(gap / (6.0 * s)) * (1.0 - a_teeth * (1.0 - wide))
    layers.append((pal["ink"], a_ink))
    # Every layer lies inside the opening or its outline; pixels outside both keep their value
    # (a zero alpha blends to the same byte), so only their bounding box is blended.
    bx, by, bw, bh = cv2.boundingRect(cv2.bitwise_or(mouth, loop_ink))
    if bw == 0 or bh == 0:
        return img
    box = (slice(by, by + bh), slice(bx, bx + bw))
    y0, x0 = y0 + by, x0 + bx
    roi = img[y0:y0 + bh, x0:x0 + bw].astype(np.float32)
    cover = np.zeros((bh, bw), np.float32)
    out = roi.copy()
    for colour, alpha_full in layers:
        rgb = np.asarray(colour, np.float32)
        alpha = alpha_full[box]
        if img.ndim == 2:
            out = out + (np.float32(rgb.mean()) - out) * alpha
        else:
            out = out + (rgb - out) * alpha[..., None]
        cover = np.maximum(cover, alpha)
    a = cover * opacity
    res = roi + (out - roi) * (a if img.ndim == 2 else a[..., None])
    img[y0:y0 + bh, x0:x0 + bw] = np.clip(res + 0.5, 0, 255).astype(np.uint8)
    return img


def erase_inner_mouth(image: np.ndarray, landmarks: np.ndarray, grow: float = 3.0) -> np.ndarray:
    """Paint over the photo's own mouth interior (teeth, tongue), in place.

    The closed spline through 60–67, grown by ``grow`` px, is blended to paper white
    (grey images) or to the median lip colour between the outer and inner lips (RGB).
    The renderer draws its own interior per frame, so a smiling source photo can close
    its mouth without leaving teeth behind. Returns ``image``.
    """
    img = np.asarray(image)
    lms = _check_landmarks(landmarks)
    h, w = img.shape[:2]
    pad = int(np.ceil(grow)) + 4
    x0 = int(max(0, np.floor(lms[48:68, 0].min()) - pad))
    y0 = int(max(0, np.floor(lms[48:68, 1].min()) - pad))
    x1 = int(min(w, np.ceil(lms[48:68, 0].max()) + pad + 1))
    y1 = int(min(h, np.ceil(lms[48:68, 1].max()) + pad + 1))
    if x1 <= x0 or y1 <= y0:
        return img
    off = np.array([x0, y0], np.float32)
    inner = np.zeros((y1 - y0, x1 - x0), np.uint8)
    loop = catmull_rom(lms[60:68] - off, samples=6, closed=True)
    cv2.fillPoly(inner, [np.round(loop * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    k = 2 * int(round(grow)) + 1
    if k > 1:
        inner = cv2.dilate(inner, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    alpha = cv2.GaussianBlur(inner, (0, 0), 0.7).astype(np.float32) / 255.0
    roi = img[y0:y1, x0:x1]
    if img.ndim == 2:
        colour = np.float32(255.0)
        a = alpha
    else:
        outer = np.zeros_like(inner)
        cv2.fillPoly(outer, [np.round(catmull_rom(lms[48:60] - off, closed=True) * 16).astype(np.int32)], 255,
                     cv2.LINE_8, 4)
        lip = (outer > 0) & (inner == 0) & (roi.mean(axis=2) > 80)
        colour = np.median(roi[lip], axis=0).astype(np.float32) if lip.sum() >= 10 else \
            np.median(roi.reshape(-1, 3), axis=0).astype(np.float32)
        a = alpha[..., None]
    roi[...] = np.clip(roi + (colour - roi) * a + 0.5, 0, 255).astype(np.uint8)
    return img
