"""Landmark geometry of the test path: pure numpy/torch functions.

Conventions: landmarks are ``(68, 2)`` float32 arrays of (x, y) pixel coordinates,
x right, y down, iBUG-68 order. Landmark maps are ``(1, S, S)`` float32 in {-1, +1}.
Sampling grids are ``(S, S, 2)`` float32 holding normalised (x, y) in [-1, 1] with the
``align_corners=True`` convention (pixel ``p`` ↦ ``p / ((S-1)/2) - 1``).
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from scipy.interpolate import griddata

__all__ = [
    "FACE_LMARK_LOOKUP",
    "BORDER_POINTS_256",
    "trans_lm",
    "face_window",
    "draw_landmark_map",
    "cal_motion256",
    "kp_to_map",
    "flow_net_input",
    "postprocess_flow",
    "grid_warp",
]

#: The 64 contour segments (index pairs) used by op-1 landmark drawings and the lip-line loss.
FACE_LMARK_LOOKUP = np.array(
    [[48 + i, 48 + (i + 1) % 12] for i in range(11)] + [[59, 48]]
    + [[60 + i, 60 + (i + 1) % 8] for i in range(7)] + [[67, 60]]
    + [[27, 28], [28, 29], [29, 30], [30, 33], [31, 32], [32, 33], [33, 34], [34, 35]]
    + [[17, 18], [18, 19], [19, 20], [20, 21], [22, 23], [23, 24], [24, 25], [25, 26]]
    + [[36, 37], [37, 38], [38, 39], [39, 40], [40, 41], [36, 41]]
    + [[42, 43], [43, 44], [44, 45], [45, 46], [46, 47], [42, 47]]
    + [[i, i + 1] for i in range(16)],
    dtype=np.int64,
)

#: The 8 control points (row, col) added at the frame border by ``cal_motion256``,
#: duplicates included exactly as the original lists them.
BORDER_POINTS_256 = np.array(
    [[0, 0], [255, 255], [0, 255], [255, 0], [0, 255], [255, 0], [255, 255], [255, 255]], dtype=np.float64
)


def trans_lm(
    points: np.ndarray,
    image_size: tuple[int, int] = (512, 512),
    load_size: int = 256,
    crop_pos: tuple[int, int] = (0, 0),
) -> np.ndarray:
    """Move (68, 2) landmarks of an ``image_size = (w, h)`` image into the resized, cropped frame.

    ``x ← x·load_size/w − tx``, ``y ← y·load_size/h − ty`` (float32).

    >>> trans_lm(np.full((68, 2), 100.0, np.float32))[0].tolist()
    [50.0, 50.0]
    """
    lm = np.array(points, dtype=np.float32, copy=True)
    if lm.shape != (68, 2):
        raise ValueError(f"points must have shape (68, 2); got {lm.shape}")
    w, h = image_size
    tx, ty = crop_pos
    lm[:, 0] = lm[:, 0] * load_size / w - tx
    lm[:, 1] = lm[:, 1] * load_size / h - ty
    return lm


def face_window(
    load_size: int = 256,
    crop_pos: tuple[int, int] = (0, 0),
    rx: float = 0.15,
    ry: float = 0.2,
    rs: float = 0.7,
) -> np.ndarray:
    """The face window ``[x1, x2, y1, y2]`` (int32) of a ``load_size`` frame cropped at ``crop_pos``.

    >>> face_window(256).tolist()
    [38, 217, 51, 230]
    """
    tx, ty = crop_pos
    side = int(round(rs * load_size))
    x1 = int(round(rx * load_size - tx))
    y1 = int(round(ry * load_size - ty))
    return np.array([x1, x1 + side, y1, y1 + side], dtype=np.int32)


def draw_landmark_map(points: np.ndarray, size: int = 256, radius: int = 3) -> np.ndarray:
    """(68, 2) landmarks → (1, size, size) float32 map: +1 on filled discs, −1 elsewhere.

    Centres are ``np.round`` (half to even) of the float coordinates; discs are
    drawn by ``cv2.circle`` (8-connected, filled), as the original ``draw2`` op 0.
    """
    img = np.zeros((size, size), np.uint8)
    for x, y in np.asarray(points):
        cv2.circle(img, (int(np.round(x)), int(np.round(y))), radius, 255, -1)
    return (img.astype(np.float32) / 255 * 2 - 1)[None]


def cal_motion256(src_68: np.ndarray, dst_68: np.ndarray, size: int = 256) -> np.ndarray:
    """Piecewise-linear (Delaunay) backward grid from target geometry ``dst_68`` to source ``src_68``.

    For every output pixel (row r, col c) of the target frame the returned
    ``grid[r, c] = (x_src, y_src)/127.5 − 1`` is where to sample the source image
    (``grid_sample(..., align_corners=True)``). Control points are the 68 landmarks
    plus :data:`BORDER_POINTS_256` (so no pixel falls outside the triangulation).

    Args:
        src_68, dst_68: (68, 2) (x, y) pixels in the ``size`` frame.
    Returns:
        (size, size, 2) float32.
    """
    src = np.asarray(src_68, dtype=np.float64)[:, ::-1]  # (row=y, col=x)
    dst = np.asarray(dst_68, dtype=np.float64)[:, ::-1]
    if src.shape != (68, 2) or dst.shape != (68, 2):
        raise ValueError(f"landmarks must have shape (68, 2); got {src.shape} and {dst.shape}")
    border = BORDER_POINTS_256 * ((size - 1) / 255.0)
    destination = np.concatenate([dst, border], axis=0)
    source = np.concatenate([src, border], axis=0)
    half = (size - 1) / 2.0
    gr, gc = np.mgrid[0 : size - 1 : complex(size), 0 : size - 1 : complex(size)]
    yx = griddata(destination, source, (gr, gc), method="linear")  # (size, size, 2) = (y_src, x_src)
    # Cast before normalising: the original divides in float32 (bit-parity with the fixtures).
    yx = yx.astype(np.float32)
    motion = np.empty((size, size, 2), np.float32)
    motion[..., 0] = yx[..., 1] / np.float32(half) - np.float32(1)
    motion[..., 1] = yx[..., 0] / np.float32(half) - np.float32(1)
    return motion


def kp_to_map(img_size: tuple[int, int], points: np.ndarray, radius: float = 4.0) -> np.ndarray:
    """Binary keypoint maps, one channel per point: 1 where ``(X−x)² + (Y−y)² ≤ radius²``.

    Args:
        img_size: ``(w, h)`` of the map; the pixel grid is X = 0…w−1, Y = 0…h−1.
        points: (K, 2) float (x, y); a point with x or y equal to −1 gives an empty channel.
    Returns:
        (K, h, w) float32.
    """
    w, h = img_size
    pts = np.asarray(points, dtype=np.float64)
    xs, ys = np.meshgrid(np.arange(w), np.arange(h), indexing="xy")
    out = np.zeros((len(pts), h, w), np.float32)
    for k, (x, y) in enumerate(pts):
        if x == -1 or y == -1:
            continue
        out[k] = ((xs - x) ** 2 + (ys - y) ** 2 <= radius**2).astype(np.float32)
    return out


def flow_net_input(src_68: torch.Tensor, dst_68: torch.Tensor) -> torch.Tensor:
    """The intrinsic-flow net's input: (B, 136, 224, 224) = cat(maps(src·7/8), maps(dst·7/8)).

    ``src_68``/``dst_68``: (B, 68, 2) landmarks in the 256 frame.
    """
    maps = []
    for s, d in zip(src_68, dst_68):
        j1 = kp_to_map((224, 224), (s[:68] * 7 / 8).detach().cpu().numpy())
        j2 = kp_to_map((224, 224), (d[:68] * 7 / 8).detach().cpu().numpy())
        maps.append(np.concatenate([j1, j2], axis=0))
    return torch.from_numpy(np.stack(maps)).to(src_68.device)


def postprocess_flow(
    flow_out: torch.Tensor, vis_out: torch.Tensor, size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flow-net outputs at 224 → ``(iw_flow, ifmask)`` at ``size``.

    Args:
        flow_out: (B, 2, 224, 224) raw flow (×20 gives pixels at 224; ch 0 = dx, 1 = dy).
        vis_out: (B, 3, 224, 224) visibility logits (0 visible, 1 invisible, 2 background).
    Returns:
        ``iw_flow`` (B, 2, size, size) target→source displacement in ``size`` pixels and
        ``ifmask`` (B, 1, size, size) in [0, 1] (bilinear, align_corners=True).
    """
    vis = vis_out.argmax(dim=1)
    mask = (vis < 2).float().unsqueeze(1)
    flow = flow_out * 20 * mask
    iw_flow = F.interpolate(flow * 8 / 7, (size, size), mode="bilinear", align_corners=True)
    ifmask = F.interpolate(mask, (size, size), mode="bilinear", align_corners=True)
    return iw_flow, ifmask


def grid_warp(image: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` (B, C, H, W) at ``motion`` (B, H, W, 2): bilinear, zeros, align_corners=True."""
    return F.grid_sample(image, motion, mode="bilinear", padding_mode="zeros", align_corners=True)
