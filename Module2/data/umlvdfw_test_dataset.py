"""Test dataset ``umlvdfw_test``: one photo + a sequence of target landmarks.

From files (``test.py``): ``<list_dir>/testA/<dataroot>.txt`` lists the photo (one line
per frame), ``<list_dir>/testB/<dataroot>.txt`` the per-frame landmark images
``.../Alm/MTCNN/<db>_MTCNN/%05d.png``; the landmark text files are found by path
substitution (``/Photo/`` → ``/Alm_txt/MTCNN/``, ``/Alm/MTCNN/`` → ``/Alm_txt/MTCNN/``,
extension → ``.txt``). In memory (the ``gan`` renderer): :meth:`UMLVDFWTestDataset.from_arrays`.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from common import read_landmark_file
from common.errors import InputError

from . import DATASETS
from .base_dataset import BaseDataset, pil_to_normalized_tensor
from .landmark_maps import cal_motion256, draw_landmark_map, face_window, grid_warp, trans_lm

__all__ = ["UMLVDFWTestDataset", "photo_landmark_path", "target_landmark_path"]


def photo_landmark_path(photo_path: str) -> str:
    """``.../Photo/<db>_MTCNN/ori.png`` → ``.../Alm_txt/MTCNN/<db>_MTCNN/ori.txt``."""
    return str(Path(photo_path.replace("/Photo/", "/Alm_txt/MTCNN/")).with_suffix(".txt"))


def target_landmark_path(lm_image_path: str) -> str:
    """``.../Alm/MTCNN/<db>_MTCNN/%05d.png`` (or ``/Drawing/``) → the ``Alm_txt``/``Blm_txt`` text file."""
    p = lm_image_path.replace("/Alm/MTCNN/", "/Alm_txt/MTCNN/").replace("/Drawing/", "/Blm_txt/MTCNN/")
    return str(Path(p).with_suffix(".txt"))


def _read_list(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError(f"dataset list not found: {path}")
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise InputError(f"dataset list is empty: {path}")
    return lines


@DATASETS.register("umlvdfw_test")
class UMLVDFWTestDataset(BaseDataset):
    """Item ``i``: the photo ``A``, its landmark map, target ``i``'s landmark map and warp grid.

    Keys: ``A, A_paths, B_paths, A_lm, B_lm, A_lm_68, tB_lm, tB_lm_68, winB, image_paths,
    realA_static_warp, warp_motion`` (batch dim added by the loader).
    """

    def __init__(self, opt: argparse.Namespace | None = None) -> None:
        if opt is None:  # in-memory use; see from_arrays
            return
        BaseDataset.__init__(self, opt)
        list_dir = Path(opt.list_dir)
        self.A_paths = _read_list(list_dir / "testA" / f"{opt.dataroot}.txt")
        self.B_paths = _read_list(list_dir / "testB" / f"{opt.dataroot}.txt")
        self.load_size = int(opt.load_size)
        self.crop_size = int(opt.crop_size)
        self.max_size = opt.max_dataset_size
        self._photo_cache: dict[str, tuple[torch.Tensor, tuple[int, int]]] = {}
        self._source_cache: dict[str, np.ndarray] = {}
        self._targets: np.ndarray | None = None

    @classmethod
    def from_arrays(
        cls,
        photo: np.ndarray,
        source: np.ndarray,
        targets: np.ndarray,
        load_size: int = 256,
        crop_size: int = 256,
        image_size: tuple[int, int] | None = None,
    ) -> UMLVDFWTestDataset:
        """A dataset over ``targets`` for one photo, without files.

        Args:
            photo: (H, W, 3) uint8 RGB (the aligned photo, normally 512²).
            source: (68, 2) landmarks of the photo, in ``image_size`` pixels.
            targets: (T, 68, 2) target landmarks, same frame.
            image_size: ``(w, h)`` of the landmark frame; default the photo's size.
        """
        photo = np.asarray(photo)
        if photo.ndim != 3 or photo.shape[2] != 3 or photo.dtype != np.uint8:
            raise ValueError(f"photo must be (H, W, 3) uint8 RGB; got {photo.shape} {photo.dtype}")
        self = cls()
        self.opt = None  # type: ignore[assignment]  # built from arrays: there are no options
        self.load_size, self.crop_size = int(load_size), int(crop_size)
        self.max_size = float("inf")
        size = image_size or (photo.shape[1], photo.shape[0])
        self.A_paths = ["ori.png"]
        self.B_paths = [f"{k:05d}.png" for k in range(len(targets))]
        self._photo_cache = {"ori.png": (self._photo_tensor(Image.fromarray(photo)), size)}
        self._source_cache = {"ori.png": np.asarray(source, np.float32)}
        self._targets = np.asarray(targets, np.float32)
        if self._targets.ndim != 3 or self._targets.shape[1:] != (68, 2):
            raise ValueError(f"targets must have shape (T, 68, 2); got {self._targets.shape}")
        return self

    # -- pieces ----------------------------------------------------------------------------------
    def _photo_tensor(self, img: Image.Image) -> torch.Tensor:
        img = img.convert("RGB").resize((self.load_size, self.load_size), Image.Resampling.BICUBIC)
        if self.crop_size < self.load_size:  # crop at (0, 0): test time never moves the crop
            img = img.crop((0, 0, self.crop_size, self.crop_size))
        return pil_to_normalized_tensor(img)

    def _photo(self, path: str) -> tuple[torch.Tensor, tuple[int, int]]:
        if path not in self._photo_cache:
            try:
                img = Image.open(path)
                img.load()
            except OSError as exc:
                raise InputError(f"cannot read photo {path}: {exc}") from None
            self._photo_cache[path] = (self._photo_tensor(img), img.size)
        return self._photo_cache[path]

    def _source(self, path: str) -> np.ndarray:
        if path not in self._source_cache:
            self._source_cache[path] = self._read_lm(photo_landmark_path(path))
        return self._source_cache[path]

    @staticmethod
    def _read_lm(path: str) -> np.ndarray:
        try:
            return read_landmark_file(path)
        except ValueError as exc:
            raise InputError(str(exc)) from None

    @property
    def radius(self) -> int:
        """Disc radius of the landmark maps: 3 at crop 256, 5 at 512."""
        return 3 if self.crop_size == 256 else 5

    # -- dataset API -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(min(max(len(self.A_paths), len(self.B_paths)), self.max_size))

    def __getitem__(self, index: int) -> dict:
        A_path = self.A_paths[index % len(self.A_paths)]
        B_path = self.B_paths[index % len(self.B_paths)]
        A, size = self._photo(A_path)
        src = self._source(A_path)
        if self._targets is not None:
            dst = self._targets[index % len(self._targets)]
        else:
            dst = self._read_lm(target_landmark_path(B_path))
        return self.make_item(A, src, dst, size, A_path, B_path)

    def make_item(
        self,
        A: torch.Tensor,
        src: np.ndarray,
        dst: np.ndarray,
        size: tuple[int, int],
        A_path: str,
        B_path: str,
    ) -> dict:
        """Build one item from the photo tensor and raw (``size``-frame) source/target landmarks."""
        A_lm_68 = trans_lm(src, size, self.load_size)
        tB_lm_68 = trans_lm(dst, size, self.load_size)
        A_lm = torch.from_numpy(draw_landmark_map(A_lm_68, self.crop_size, self.radius))
        tB_lm = torch.from_numpy(draw_landmark_map(tB_lm_68, self.crop_size, self.radius))
        warp_motion = torch.from_numpy(cal_motion256(A_lm_68, tB_lm_68, self.crop_size))
        realA_static_warp = grid_warp(A[None], warp_motion[None])[0]
        name = f"{Path(A_path).stem}->{Path(B_path).name}"
        return {
            "A": A,
            "A_paths": A_path,
            "B_paths": B_path,
            "A_lm": A_lm,
            "B_lm": tB_lm,
            "A_lm_68": torch.from_numpy(A_lm_68),
            "tB_lm": tB_lm,
            "tB_lm_68": torch.from_numpy(tB_lm_68),
            "winB": torch.from_numpy(face_window(self.load_size)),
            "image_paths": name,
            "realA_static_warp": realA_static_warp,
            "warp_motion": warp_motion,
        }

    def batches(self, batch_size: int, indices: Sequence[int] | None = None):
        """Yield collated batches of consecutive items (in-memory rendering)."""
        from torch.utils.data import default_collate

        idx = list(range(len(self)) if indices is None else indices)
        for start in range(0, len(idx), batch_size):
            yield default_collate([self[i] for i in idx[start : start + batch_size]])
