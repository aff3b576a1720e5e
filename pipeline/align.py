"""Photo → 512×512 aligned face crop + its 68 landmarks, cropped as the original does.

The crop arithmetic is the original's (``align_mtcnn``), reproduced exactly by :func:`face_crop_box`.
The original fed it an MTCNN box; we derive an MTCNN-like box from the 68 landmarks instead
(:func:`mtcnn_like_box`), calibrated so the face fills the crop as in the original's own aligned example.

Conventions: images are uint8 RGB (H, W, 3); points and boxes are (x, y) pixels, x right, y down.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from common.errors import InputError, NoFaceError
from common.face import LANDMARKERS, detect_faces, resolve_landmarker
from common.fs import atomic_path, cache_dir
from common.ibug68 import BROWS, FRAME, JAW

__all__ = [
    "ALIGNED_SIZE",
    "MIN_PHOTO_SIDE",
    "AlignedPhoto",
    "load_photo",
    "face_crop_box",
    "face_size",
    "mtcnn_like_box",
    "crop_square",
    "align_photo",
    "save_aligned",
    "load_aligned",
]

log = logging.getLogger(__name__)

ALIGNED_SIZE = FRAME
MIN_PHOTO_SIDE = 64

# Calibration of the landmark-derived "MTCNN-like" box (see mtcnn_like_box). Fitted on the original's own
# aligned example (its 3D-FAN landmarks of the 512 crop, ../shared/reference/fixtures/module2/
# pipeline_drawing/Data_Alm_txt/ori.txt): there the jaw span (points 0–16) is 0.61 of the crop, the eyes
# sit at 0.48 of its height and the chin at 0.96. Inverting the crop rule, the original's box was 0.96 of
# the jaw span wide and centred 0.16 of the brow-to-chin height above the brow/chin midpoint.
BOX_WIDTH_PER_JAW = 0.96
BOX_TOP_ABOVE_BROWS = 0.32  # of the brow-top-to-chin height; the bottom is at the chin


Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class AlignedPhoto:
    """The aligned face photo and where it came from.

    ``image``: (512, 512, 3) uint8 RGB. ``landmarks``: (68, 2) float32, (x, y) in the 512 crop.
    ``box``: the MTCNN-like face box (x1, y1, x2, y2) in source pixels that fixed the crop.
    ``crop``: (x11, y11, size1), the square's top-left corner and side in source pixels.
    ``n_faces``: faces found in the photo (the largest was used).
    """

    image: np.ndarray
    landmarks: np.ndarray
    box: Box
    crop: tuple[int, int, int]
    n_faces: int


# ------------------------------------------------------------------------------------------ loading
def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode → uint8 RGB; transparency is composited on white, 16/32-bit data scaled to 8 bit."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        a = np.asarray(img).astype(np.float64)
        if mode == "I" and a.max(initial=0) <= 255:
            pass  # already 8-bit values in a 32-bit container
        else:
            a = a * (255.0 / 65535.0)
        grey = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "F":
        a = np.asarray(img, dtype=np.float64)
        if a.max(initial=0) <= 1.0:
            a = a * 255.0
        grey = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode in ("P", "L", "RGB") and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(img.convert("RGB"))


def load_photo(path: str | Path) -> np.ndarray:
    """Read a photo as uint8 RGB (H, W, 3), upright (EXIF orientation applied).

    Any format Pillow reads; greyscale/palette/CMYK become RGB, transparency is composited on white,
    16-bit images are scaled to 8 bit. Raises :class:`common.errors.InputError` (one line naming the file)
    when it is missing, not an image, corrupt, or smaller than 64 px on a side.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"photo {path} does not exist")
    if not path.is_file():
        raise InputError(f"photo {path} is not a file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about odd EXIF / palette details; not our business
            with Image.open(path) as img:
                img.load()
                rgb = _to_rgb(ImageOps.exif_transpose(img))
    except UnidentifiedImageError:
        raise InputError(f"photo {path} is not an image format Pillow can read") from None
    except Image.DecompressionBombError as exc:
        raise InputError(f"photo {path} is too large to decode safely ({exc})") from None
    except PermissionError:
        raise InputError(f"photo {path} cannot be read (permission denied)") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated / corrupt data, broken headers
        raise InputError(f"photo {path} is corrupt or truncated ({exc})") from None
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_PHOTO_SIDE:
        raise InputError(f"photo {path} is too small ({w}x{h} px; at least {MIN_PHOTO_SIDE} px per side)")
    return np.ascontiguousarray(rgb)


# ----------------------------------------------------------------------------------- crop geometry
def face_size(box: Box) -> int:
    """The original's face size used to pick the largest face: ``int(1.2 * min(w, h))``, w = x2-x1+1."""
    x1, y1, x2, y2 = box
    return int(1.2 * min(x2 - x1 + 1, y2 - y1 + 1))


def face_crop_box(box: Box) -> tuple[int, int, int]:
    """The original's square crop for face box (x1, y1, x2, y2): returns (x11, y11, size1) in source px.

    Exactly ``align_mtcnn``'s integer arithmetic: size = int(1.2·min(w, h)) with w = x2-x1+1,
    h = y2-y1+1; centre (x1 + w//2, y1 + h//2) with Python floor division on floats; side
    size1 = int(round(size/0.7)); the box centre lands at 50 % of the width and 55 % of the height.
    """
    x1, y1, x2, y2 = box
    w = x2 - x1 + 1
    h = y2 - y1 + 1
    size = int(1.2 * min(w, h))
    cx = x1 + w // 2
    cy = y1 + h // 2
    size1 = int(round(size / 0.7))
    x11 = int(cx - size1 // 2)
    y11 = int(cy - (size1 * 11) // 20)
    return x11, y11, size1


def mtcnn_like_box(landmarks: np.ndarray) -> Box:
    """A face box shaped like the original's MTCNN box, from (68, 2) landmarks (x, y px).

    Horizontally: centred on the jaw span (points 0–16), ``BOX_WIDTH_PER_JAW`` of its width. Vertically:
    from ``BOX_TOP_ABOVE_BROWS`` of the brow-top-to-chin height above the highest brow point (MTCNN boxes
    include the lower forehead) down to the lowest jaw point. dlib's own HOG box is tighter than MTCNN's
    and would make the face ~1.3× too large in the crop.
    """
    p = np.asarray(landmarks, dtype=np.float64)
    jaw = p[JAW]
    jx1, jx2 = jaw[:, 0].min(), jaw[:, 0].max()
    half = 0.5 * BOX_WIDTH_PER_JAW * (jx2 - jx1)
    mid = 0.5 * (jx1 + jx2)
    brow_top = p[BROWS, 1].min()
    chin = jaw[:, 1].max()
    top = brow_top - BOX_TOP_ABOVE_BROWS * (chin - brow_top)
    return float(mid - half), float(top), float(mid + half), float(chin)


def crop_square(image: np.ndarray, x11: int, y11: int, size1: int, fill: int = 255) -> np.ndarray:
    """The (size1, size1, C) square of ``image`` with top-left corner (x11, y11); outside pixels = ``fill``."""
    if size1 <= 0:
        raise ValueError(f"crop side must be positive, got {size1}")
    h, w = image.shape[:2]
    out = np.full((size1, size1) + image.shape[2:], fill, dtype=image.dtype)
    sx1, sy1 = max(x11, 0), max(y11, 0)
    sx2, sy2 = min(x11 + size1, w), min(y11 + size1, h)
    if sx1 < sx2 and sy1 < sy2:
        out[sy1 - y11:sy2 - y11, sx1 - x11:sx2 - x11] = image[sy1:sy2, sx1:sx2]
    return out


# ----------------------------------------------------------------------------------------- align
def _iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def align_photo(image_rgb: np.ndarray, landmarker: str = "auto", min_face: int = 48,
                name: str | None = None) -> AlignedPhoto:
    """Crop the largest face of ``image_rgb`` (uint8 RGB (H, W, 3)) to 512×512 the way the original did.

    The face box (:func:`mtcnn_like_box`) goes through the original's crop rule (:func:`face_crop_box`),
    pixels outside the photo are white, the square is resized to 512 with bicubic interpolation. The
    landmarks of the result are re-detected on the 512 crop (finer), or, if that fails, the source
    landmarks mapped into it. ``name`` (the file name) only appears in messages.

    A result is kept in the project's cache (:func:`common.fs.cache_dir`), keyed by the pixels, the
    landmarker with its package versions, ``min_face`` and this code, so aligning the same photo again
    skips the face detector and gives the same result.

    Raises :class:`common.errors.NoFaceError` when no face is found or the face is narrower than
    ``min_face`` source pixels.
    """
    memo = _Memo.of(image_rgb, landmarker, min_face)
    if memo is not None:
        kept = memo.recall(image_rgb)
        if kept is not None:
            if kept.n_faces > 1:
                log.info("found %d faces in %s; using the largest", kept.n_faces, name or "the photo")
            return kept
    aligned = _align(image_rgb, landmarker, min_face, name or "the photo")
    if memo is not None:
        memo.keep(aligned)
    return aligned


def _crop_aligned(image_rgb: np.ndarray, x11: int, y11: int, size1: int) -> np.ndarray:
    return cv2.resize(crop_square(image_rgb, x11, y11, size1), (ALIGNED_SIZE, ALIGNED_SIZE),
                      interpolation=cv2.INTER_CUBIC)


def _align(image_rgb: np.ndarray, landmarker: str, min_face: int, label: str) -> AlignedPhoto:
    faces = detect_faces(image_rgb, landmarker)
    if not faces:
        raise NoFaceError(f"no face found in {label}")
    boxes = [mtcnn_like_box(f.landmarks) for f in faces]
    best = 0
    for i, b in enumerate(boxes):  # the original: strict '>' on size, so the first wins a tie
        if face_size(b) > face_size(boxes[best]):
            best = i
    if len(faces) > 1:
        log.info("found %d faces in %s; using the largest", len(faces), label)
    face, box = faces[best], boxes[best]
    width = box[2] - box[0]
    if width < min_face:
        raise NoFaceError(f"the face in {label} is too small ({width:.0f} px wide; at least {min_face} px needed)")

    x11, y11, size1 = face_crop_box(box)
    aligned = _crop_aligned(image_rgb, x11, y11, size1)

    # cv2.resize maps pixel centres: x_out = (x_in + 0.5)·s − 0.5
    s = ALIGNED_SIZE / size1
    mapped = ((face.landmarks - np.array([x11, y11], np.float32)) + 0.5) * s - 0.5
    landmarks = _redetect(aligned, mapped, landmarker)
    if landmarks is None:
        log.debug("re-detection on the aligned crop failed; using the mapped source landmarks")
        landmarks = mapped
    return AlignedPhoto(image=aligned, landmarks=landmarks.astype(np.float32), box=box,
                        crop=(x11, y11, size1), n_faces=len(faces))


@functools.lru_cache(maxsize=1)
def _code_tag() -> bytes:
    """The code an alignment depends on: a change to it makes every kept result stale."""
    import common.face

    h = hashlib.sha256()
    for path in (Path(__file__), Path(common.face.__file__)):
        h.update(path.read_bytes())
    return h.digest()


class _Memo:
    """One photo's alignment, kept between runs: landmarks, box, crop and face count (a few hundred bytes;
    the 512 crop is made again from the photo, which is exact and takes milliseconds)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of(cls, image_rgb: np.ndarray, landmarker: str, min_face: int) -> _Memo | None:
        where = cache_dir()
        if where is None or not isinstance(image_rgb, np.ndarray) or image_rgb.dtype != np.uint8:
            return None
        name = resolve_landmarker(landmarker)
        h = hashlib.sha256(_code_tag())
        h.update(f"{LANDMARKERS.get(name).identity()}|{min_face}|{image_rgb.shape}|".encode())
        h.update(np.ascontiguousarray(image_rgb).data)
        return cls(where / "align" / f"{h.hexdigest()}.npz")

    def recall(self, photo: np.ndarray) -> AlignedPhoto | None:
        """The kept alignment of ``photo``, or ``None`` when there is none or it is not well-formed."""
        try:
            return load_aligned(self.path, photo)
        except FileNotFoundError:
            return None
        except ValueError as exc:
            log.debug("ignoring the alignment %s (%s)", self.path, exc)
            return None

    def keep(self, aligned: AlignedPhoto) -> None:
        try:
            with atomic_path(self.path) as tmp, open(tmp, "wb") as f:
                save_aligned(f, aligned, image=False)
        except OSError as exc:
            log.debug("cannot keep the alignment in %s (%s)", self.path.parent, exc)


def save_aligned(file: str | Path | IO[bytes], aligned: AlignedPhoto, image: bool = True) -> None:
    """Write ``aligned`` as an ``.npz`` (plain arrays, no pickles); ``image=False`` leaves out the 512
    crop, which :func:`load_aligned` makes again from the photo."""
    lm, box = np.asarray(aligned.landmarks, np.float32), np.asarray(aligned.box, np.float64)
    crop, n = np.asarray(aligned.crop, np.int64), np.int64(aligned.n_faces)
    if image:
        np.savez(file, landmarks=lm, box=box, crop=crop, n_faces=n, image=np.asarray(aligned.image, np.uint8))
    else:
        np.savez(file, landmarks=lm, box=box, crop=crop, n_faces=n)


def load_aligned(file: str | Path | IO[bytes], photo: np.ndarray | None = None) -> AlignedPhoto:
    """What :func:`save_aligned` wrote, checked: dtypes, shapes, finite numbers, and a crop square of
    sensible size on ``photo`` (when given). The 512 crop comes from the file, or is made again from
    ``photo`` (exact, milliseconds). Raises ``ValueError`` for a file that is unreadable or malformed
    (``FileNotFoundError`` for a missing one)."""
    try:
        with np.load(file, allow_pickle=False) as z:
            landmarks, box, crop, n = z["landmarks"], z["box"], z["crop"], z["n_faces"]
            image = z["image"] if "image" in z.files else None
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"unreadable ({exc})") from None
    ok = (landmarks.dtype == np.float32 and landmarks.shape == (68, 2) and bool(np.isfinite(landmarks).all())
          and box.dtype == np.float64 and box.shape == (4,) and bool(np.isfinite(box).all())
          and crop.dtype == np.int64 and crop.shape == (3,)
          and n.dtype == np.int64 and n.shape == () and int(n) >= 1
          and (image is None or (image.dtype == np.uint8 and image.shape == (ALIGNED_SIZE, ALIGNED_SIZE, 3))))
    x11, y11, size1 = (int(v) for v in crop) if ok else (0, 0, 0)
    if ok and photo is not None:
        h, w = photo.shape[:2]
        ok = 0 < size1 <= 4 * max(h, w) and -size1 < x11 < w and -size1 < y11 < h
    if not ok or (image is None and photo is None):
        raise ValueError("malformed" if not ok else "no image and no photo to make it from")
    if image is None:
        assert photo is not None
        image = _crop_aligned(photo, x11, y11, size1)
    return AlignedPhoto(image=image, landmarks=landmarks, box=tuple(float(v) for v in box),  # type: ignore[arg-type]
                        crop=(x11, y11, size1), n_faces=int(n))


def _redetect(aligned: np.ndarray, mapped: np.ndarray, landmarker: str) -> np.ndarray | None:
    """Landmarks of the face in the crop whose point extent best overlaps ``mapped`` (IoU ≥ 0.5), else None."""

    def extent(p: np.ndarray) -> Box:
        return (*p.min(axis=0), *p.max(axis=0))

    expected = extent(mapped)
    # The face fills the 512 crop, so no upsampling is needed to find it.
    scored = [(_iou(expected, extent(f.landmarks)), f) for f in
              detect_faces(aligned, landmarker, upsample=0, drop_weak=False)]
    scored = [(iou, f) for iou, f in scored if iou >= 0.5]
    return max(scored, key=lambda t: t[0])[1].landmarks if scored else None
