"""Training dataset ``umlvd_ifw`` (photo → line drawing).

Lists: ``<list_dir>/trainA/<dataroot>.txt`` (photo paths containing ``/Photo/``) and
``<list_dir>/trainB/<dataroot>.txt`` (drawing paths containing ``/Drawing/``); without
lists the folders ``<dataroot>/trainA`` and ``<dataroot>/trainB`` are walked. Every other
file is found by substring replacement of the image path (landmark dots ``/Alm/MTCNN/``,
landmarks ``/Alm_txt/MTCNN/*.txt``, masks ``/Amask/{nose,eyes,lips}/``, static stylisation
``/fakeB_static/``; ``/Blm/…``, ``/Blm_txt/…``, ``/Bmask/…`` for B). Drawing video clips
live in ``<B dir>/../scanner_frag_<k>_MTCNN/`` with ``<frame>_win.txt`` windows.

One geometric draw (resize to ``load_size``, crop ``crop_size`` keeping the face window,
flip) is shared by an image, its landmark image, masks and landmarks; a flip mirrors the
x coordinates and permutes the points with the iBUG mirror map.
"""
from __future__ import annotations

import argparse
import logging
import random
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from common.errors import InputError

from . import DATASETS
from .base_dataset import BaseDataset, get_transform, to_tensor
from .landmark_maps import cal_motion256, draw_landmark_map, face_window, grid_warp

__all__ = [
    "UMLVDIFWDataset",
    "MIRROR_68",
    "read_landmarks",
    "transform_landmarks",
    "mirrored_window",
    "read_list",
]

log = logging.getLogger(__name__)

IMG_EXT = (".png", ".jpg", ".jpeg", ".bmp")

# iBUG 68-point horizontal mirror: index i of the flipped face is point MIRROR_68[i] of the original.
MIRROR_68 = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30]
    + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46]
    + [39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
)


