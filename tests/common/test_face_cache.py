"""The dlib models' loading: the face detector kept in the project's cache, the shape predictor in a thread."""
from __future__ import annotations

import threading

import dlib
import numpy as np
import pytest
from PIL import Image

import common.face as face
from common.fs import cache_dir


@pytest.fixture()
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ANIMATE_PORTRAIT_CACHE", str(tmp_path / "cache"))
    face._frontal_face_detector.cache_clear()
    yield tmp_path / "cache"
    face._frontal_face_detector.cache_clear()


def _detections(detector, image: np.ndarray) -> list:
    out = []
    for upsample in (0, 1, 2):
        rects, scores, kinds = detector.run(image, upsample, 0.0)
        out.append(([(r.left(), r.top(), r.right(), r.bottom()) for r in rects], list(scores), list(kinds)))
    return out


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ANIMATE_PORTRAIT_CACHE", str(tmp_path / "own"))
    assert cache_dir() == tmp_path / "own"
    monkeypatch.delenv("ANIMATE_PORTRAIT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "animate-portrait"
    for off in ("off", "OFF", "0", "none"):
        monkeypatch.setenv("ANIMATE_PORTRAIT_CACHE", off)
        assert cache_dir() is None


def test_no_cache_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("ANIMATE_PORTRAIT_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    face._frontal_face_detector.cache_clear()
    try:
        assert type(face._frontal_face_detector()).__name__ == "fhog_object_detector"
    finally:
        face._frontal_face_detector.cache_clear()
    assert not list(tmp_path.iterdir())


def test_cached_detector_finds_what_dlib_finds(own_cache, repo_root):
    image = np.asarray(Image.open(repo_root / "examples" / "astronaut.jpg").convert("RGB"))
    first = face._frontal_face_detector()
    files = list(own_cache.iterdir())
    assert [f.name for f in files] == [f"dlib-{dlib.__version__}-frontal_face_detector.svm"]
    assert files[0].stat().st_size > 100_000
    face._frontal_face_detector.cache_clear()
    cached = face._frontal_face_detector()
    assert type(cached).__name__ == "fhog_object_detector" and cached is not first
    want = _detections(dlib.get_frontal_face_detector(), image)
    assert _detections(cached, image) == want
    assert len(want[1][0]) == 2  # the face and the mission patch, at upsample 1


def test_damaged_cache_is_rebuilt(own_cache, repo_root):
    face._frontal_face_detector()
    path = next(own_cache.iterdir())
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    face._frontal_face_detector.cache_clear()
    image = np.asarray(Image.open(repo_root / "examples" / "astronaut.jpg").convert("RGB"))
    assert _detections(face._frontal_face_detector(), image) == _detections(dlib.get_frontal_face_detector(), image)
    assert path.read_bytes() == good


def test_unwritable_cache_still_detects(monkeypatch, tmp_path, repo_root):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ANIMATE_PORTRAIT_CACHE", str(blocker / "cache"))
    face._frontal_face_detector.cache_clear()
    try:
        image = np.asarray(Image.open(repo_root / "examples" / "astronaut.jpg").convert("RGB"))
        assert len(face._frontal_face_detector().run(image, 1, 0.0)[0]) == 2
    finally:
        face._frontal_face_detector.cache_clear()
    assert blocker.read_text() == "not a folder"


def test_predictor_thread_ends_and_hands_over_errors(monkeypatch):
    loading = face._PredictorLoad()
    model = loading.result()
    assert type(model).__name__ == "shape_predictor"
    assert not any(t.name == "dlib-shape-predictor" for t in threading.enumerate())

    def broken():
        raise RuntimeError("Unable to open shape_predictor_68_face_landmarks.dat")

    monkeypatch.setattr(face, "_shape_predictor", broken)
    with pytest.raises(RuntimeError, match="Unable to open"):
        face._PredictorLoad().result()
