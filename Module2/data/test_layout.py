"""Write a portrait and its landmark sequence in the original's test layout, for ``Module2/test.py``.

The original's driver hands Module2 its input as files (``db`` = ``<photo>-<audio>``)::

    Data/Photo/<db>_MTCNN/ori.png               the aligned photo
    Data/Alm_txt/MTCNN/<db>_MTCNN/ori.txt       its 68 landmarks, lines "x y" (photo pixels)
    Data/Alm_txt/MTCNN/<db>_MTCNN/%05d.txt      target landmarks of frame k
    Data/Alm/MTCNN/<db>_MTCNN/{ori,%05d}.png    the same as dot images (white discs, radius 5 at 512)
    lists/testA/<db>.txt                        N lines: the photo's absolute path
    lists/testB/<db>.txt                        the N dot images' absolute paths, in frame order

``make_toy_data`` writes a toy sequence this way and ``main_end2end_module2.py --dump_data DIR``
writes what a run rendered, so that ``cd Module2 && python test.py --dataroot <db> --list_dir
DIR/lists ...`` runs the original's test script on exactly those inputs.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

__all__ = ["landmark_dots", "write_landmarks", "write_test_layout"]


def landmark_dots(lm: np.ndarray, size: int = 512) -> np.ndarray:
    """Black (size, size) uint8 image with filled white discs at the rounded landmarks (radius 5 at 512)."""
    img = np.zeros((size, size), np.uint8)
    r = max(1, int(round(5 * size / 512)))
    for x, y in np.asarray(lm, np.float64)[:, :2]:
        cv2.circle(img, (int(round(x)), int(round(y))), r, 255, -1)
    return img


def write_landmarks(path: Path, lm: np.ndarray) -> None:
    """68 lines ``"x y"``; ``repr`` of the values, so float32 landmarks read back bit-exactly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{float(x)!r} {float(y)!r}\n" for x, y in np.asarray(lm)[:, :2]))


def _imwrite(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"cannot write {path}")


def write_test_layout(root: str | Path, db: str, photo_rgb: np.ndarray, source: np.ndarray, targets: np.ndarray) -> Path:
    """Write ``photo_rgb`` (H,W,3 uint8), its ``source`` (68,2) and ``targets`` (T,68,2) under ``root``.

    Coordinates are pixels of ``photo_rgb``. Returns the list folder (``<root>/lists``) for ``--list_dir``.
    """
    root = Path(root).resolve()
    data = root / "Data"
    size = int(photo_rgb.shape[0])
    photo_path = data / "Photo" / f"{db}_MTCNN" / "ori.png"
    _imwrite(photo_path, cv2.cvtColor(np.ascontiguousarray(photo_rgb), cv2.COLOR_RGB2BGR))
    txt, dots = data / "Alm_txt" / "MTCNN" / f"{db}_MTCNN", data / "Alm" / "MTCNN" / f"{db}_MTCNN"
    write_landmarks(txt / "ori.txt", source)
    _imwrite(dots / "ori.png", landmark_dots(source, size))
    frames = []
    for k, lm in enumerate(np.asarray(targets)):
        write_landmarks(txt / f"{k:05d}.txt", lm)
        _imwrite(dots / f"{k:05d}.png", landmark_dots(lm, size))
        frames.append(dots / f"{k:05d}.png")
    lists = root / "lists"
    for sub, lines in (("testA", [photo_path] * len(frames)), ("testB", frames)):
        (lists / sub).mkdir(parents=True, exist_ok=True)
        (lists / sub / f"{db}.txt").write_text("".join(f"{p}\n" for p in lines))
    return lists