def read_landmarks(path: str | Path) -> np.ndarray:
    """(68,2) float32 ``(x, y)`` from a text file of lines ``"x y"``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"landmark file not found: {path}")
    arr = np.loadtxt(path, dtype=np.float32, ndmin=2)[:, :2]
    if arr.shape[0] < 68:
        raise InputError(f"{path} holds {arr.shape[0]} landmarks, expected 68")
    return arr[:68]


def transform_landmarks(lm: np.ndarray, scale: float, pos: tuple[int, int], flip: bool, crop: int) -> np.ndarray:
    """Landmarks through resize (``scale``), crop at ``pos = (x, y)`` and optional mirror."""
    out = lm.astype(np.float32) * scale - np.array(pos, np.float32)
    if flip:
        out[:, 0] = crop - out[:, 0]
        out = out[MIRROR_68]
    return out


def mirrored_window(win: np.ndarray, flip: bool, crop: int) -> np.ndarray:
    """``[x1, x2, y1, y2]`` of a horizontally mirrored ``crop``-wide frame (unchanged without flip)."""
    win = np.array(win, np.int32)
    if flip:
        win[0], win[1] = crop - win[1], crop - win[0]
    return win


def read_list(path: Path) -> list[str]:
    """Non-empty lines of a list file."""
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


def _walk(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in IMG_EXT)


def _sub(path: str, old: str, new: str, suffix: str | None = None) -> str:
    if old not in path:
        raise InputError(f"path {path} does not contain {old!r} (the dataset layout needs it)")
    out = path.replace(old, new)
    return str(Path(out).with_suffix(suffix)) if suffix else out


@DATASETS.register("umlvd_ifw")
class UMLVDIFWDataset(BaseDataset):
    """Photo A, drawing B, target landmarks tB/tB2, temporal clip pair B1/B2 and negatives B3/B4."""

    b_folder = "/Drawing/"
    static_folder = "/fakeB_static/"
    use_clips = True

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return parser

    def __init__(self, opt: argparse.Namespace) -> None:
        super().__init__(opt)
        self.A_paths, self.B_paths = self._lists(opt)
        self.A_size, self.B_size = len(self.A_paths), len(self.B_paths)
        self.load = int(opt.load_size)
        self.crop = int(opt.crop_size)
        self.clips: list[list[str]] = []
        if self.use_clips:
            root = Path(self.B_paths[0]).parent.parent
            for d in sorted(root.glob("scanner_frag_*_MTCNN")):
                frames = sorted(str(p) for p in d.iterdir() if p.suffix.lower() in IMG_EXT)
                if len(frames) >= 2:
                    self.clips.append(frames)
            if not self.clips:
                log.warning("no drawing video clips (scanner_frag_*_MTCNN) under %s: the temporal pair B1/B2 "
                            "falls back to the still drawing B", root)

    # -- lists -----------------------------------------------------------------------------------
    def _lists(self, opt: argparse.Namespace) -> tuple[list[str], list[str]]:
        list_dir = Path(getattr(opt, "list_dir", "datasets/list"))
        phase = getattr(opt, "phase", "train")
        la, lb = list_dir / f"{phase}A" / f"{opt.dataroot}.txt", list_dir / f"{phase}B" / f"{opt.dataroot}.txt"
        if la.is_file() and lb.is_file():
            a, b = read_list(la), read_list(lb)
        else:
            da, db = Path(opt.dataroot) / f"{phase}A", Path(opt.dataroot) / f"{phase}B"
            if not (da.is_dir() and db.is_dir()):
                raise InputError(f"no training lists {la} / {lb} and no folders {da} / {db} "
                                 f"(see Module2/make_toy_data.py for the layout)")
            a, b = _walk(da), _walk(db)
        if not a or not b:
            raise InputError(f"empty training list for dataroot {opt.dataroot!r} in {list_dir}")
        cap = opt.max_dataset_size
        return a[: int(min(len(a), cap))], b[: int(min(len(b), cap))]

    def __len__(self) -> int:
        return max(self.A_size, self.B_size)

    # -- geometry --------------------------------------------------------------------------------
    def _params(self, win: tuple[float, float, float, float] | None = None, flip: bool | None = None) -> dict:
        """Crop keeping the face window inside (``win`` in 0…1 fractions or load-size pixels)."""
        L, c = self.load, self.crop
        if win is None:
            rx, ry, rs = self._window_fractions()
            x1, x2, y1, y2 = round(rx * L), round((rx + rs) * L), round(ry * L), round((ry + rs) * L)
        else:
            x1, x2, y1, y2 = (int(v) for v in win)  # only their int() is used below
        lo_x, hi_x = max(0, int(x2) - c), min(L - c, int(x1))
        lo_y, hi_y = max(0, int(y2) - c), min(L - c, int(y1))
        x = random.randint(lo_x, hi_x) if lo_x <= hi_x else (0 if hi_x < 0 else L - c)
        y = random.randint(lo_y, hi_y) if lo_y <= hi_y else (0 if hi_y < 0 else L - c)
        x, y = int(np.clip(x, 0, max(0, L - c))), int(np.clip(y, 0, max(0, L - c)))
        if flip is None:
            flip = (not self.opt.no_flip) and random.random() > 0.5
        return {"crop_pos": (x, y), "flip": bool(flip)}

    def _window_fractions(self) -> tuple[float, float, float]:
        """Face window (left, top, side) as fractions of the image: ``--rx --ry --rs`` (0.15, 0.2, 0.7)."""
        o = self.opt
        return float(getattr(o, "rx", 0.15)), float(getattr(o, "ry", 0.2)), float(getattr(o, "rs", 0.7))

    def _img(self, path: str, params: dict, grey: bool) -> torch.Tensor:
        if not Path(path).is_file():
            raise InputError(f"image not found: {path}")
        img = Image.open(path).convert("L" if grey else "RGB")
        return cast(torch.Tensor, get_transform(self.opt, params, grayscale=grey)(img))

    def _mask(self, path: str, params: dict) -> torch.Tensor:
        if not Path(path).is_file():
            raise InputError(f"mask not found: {path}")
        img = Image.open(path).convert("L")
        return to_tensor(cast(Image.Image, get_transform(self.opt, params, grayscale=True, convert=False)(img)))

    def _lm(self, path: str, params: dict, image_path: str) -> np.ndarray:
        w = Image.open(image_path).size[0]
        return transform_landmarks(read_landmarks(path), self.load / w, params["crop_pos"], params["flip"], self.crop)

    def _side(self, path: str, params: dict, kind: str, grey: bool, win: np.ndarray | None = None) -> dict:
        """Image, landmark image, 68 landmarks, window and masks of one A or B image."""
        if kind == "A":
            folder, lmdir, lmtxt, mdir = "/Photo/", "/Alm/MTCNN/", "/Alm_txt/MTCNN/", "/Amask/"
        else:
            folder, lmdir, lmtxt, mdir = self.b_folder, "/Blm/MTCNN/", "/Blm_txt/MTCNN/", "/Bmask/"
        out = {
            "img": self._img(path, params, grey),
            "lm": self._img(_sub(path, folder, lmdir), params, True),
            "lm68": torch.from_numpy(self._lm(_sub(path, folder, lmtxt, ".txt"), params, path)),
            "win": torch.from_numpy(win if win is not None else mirrored_window(
                face_window(self.load, params["crop_pos"], *self._window_fractions()), params["flip"], self.crop)),
        }
        for key, region in (("mask", "nose"), ("maske", "eyes"), ("maskl", "lips")):
            out[key] = self._mask(_sub(path, folder, f"{mdir}{region}/"), params)
        return out

    def _clip_pair(self) -> tuple[dict, dict, str, str]:
        frames = random.choice(self.clips)
        f = random.randint(0, len(frames) - 2)
        p1, p2 = frames[f], frames[f + 1]
        w = Image.open(p1).size[0]
        s = self.load / w
        wins = []
        for p in (p1, p2):
            txt = Path(_sub(p, self.b_folder, "/Blm_txt/MTCNN/", ".txt"))
            wins.append(np.loadtxt(txt.with_name(txt.stem + "_win.txt"), ndmin=1)[:4])
        u = np.array([min(wins[0][0], wins[1][0]), max(wins[0][1], wins[1][1]),
                      min(wins[0][2], wins[1][2]), max(wins[0][3], wins[1][3])]) * s
        params = self._params((int(round(u[0])), int(round(u[1])), int(round(u[2])), int(round(u[3]))))
        sides = []
        for wn in wins:
            tx, ty = params["crop_pos"]
            side = int(round((wn[1] - wn[0]) * s))
            x1, y1 = int(round(wn[0] * s - tx)), int(round(wn[2] * s - ty))
            sides.append(mirrored_window(np.array([x1, x1 + side, y1, y1 + side]), params["flip"], self.crop))
        grey = self.opt.output_nc == 1
        return (self._side(p1, params, "B", grey, sides[0]), self._side(p2, params, "B", grey, sides[1]), p1, p2)

    # -- item ------------------------------------------------------------------------------------
    def __getitem__(self, index: int) -> dict:
        opt = self.opt
        A_path = self.A_paths[index % self.A_size]
        B_path = self.B_paths[index % self.B_size if opt.serial_batches else random.randint(0, self.B_size - 1)]
        grey_b = opt.output_nc == 1
        pa, pb = self._params(), self._params()
        A = self._side(A_path, pa, "A", False)
        B = self._side(B_path, pb, "B", grey_b)

        item: dict = {
            "A": A["img"], "B": B["img"], "A_paths": A_path, "B_paths": B_path,
            "A_lm": A["lm"], "B_lm": B["lm"], "A_lm_68": A["lm68"], "B_lm_68": B["lm68"],
            "tA_lm": A["lm"], "tA_lm_68": A["lm68"], "winA": A["win"], "winBr": B["win"],
            "image_paths": f"{Path(A_path).stem}->{Path(B_path).stem}",
            "A_mask": A["mask"], "Br_mask": B["mask"], "A_maske": A["maske"], "Br_maske": B["maske"],
            "A_maskl": A["maskl"], "Br_maskl": B["maskl"],
        }
        if self.use_clips:
            if self.clips:
                B1, B2, p1, p2 = self._clip_pair()
            else:
                B1, B2, p1, p2 = B, B, B_path, B_path
            item.update({"B1": B1["img"], "B2": B2["img"], "B1_path": p1, "B2_path": p2,
                         "B1_lm_68": B1["lm68"], "B2_lm_68": B2["lm68"], "winBr1": B1["win"], "winBr2": B2["win"]})

        r = random.random()
        max_offset = float(getattr(opt, "max_offset", 3))
        if self.use_clips and r <= float(getattr(opt, "select_target12_thre", 0.0)):
            t, t2 = B1, B2
            t2_lm, t2_68 = B2["lm"], B2["lm68"]
        else:
            t = B if r <= float(getattr(opt, "select_noniden_thre", 0.9)) else A
            off = np.random.uniform(0, max_offset, (68, 2)).astype(np.float32)
            off[48:68] = np.random.uniform(0, 3, (1, 2)).astype(np.float32)
            t2_68 = t["lm68"] + torch.from_numpy(off)
            t2_lm = torch.from_numpy(draw_landmark_map(t2_68.numpy(), self.crop, 3 if self.crop <= 256 else 5))
            t2 = dict(t)
            if max_offset > 3:  # masks follow the per-point shift only roughly: one mean translation
                shift = off.mean(0)
                for key in ("mask", "maske", "maskl"):
                    t2[key] = _shift_mask(t[key], shift)
        item.update({
            "tB_lm": t["lm"], "tB2_lm": t2_lm, "tB_lm_68": t["lm68"], "tB2_lm_68": t2_68,
            "winB": t["win"], "winB2": t2["win"],
            "B_mask": t["mask"], "B2_mask": t2["mask"], "B_maske": t["maske"], "B2_maske": t2["maske"],
            "B_maskl": t["maskl"], "B2_maskl": t2["maskl"],
        })
        if self.use_clips:
            negs = []
            for _ in range(2):
                if self.clips:
                    negs.append(self._img(random.choice(random.choice(self.clips)), pb, grey_b))
                else:
                    negs.append(self._img(self.B_paths[random.randint(0, self.B_size - 1)], pb, grey_b))
            item["B3"], item["B4"] = negs

        item["fakeB_static"] = self._img(_sub(A_path, "/Photo/", self.static_folder), pa, grey_b)
        wm = torch.from_numpy(cal_motion256(A["lm68"].numpy(), item["tB_lm_68"].numpy(), self.crop))
        wm2 = torch.from_numpy(cal_motion256(A["lm68"].numpy(), item["tB2_lm_68"].numpy(), self.crop))
        a = A["img"].unsqueeze(0)
        item["realA_static_warp"] = grid_warp(a, wm.unsqueeze(0))[0]
        item["realA_static_warp2"] = grid_warp(a, wm2.unsqueeze(0))[0]
        item["warp_motion"], item["warp_motion2"] = wm, wm2
        return item


def _shift_mask(mask: torch.Tensor, shift: np.ndarray) -> torch.Tensor:
    """Translate a (1,H,W) mask by ``shift = (dx, dy)`` pixels (affine grid, zero fill)."""
    _, h, w = mask.shape
    theta = torch.tensor([[1, 0, -2 * shift[0] / w], [0, 1, -2 * shift[1] / h]], dtype=torch.float32).unsqueeze(0)
    grid = F.affine_grid(theta, [1, 1, h, w], align_corners=False)
    return F.grid_sample(mask.unsqueeze(0), grid, align_corners=False)[0]
