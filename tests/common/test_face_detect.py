"""common.face on the real dlib models and the committed example portrait."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image

from common.errors import InputError
from common.face import LANDMARKERS, Face, detect_faces, landmarks_for_box, resolve_landmarker


@pytest.fixture(scope="module")
def astronaut(repo_root) -> np.ndarray:
    return np.asarray(Image.open(repo_root / "examples" / "astronaut.jpg").convert("RGB"))


def test_registry_names():
    assert LANDMARKERS.names() == ["dlib", "face_alignment"]
    assert LANDMARKERS.get("dlib").unavailable_reason() is None


def test_detect_astronaut_face(astronaut):
    faces = detect_faces(astronaut, "dlib")
    # The HOG detector also fires weakly on the mission patch of the suit; drop_weak removes it.
    assert len(faces) == 1
    face = faces[0]
    assert isinstance(face, Face)
    x1, y1, x2, y2 = face.box
    # Eileen Collins' face is in the upper middle of the 512 image (about x 175-270, y 70-180 by eye).
    assert 150 < x1 < 200 and 240 < x2 < 290 and 50 < y1 < 100 and 140 < y2 < 200
    assert face.score > 0.5
    p = face.landmarks
    assert p.shape == (68, 2) and p.dtype == np.float32
    w, h = x2 - x1, y2 - y1
    assert np.all(p[:, 0] > x1 - 0.25 * w) and np.all(p[:, 0] < x2 + 0.25 * w)
    assert np.all(p[:, 1] > y1 - 0.25 * h) and np.all(p[:, 1] < y2 + 0.25 * h)
    brows, eyes, nose_tip, mouth, chin = p[17:27, 1].mean(), p[36:48, 1].mean(), p[30, 1], p[48:68, 1].mean(), p[8, 1]
    assert brows < eyes < nose_tip < mouth < chin
    assert p[36:42, 0].mean() < p[27:36, 0].mean() < p[42:48, 0].mean()  # image-left eye, nose, image-right eye
    assert p[0, 0] < p[8, 0] < p[16, 0]


def test_weak_detection_is_the_patch(astronaut):
    faces = detect_faces(astronaut, "dlib", drop_weak=False)
    assert len(faces) == 2
    assert faces[0].score > faces[1].score
    assert faces[1].score < LANDMARKERS.get("dlib").weak_score
    assert faces[1].box[1] > 256  # the patch is on the chest, in the lower half


def test_landmarks_for_box_matches_detection(astronaut):
    face = detect_faces(astronaut, "dlib")[0]
    again = landmarks_for_box(astronaut, face.box, "dlib")
    assert again.shape == (68, 2)
    assert np.abs(again - face.landmarks).max() <= 1.0


def test_blank_image_has_no_face():
    assert detect_faces(np.full((200, 200, 3), 255, np.uint8), "dlib") == []


def test_large_image_is_downscaled_for_detection_only(astronaut):
    big = np.asarray(Image.fromarray(astronaut).resize((2048, 2048), Image.BICUBIC))
    faces = detect_faces(big, "dlib")
    assert len(faces) == 1
    small = detect_faces(astronaut, "dlib")[0]
    # Same face at 4x the coordinates (HOG boxes snap to its window grid, so allow ~10 % of the face).
    assert np.abs(np.array(faces[0].box) / 4 - np.array(small.box)).max() < 10
    assert np.median(np.linalg.norm(faces[0].landmarks / 4 - small.landmarks, axis=1)) < 3


def test_rejects_non_uint8_rgb():
    with pytest.raises(ValueError, match="uint8 RGB"):
        detect_faces(np.zeros((64, 64), np.uint8), "dlib")
    with pytest.raises(ValueError, match="uint8 RGB"):
        detect_faces(np.zeros((64, 64, 3), np.float32), "dlib")


def test_unknown_landmarker_lists_choices():
    with pytest.raises(InputError, match="dlib, face_alignment"):
        resolve_landmarker("mtcnn")


@pytest.mark.skipif(importlib.util.find_spec("face_alignment") is not None, reason="face_alignment is installed")
def test_auto_falls_back_to_dlib_without_face_alignment():
    assert resolve_landmarker("auto") == "dlib"
    reason = LANDMARKERS.get("face_alignment").unavailable_reason()
    assert reason is not None and "not installed" in reason
    with pytest.raises(InputError, match="face_alignment is unavailable"):
        resolve_landmarker("face_alignment")
