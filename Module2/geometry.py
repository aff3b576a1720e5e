"""Fast 2-D warps for the weight-free renderer: similarity fits, a head ring and a piecewise-affine mesh warp.

Conventions: points are ``(x, y)`` pixel coordinates, x right, y down, pixel centres
at integers (pixel ``(0, 0)`` covers ``[-0.5, 0.5]²``); arrays of points are ``(N, 2)``
float32. Landmarks are iBUG-68 ordered. Every function here is pure (no I/O, no globals
that change); :class:`PiecewiseAffineWarp` keeps only per-instance work buffers.

>>> import numpy as np
>>> src = np.array([[0, 0], [10, 0], [0, 10]], np.float32)
>>> m = similarity_transform(src, src * 2 + 3)
>>> np.allclose(m, [[2, 0, 3], [0, 2, 3]], atol=1e-5)
True
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

__all__ = [
    "STABLE_POINTS",
    "similarity_transform",
    "apply_transform",
    "similarity_transforms",
    "apply_transforms",
    "head_ring",
    "jaw_anchors",
    "JAW_ANCHORED",
    "border_points",
    "PiecewiseAffineWarp",
]

# Landmarks that move rigidly with the skull (jaw top, brows, nose, eye corners): the
# per-frame similarity of these carries the head ring, so speech (jaw, lips) and blinks
# (lids) never tug the hair.
STABLE_POINTS: tuple[int, ...] = (
    0, 1, 15, 16,                              # upper jaw (2 and 14 follow the mouth a little)
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26,    # brows
    27, 28, 29, 30, 31, 32, 33, 34, 35,        # nose
    36, 39, 42, 45,                            # eye corners
)

_SHIFT = 4  # sub-pixel bits for cv2.fillConvexPoly
_NONE = 255  # triangle-id sentinel: pixel covered by no triangle (identity map)
_BAND_PX = 32768  # pixels per band of the banded warp
_INCREMENTAL_MAX = 0.6  # above this fraction of changed triangles a frame is warped whole


def _check_points(pts: np.ndarray, name: str, n: int | None = None) -> np.ndarray:
    arr = np.asarray(pts, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or (n is not None and arr.shape[0] != n):
        want = f"({n}, 2)" if n is not None else "(N, 2)"
        raise ValueError(f"{name} must have shape {want}; got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    return arr


def similarity_transform(src_pts: np.ndarray, dst_pts: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation; no reflection).

    Args:
        src_pts: (N, 2) points, N ≥ 2.
        dst_pts: (N, 2) corresponding points.

    Returns:
        float32 (2, 3) matrix ``M`` with ``dst ≈ M[:, :2] @ src + M[:, 2]`` (Umeyama 1991).
    """
    src = _check_points(src_pts, "src_pts")
    dst = _check_points(dst_pts, "dst_pts", src.shape[0])
    if src.shape[0] < 2:
        raise ValueError(f"similarity_transform needs at least 2 points; got shape {src.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var_s = float((s**2).sum()) / len(s)
    if var_s <= 1e-12:
        raise ValueError("src_pts are all identical; a similarity transform is undefined")
    cov = d.T @ s / len(s)
    u, sig, vt = np.linalg.svd(cov)
    flip = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        flip[1, 1] = -1.0
    rot = u @ flip @ vt
    scale = float(np.trace(np.diag(sig) @ flip)) / var_s
    out = np.empty((2, 3), np.float64)
    out[:, :2] = scale * rot
    out[:, 2] = mu_d - scale * rot @ mu_s
    return out.astype(np.float32)


def similarity_transforms(src_pts: np.ndarray, dst_pts: np.ndarray) -> np.ndarray:
    """:func:`similarity_transform` of one ``src_pts`` (N, 2) onto each of ``dst_pts`` (F, N, 2): float32 (F, 2, 3).

    Bit-identical to ``F`` single calls (the same operations, batched: every reduction and
    LAPACK/BLAS call sees each frame's data alone, in the same layout), without the per-call
    overhead. Inputs are not validated: the caller checked them.
    """
    src = np.asarray(src_pts, dtype=np.float64)
    dst = np.asarray(dst_pts, dtype=np.float64)
    n = len(src)
    mu_s, mu_d = src.mean(0), dst.mean(1)
    s, d = src - mu_s, dst - mu_d[:, None]
    var_s = float((s**2).sum()) / n
    if var_s <= 1e-12:
        raise ValueError("src_pts are all identical; a similarity transform is undefined")
    cov = np.swapaxes(d, 1, 2) @ s / n
    u, sig, vt = np.linalg.svd(cov)
    flip = np.zeros((len(dst), 2, 2))
    flip[:, 0, 0] = 1.0
    flip[:, 1, 1] = np.where(np.linalg.det(u) * np.linalg.det(vt) < 0, -1.0, 1.0)
    rot = u @ flip @ vt
    diag = np.zeros_like(flip)
    diag[:, 0, 0], diag[:, 1, 1] = sig[:, 0], sig[:, 1]
    scale = np.trace(diag @ flip, axis1=1, axis2=2) / var_s
    srot = scale[:, None, None] * rot
    out = np.empty((len(dst), 2, 3), np.float64)
    out[:, :, :2] = srot
    out[:, :, 2] = mu_d - srot @ mu_s
    return out.astype(np.float32)


def apply_transforms(matrices: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """:func:`apply_transform` of each (2, 3) matrix of ``matrices`` (F, 2, 3) to ``pts`` (N, 2): float32 (F, N, 2).

    Bit-identical to ``F`` single calls; inputs are not validated.
    """
    m = np.asarray(matrices, dtype=np.float64)
    p = np.asarray(pts, dtype=np.float64)
    return (p @ np.swapaxes(m[:, :, :2], 1, 2) + m[:, None, :, 2]).astype(np.float32)


def apply_transform(matrix: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine ``matrix`` to (N, 2) points; returns float32 (N, 2)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (2, 3):
        raise ValueError(f"matrix must have shape (2, 3); got {m.shape}")
    p = _check_points(pts, "pts")
    return (p @ m[:, :2].T + m[:, 2]).astype(np.float32)


def head_ring(source: np.ndarray, n: int = 12, size: int | None = None, margin: float = 0.02) -> np.ndarray:
    """``n`` points on an ellipse enclosing the head and hair, from 68 landmarks.

    The ellipse is aligned with the face (eye line = x axis), centred a quarter of the
    eye-to-chin distance above the eyes, with half-axes 0.9 × jaw width and 1.5 ×
    eye-to-chin distance, so that it clears typical hair and passes below the chin.
    The renderer moves it rigidly with the head (see :data:`STABLE_POINTS`).

    Args:
        source: (68, 2) landmarks in pixels.
        n: number of ring points (≥ 3), starting at the top, clockwise on screen.
        size: when given, points are clamped into the ``size × size`` frame, ``margin × size``
            px from its edges (a tight crop puts the top of the ring above the image; a ring
            point outside would leave the hair pinned to the fixed border points).

    Returns:
        float32 (n, 2).
    """
    p = _check_points(source, "source", 68)
    if n < 3:
        raise ValueError(f"head_ring needs n >= 3; got {n}")
    eyes_r, eyes_l = p[36:42].mean(0), p[42:48].mean(0)
    eye_c = (eyes_r + eyes_l) / 2
    ex = eyes_l - eyes_r
    ex = ex / max(np.linalg.norm(ex), 1e-6)
    ey = np.array([-ex[1], ex[0]])  # down on screen when the eyes are level
    jaw_w = float(np.linalg.norm(p[16] - p[0]))
    chin = float(np.dot(p[8] - eye_c, ey))
    centre = eye_c - 0.25 * chin * ey
    a, b = 0.9 * jaw_w, 1.5 * chin
    t = np.arange(n) * (2 * np.pi / n)
    pts = centre + np.outer(a * np.sin(t), ex) - np.outer(b * np.cos(t), ey)
    if size is not None:
        m = margin * size
        pts = np.clip(pts, m, size - 1 - m)
    return pts.astype(np.float32)


JAW_ANCHORED = tuple(range(3, 14))  # the jaw points that get an anchor outside them


def jaw_anchors(source: np.ndarray, distance: float | np.ndarray | None = None, size: int | None = None) -> np.ndarray:
    """Points just outside the lower jaw (:data:`JAW_ANCHORED`, 3–13), one per jaw point: float32 (11, 2).

    Each lies ``distance`` px (a scalar or one per point; default 0.35 × the eye distance) out
    from its jaw point along the contour's outward normal. Moved rigidly with the head while
    the jaw points follow the mouth, they confine the jaw's stretch to a thin band: the neck,
    the collar and hair beside the jaw no longer move as the mouth opens. ``size`` clamps
    them into the frame.
    """
    p = _check_points(source, "source", 68)
    jaw = p[:17]
    eye_d = float(np.linalg.norm(p[42:48].mean(0) - p[36:42].mean(0)))
    dist = np.broadcast_to(np.asarray(0.35 * eye_d if distance is None else distance, np.float64),
                           (len(JAW_ANCHORED),))
    centre = p[27:36].mean(0)  # the nose: inside the face whatever the pose
    out = []
    for d, i in zip(dist, JAW_ANCHORED):
        t = jaw[i + 1] - jaw[i - 1]
        n = np.array([t[1], -t[0]])
        n /= max(float(np.linalg.norm(n)), 1e-6)
        if np.dot(n, jaw[i] - centre) < 0:
            n = -n
        out.append(jaw[i] + d * n)
    pts = np.asarray(out)
    if size is not None:
        pts = np.clip(pts, 1.0, size - 2.0)
    return pts.astype(np.float32)


def border_points(size: int | tuple[int, int], per_side: int = 5) -> np.ndarray:
    """Fixed ``(x, y)`` points along the image border: float32 (4·(per_side−1), 2).

    ``size`` is the side of a square image or its ``(height, width)``. ``per_side`` points per
    edge, corners included, clockwise from the top-left corner; ``per_side=3`` gives the corners
    and the edge midpoints. (The TPS warp, which works in ``(y, x)``, swaps the columns.)
    """
    if per_side < 2:
        raise ValueError(f"per_side must be >= 2; got {per_side}")
    h, w = (size, size) if isinstance(size, int) else size
    ex, ey = w - 1.0, h - 1.0
    tx = np.linspace(0.0, ex, per_side)[:-1]
    ty = np.linspace(0.0, ey, per_side)[:-1]
    top = np.stack([tx, np.zeros_like(tx)], 1)
    right = np.stack([np.full_like(ty, ex), ty], 1)
    bottom = np.stack([ex - tx, np.full_like(tx, ey)], 1)
    left = np.stack([np.zeros_like(ty), ey - ty], 1)
    return np.concatenate([top, right, bottom, left]).astype(np.float32)


def _signed_area2(tri: np.ndarray) -> np.ndarray:
    """Twice the signed area of (T, 3, 2) triangles."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


class PiecewiseAffineWarp:
    """Backward piecewise-affine warp over a Delaunay mesh triangulated once on the source.

    Per frame, every destination triangle gets the affine that maps it onto its source
    triangle; a raster of triangle ids (``cv2.fillConvexPoly`` with sub-pixel vertices)
    selects, per pixel, the affine that gives the source position, and one ``cv2.remap``
    samples the image. Destination triangles of (near) zero area (a closed eye) or folded
    over (a lip pushed through its neighbour) are drawn first, so that the well-formed
    triangles around them win on every pixel they cover; pixels covered by no triangle
    keep the identity map.

    Args:
        src_points: (N, 2) control points in the source image (pixels).
        size: output side length (the source image is ``size × size`` too).

    >>> pts = np.array([[0, 0], [31, 0], [31, 31], [0, 31], [15, 16]], np.float32)
    >>> w = PiecewiseAffineWarp(pts, 32)
    >>> mx, my = w.map(pts)
    >>> float(abs(mx[10, 20] - 20)) < 1e-3 and float(abs(my[10, 20] - 10)) < 1e-3
    True
    """

    def __init__(self, src_points: np.ndarray, size: int) -> None:
        src = _check_points(src_points, "src_points")
        if src.shape[0] < 3:
            raise ValueError(f"src_points needs at least 3 points; got shape {src.shape}")
        if int(size) <= 0:
            raise ValueError(f"size must be positive; got {size}")
        self.size = int(size)
        self.src = src.astype(np.float32)
        # Coincident source points (e.g. touching inner lips) would be dropped by Qhull
        # and then could never move apart: triangulate on a copy with tiny, fixed nudges.
        tri_pts = src.copy()
        _, first, counts = np.unique(np.round(src, 3), axis=0, return_index=True, return_counts=True)
        if np.any(counts > 1):
            rng = np.random.default_rng(0)
            tri_pts = tri_pts + rng.uniform(-1e-2, 1e-2, tri_pts.shape)
        self.triangles = Delaunay(tri_pts).simplices.astype(np.int32)  # (T, 3)
        n_tri = len(self.triangles)
        self._small_ids = n_tri < _NONE
        s = self.size
        xs = np.arange(s, dtype=np.float32)
        dt = np.uint8 if self._small_ids else np.int32
        self._ids = np.empty((s, s), dt)
        self._lut = np.zeros((6, 256), np.float32)
        self._lut[:, _NONE] = (1, 0, 0, 0, 1, 0)  # no triangle: identity
        self._table = np.empty((0, 6), np.float32)
        # Work planes of the banded warp: _band_px pixels (~128 KB a plane), so that a band's map stays in cache.
        self._band_px = max(_BAND_PX, s)
        self._x = np.broadcast_to(xs[None, :], (s, s)).copy()
        self._ycol = xs[:, None].copy()
        n = self._band_px
        self._band_bufs = (np.empty(n, np.float32), np.empty(n, np.float32), [np.empty(n, np.float32) for _ in range(6)],
                           np.empty(n, np.float32))
        self._ref: tuple | None = None  # (image, border, table, ids, frame) of the last warp_tables call
        # Whole-image planes of map(), made on its first call.
        self._map_x: np.ndarray | None = None
        self._map_y: np.ndarray | None = None
        self._coef: list[np.ndarray] = []
        self._tmp = np.empty((0, 0), np.float32)
        # Source triangle corners, (T, 2, 3): columns are the 3 corners.
        self._src_tri = np.transpose(self.src.astype(np.float64)[self.triangles], (0, 2, 1))
        self._src_sign = np.where(_signed_area2(src[self.triangles]) < 0, -1.0, 1.0)

    @property
    def n_points(self) -> int:
        return int(self.src.shape[0])

    def affines(self, dst_points: np.ndarray) -> np.ndarray:
        """Per-triangle destination→source affines: float64 (T, 2, 3)."""
        dst = _check_points(dst_points, "dst_points", self.n_points)
        return self._affines(dst[None])[0]

    def _affines(self, dst: np.ndarray) -> np.ndarray:
        """:meth:`affines` of each of (F, N, 2) float64 point sets: (F, T, 2, 3), as F single calls would give."""
        d = dst[:, self.triangles]  # (F, T, 3, 2)
        # [x y 1] rows of the destination corners; A @ D^T = S  →  A = S @ inv(D^T).
        dh = np.concatenate([d, np.ones(d.shape[:3] + (1,))], axis=3)  # (F, T, 3, 3)
        dt = np.swapaxes(dh, 2, 3)
        det = np.linalg.det(dt)
        good = np.abs(det) > 1e-6
        inv = np.empty_like(dt)
        if np.any(good):
            inv[good] = np.linalg.inv(dt[good])
        if not np.all(good):
            # Collapsed triangle: the minimum-norm least-squares affine keeps values finite.
            inv[~good] = np.linalg.pinv(dt[~good])
        return self._src_tri @ inv

    def frame_tables(self, dst_points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What :meth:`map` needs of each of ``dst_points`` (F, N, 2), batched over the frames.

        Returns ``(table, bad, corners)``: float32 (F, T, 6) affines, bool (F, T) folded or
        collapsed triangles, int32 (F, T, 3, 2) fixed-point corners; frame ``f`` of them, given to
        :meth:`map_tables`, gives exactly ``map(dst_points[f])``. Points are not validated.
        """
        dst = np.asarray(dst_points, dtype=np.float64)
        table = self._affines(dst).reshape(len(dst), -1, 6).astype(np.float32)
        tri = dst[:, self.triangles]  # (F, T, 3, 2)
        # Twice the signed area, relative to the source orientation: ≤ 0 means the triangle
        # folded over (a lip pushed through its neighbour), ~0 that it collapsed.
        a, b, c = tri[:, :, 0], tri[:, :, 1], tri[:, :, 2]
        area2 = (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])
        bad = area2 * self._src_sign < 1.0
        corners = np.round(tri * (1 << _SHIFT)).astype(np.int32, order="C")  # fillConvexPoly wants contiguous rows
        return table, bad, corners

    def map(self, dst_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Backward maps for ``cv2.remap``: float32 ``(map_x, map_y)``, each (size, size).

        ``map_x[y, x], map_y[y, x]`` is the source position shown at destination pixel
        ``(x, y)``. The arrays are work buffers reused by the next call: copy them to keep.
        """
        dst = _check_points(dst_points, "dst_points", self.n_points)
        table, bad, corners = self.frame_tables(dst[None])
        return self.map_tables(table[0], bad[0], corners[0])

    def map_tables(self, table: np.ndarray, bad: np.ndarray, corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`map` from one frame of :meth:`frame_tables` (same work buffers)."""
        s = self.size
        if self._map_x is None:
            self._map_x, self._map_y = np.empty((s, s), np.float32), np.empty((s, s), np.float32)
            self._coef = [np.empty((s, s), np.float32) for _ in range(6)]
            self._tmp = np.empty((s, s), np.float32)
        assert self._map_y is not None
        self._raster(table, bad, corners)
        self._map_rows(0, s, self._map_x, self._map_y, self._coef, self._tmp)
        return self._map_x, self._map_y

    def warp_tables(self, image: np.ndarray, table: np.ndarray, bad: np.ndarray, corners: np.ndarray,
                    border_value: tuple[float, ...]) -> np.ndarray:
        """``warp(image, points, border_value)`` from one frame of :meth:`frame_tables`: a new array.

        Two shortcuts, neither of which changes a pixel: the map is made and used a band of rows
        at a time (it stays in the CPU cache); and when few triangles changed since the previous
        call on the same ``image`` (a still head), only the box of pixels whose triangle id or
        whose triangle's affine differs from that call is recomputed: every other pixel has the
        same map, so the same value. ``image`` is not checked and must not change between calls.
        """
        self._raster(table, bad, corners)
        s = self.size
        ref = self._ref
        changed = None
        if ref is not None and ref[0] is image and ref[1] == border_value:
            changed = np.any(table != ref[2], axis=1)
        few = changed is not None and changed.sum() <= _INCREMENTAL_MAX * len(table)
        if ref is None or ref[4] is None or changed is None or not few:
            out = np.empty_like(image)
            self._warp_box(image, border_value, out, 0, s, 0, s)
        else:
            out = ref[4].copy()
            ids, flags = self._ids, np.zeros(256 if self._small_ids else len(table) + 1, np.uint8)
            flags[: len(table)] = changed * np.uint8(255)
            if self._small_ids:  # pixels whose id differs from the previous call's, or whose affine does
                dirty = cv2.bitwise_or(cv2.compare(ids, ref[3], cv2.CMP_NE), cv2.LUT(ids, flags))
            else:
                dirty = ((ids != ref[3]) | (flags[ids] > 0)).astype(np.uint8)
            x, y, w, h = cv2.boundingRect(dirty)
            if w > 0 and h > 0:
                self._warp_box(image, border_value, out, y, y + h, x, x + w)
        # Keep this frame for the next call; while the head moves (many triangles changed) only its
        # affines, to notice when it stops, not the copies of the ids and the frame.
        self._ref = (image, border_value, table.copy(), self._ids.copy(), out.copy()) if few or ref is None \
            else (image, border_value, table.copy(), None, None)
        return out

    def _warp_box(self, image: np.ndarray, border_value: tuple[float, ...], out: np.ndarray,
                  y0: int, y1: int, x0: int, x1: int) -> None:
        """Warp the pixels ``[y0:y1, x0:x1]`` of ``out`` (the ids are drawn), a band of rows at a time."""
        w = x1 - x0
        rows = max(1, self._band_px // w)
        mx, my, coef, tmp = self._band_bufs
        for r0 in range(y0, y1, rows):
            n = min(rows, y1 - r0)
            k = n * w
            bx, by, bt = mx[:k].reshape(n, w), my[:k].reshape(n, w), tmp[:k].reshape(n, w)
            bc = [c[:k].reshape(n, w) for c in coef]
            self._map_rows(r0, r0 + n, bx, by, bc, bt, x0, x1)
            if w == self.size:  # whole rows: remap straight into the frame
                cv2.remap(image, bx, by, cv2.INTER_LINEAR, dst=out[r0:r0 + n], borderMode=cv2.BORDER_CONSTANT,
                          borderValue=border_value)
            else:
                out[r0:r0 + n, x0:x1] = cv2.remap(image, bx, by, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                                  borderValue=border_value)

    def _raster(self, table: np.ndarray, bad: np.ndarray, corners: np.ndarray) -> None:
        """Draw the triangle ids (and load the coefficient table) of one frame."""
        # Collapsed and folded triangles first: the well-formed ones around them win.
        order = np.concatenate([np.flatnonzero(bad), np.flatnonzero(~bad)]).tolist() if bad.any() \
            else range(len(table))
        ids = self._ids
        ids.fill(_NONE if self._small_ids else len(table))
        fill, tri, line8 = cv2.fillConvexPoly, list(corners), cv2.LINE_8
        for i in order:
            fill(ids, tri[i], i, line8, _SHIFT)
        if self._small_ids:
            self._lut[:, : len(table)] = table.T  # (6, 256): one row per coefficient
        else:
            self._table = np.concatenate([table, [[1, 0, 0, 0, 1, 0]]]).astype(np.float32)

    def _map_rows(self, r0: int, r1: int, mx: np.ndarray, my: np.ndarray, coef: list[np.ndarray], tmp: np.ndarray,
                  x0: int = 0, x1: int | None = None) -> None:
        """Map of the drawn ids at ``[r0:r1, x0:x1]`` into ``mx``, ``my`` (work planes ``coef``, ``tmp``)."""
        ids = self._ids[r0:r1, x0:x1]
        if self._small_ids:
            for k in range(6):
                cv2.LUT(ids, self._lut[k], dst=coef[k])
        else:  # more than 254 triangles: int32 ids and a numpy gather (slower, same maps)
            g = self._table[ids]
            for k in range(6):
                coef[k][...] = g[..., k]
        x, y = self._x[: r1 - r0, x0:x1], self._ycol[r0:r1]  # every row of _x is 0, 1, 2, ...
        # map_x = (c0·x + c1·y) + c2, map_y likewise, each step rounded to float32.
        np.multiply(coef[0], x, out=mx)
        np.multiply(coef[1], y, out=tmp)
        np.add(mx, tmp, out=mx)
        np.add(mx, coef[2], out=mx)
        np.multiply(coef[3], x, out=my)
        np.multiply(coef[4], y, out=tmp)
        np.add(my, tmp, out=my)
        np.add(my, coef[5], out=my)

    def warp(
        self,
        image: np.ndarray,
        dst_points: np.ndarray,
        border_value: float | tuple[float, ...] = 255,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Warp ``image`` (size, size[, C]) so that the source points land on ``dst_points``.

        Bilinear sampling; positions outside the source image read ``border_value``.
        ``out`` (same shape and dtype as ``image``) is filled in place when given.
        """
        img = np.asarray(image)
        if img.shape[:2] != (self.size, self.size):
            raise ValueError(f"image must be ({self.size}, {self.size}[, C]); got {img.shape}")
        mx, my = self.map(dst_points)
        if isinstance(border_value, (int, float)):
            border_value = (border_value,) * 4
        if out is None:
            return cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=border_value)
        if out.shape != img.shape or out.dtype != img.dtype:
            raise ValueError(f"out must match image {img.shape} {img.dtype}; got {out.shape} {out.dtype}")
        cv2.remap(img, mx, my, cv2.INTER_LINEAR, dst=out, borderMode=cv2.BORDER_CONSTANT,
                  borderValue=border_value)
        return out
