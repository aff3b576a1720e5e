"""pipeline.align: photo loading, the original's crop arithmetic, and alignment on real photos with dlib."""
from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
from PIL import Image

from common.errors import InputError, NoFaceError
from common.face import detect_faces
from pipeline.align import (
    AlignedPhoto,
    align_photo,
    crop_square,
    face_crop_box,
    face_size,
    load_photo,
    mtcnn_like_box,
)


@pytest.fixture(scope="module")
def astronaut(repo_root) -> np.ndarray:
    return np.asarray(Image.open(repo_root / "examples" / "astronaut.jpg").convert("RGB"))


# ------------------------------------------------------------------------------------------ crop maths
@pytest.mark.parametrize(
    "box, expected",
    [
        # w=100 h=120: size=120, cx=150, cy=110, size1=round(171.43)=171, x11=150-85, y11=110-1881//20
        ((100, 50, 199, 169), (65, 16, 171)),
        # w=51.2 h=71.65: size=int(61.44)=61, cx=10.5+25.0, cy=20.25+35.0, size1=round(87.14)=87,
        # x11=int(35.5-43)=int(-7.5)=-7 (truncation towards zero), y11=int(55.25-957//20)=int(8.25)=8
        ((10.5, 20.25, 60.7, 90.9), (-7, 8, 87)),
        # w=300 h=100: size=120 from the height; cx=150, cy=50 → y11=50-94
        ((0, 0, 299, 99), (65, -44, 171)),
        # w=h=11: size=int(13.2)=13, cx=cy=5, size1=round(18.57)=19, x11=5-9, y11=5-209//20
        ((0, 0, 10, 10), (-4, -5, 19)),
    ],
)
def test_face_crop_box_matches_hand_computation(box, expected):
    assert face_crop_box(box) == expected
    assert all(isinstance(v, int) for v in face_crop_box(box))


def test_face_size_is_the_originals():
    assert face_size((100, 50, 199, 169)) == 120
    assert face_size((10.5, 20.25, 60.7, 90.9)) == 61


def test_crop_square_fills_outside_with_white():
    img = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)  # H=4, W=6
    out = crop_square(img, -2, -1, 5)
    assert out.shape == (5, 5, 3) and out.dtype == np.uint8
    assert np.all(out[0] == 255)  # row y=-1
    assert np.all(out[:, :2] == 255)  # columns x=-2, -1
    np.testing.assert_array_equal(out[1:5, 2:5], img[0:4, 0:3])
    inside = crop_square(img, 1, 1, 3)
    np.testing.assert_array_equal(inside, img[1:4, 1:4])
    far = crop_square(img, 100, 100, 4, fill=7)
    assert np.all(far == 7)
    right = crop_square(img, 4, 2, 3)  # sticks out right and bottom
    np.testing.assert_array_equal(right[:2, :2], img[2:4, 4:6])
    assert np.all(right[2] == 255) and np.all(right[:, 2] == 255)


def test_box_calibration_reproduces_the_originals_framing(reference_dir):
    # The original's 3D-FAN landmarks of its own 512 aligned photo: re-cropping them with our box must
    # give (nearly) the identity crop, i.e. the face fills our crop as it filled the original's.
    pts = np.loadtxt(reference_dir / "fixtures" / "module2" / "pipeline_drawing" / "Data_Alm_txt" / "ori.txt")
    x11, y11, size1 = face_crop_box(mtcnn_like_box(pts))
    assert abs(size1 - 512) <= 8
    assert abs(y11) <= 6
    assert abs(x11) <= 12  # the original's MTCNN box sat ~10 px right of the jaw's centre


# ------------------------------------------------------------------------------------------ loading
def test_load_photo_applies_exif_orientation(tmp_path):
    img = np.zeros((80, 100, 3), np.uint8)  # H=80, W=100 as stored
    img[:20, :20] = (255, 0, 0)  # red block at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "rot.jpg"
    Image.fromarray(img).save(path, quality=95, exif=exif)
    out = load_photo(path)
    assert out.shape == (100, 80, 3) and out.dtype == np.uint8
    # Rotated clockwise, the stored top-left corner is shown at the top-right.
    assert out[5, 75, 0] > 200 and out[5, 75, 1] < 60
    assert out[5, 5].max() < 60


def test_load_photo_rgba_on_white(tmp_path):
    rgba = np.zeros((70, 70, 4), np.uint8)
    rgba[:, :35] = (255, 0, 0, 255)  # opaque red
    rgba[:, 35:] = (0, 0, 0, 0)  # fully transparent
    rgba[:10, 35:] = (0, 0, 0, 128)  # half-transparent black
    path = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(path)
    out = load_photo(path)
    assert out.shape == (70, 70, 3)
    np.testing.assert_array_equal(out[20, 10], [255, 0, 0])
    np.testing.assert_array_equal(out[20, 60], [255, 255, 255])
    assert np.all(np.abs(out[5, 60].astype(int) - 127) <= 1)


def test_load_photo_greyscale_and_palette(tmp_path):
    Image.fromarray(np.full((64, 80), 77, np.uint8), "L").save(tmp_path / "g.png")
    out = load_photo(tmp_path / "g.png")
    assert out.shape == (64, 80, 3)
    assert np.all(out == 77)
    pal = Image.new("P", (64, 64))
    pal.putpalette([10, 20, 30] + [0, 0, 0] * 255)
    pal.save(tmp_path / "p.gif")
    np.testing.assert_array_equal(load_photo(tmp_path / "p.gif")[3, 3], [10, 20, 30])


def test_load_photo_16_bit_png(tmp_path):
    a = np.zeros((64, 64), np.uint16)
    a[:, 20:40] = 32896  # = 128 * 257
    a[:, 40:] = 65535
    Image.fromarray(a).save(tmp_path / "d.png")
    out = load_photo(tmp_path / "d.png")
    assert out.dtype == np.uint8 and out.shape == (64, 64, 3)
    assert np.all(out[:, :20] == 0) and np.all(out[:, 20:40] == 128) and np.all(out[:, 40:] == 255)
    rgb16 = np.zeros((64, 64, 3), np.uint16)
    rgb16[..., 2], rgb16[..., 1] = 65535, 32896  # cv2 writes BGR: red full, green half
    cv2.imwrite(str(tmp_path / "rgb16.png"), rgb16)
    np.testing.assert_array_equal(load_photo(tmp_path / "rgb16.png")[10, 10], [255, 128, 0])
    i32 = np.zeros((64, 64), np.int32)
    i32[:, 32:] = 65535
    Image.fromarray(i32).save(tmp_path / "i32.tif")  # reloads as mode "I"
    out = load_photo(tmp_path / "i32.tif")
    assert np.all(out[:, :32] == 0) and np.all(out[:, 32:] == 255)


def test_load_photo_cmyk(tmp_path):
    Image.new("CMYK", (64, 64), (0, 0, 0, 0)).save(tmp_path / "c.jpg")
    out = load_photo(tmp_path / "c.jpg")
    assert out.shape == (64, 64, 3) and out.min() >= 250


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_load_photo_errors(tmp_path, repo_root):
    with pytest.raises(InputError) as e:
        load_photo(tmp_path / "nope.jpg")
    assert "nope.jpg" in _one_line(e) and "does not exist" in str(e.value)

    (tmp_path / "notes.png").write_text("this is not a picture\n")
    with pytest.raises(InputError) as e:
        load_photo(tmp_path / "notes.png")
    assert "notes.png" in _one_line(e) and "not an image" in str(e.value)

    data = (repo_root / "examples" / "astronaut.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError) as e:
        load_photo(tmp_path / "cut.jpg")
    assert "cut.jpg" in _one_line(e) and "corrupt" in str(e.value)

    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    with pytest.raises(InputError) as e:
        load_photo(tmp_path / "junk.jpg")
    assert "junk.jpg" in _one_line(e)

    with pytest.raises(InputError) as e:
        load_photo(tmp_path)
    assert "not a file" in _one_line(e)

    Image.new("RGB", (63, 200), "white").save(tmp_path / "thin.png")
    with pytest.raises(InputError) as e:
        load_photo(tmp_path / "thin.png")
    assert "too small" in _one_line(e) and "63x200" in str(e.value)


# ------------------------------------------------------------------------------------------ alignment
def test_align_astronaut(astronaut):
    a = align_photo(astronaut, "dlib", name="astronaut.jpg")
    assert isinstance(a, AlignedPhoto)
    assert a.image.shape == (512, 512, 3) and a.image.dtype == np.uint8
    assert a.landmarks.shape == (68, 2) and a.landmarks.dtype == np.float32
    assert np.all(a.landmarks >= 0) and np.all(a.landmarks < 512)
    assert a.n_faces == 1
    assert a.crop == face_crop_box(a.box)
    p = a.landmarks
    # Framing like the original's own example (jaw span 0.61 of the crop, eyes at 0.48 of the height).
    assert 0.52 < (p[16, 0] - p[0, 0]) / 512 < 0.68
    assert 0.40 < p[36:48, 1].mean() / 512 < 0.52
    assert 0.40 < p[27:36, 0].mean() / 512 < 0.60
    # The landmarks belong to the crop: the source landmarks mapped through the crop agree.
    src = detect_faces(astronaut, "dlib")[0].landmarks
    x11, y11, size1 = a.crop
    mapped = (src - (x11, y11) + 0.5) * (512 / size1) - 0.5
    assert np.median(np.linalg.norm(mapped - p, axis=1)) < 6
    # The crop is the photo's pixels: compare a downsized crop with the source square.
    ref = cv2.resize(crop_square(astronaut, x11, y11, size1), (64, 64), interpolation=cv2.INTER_AREA)
    got = cv2.resize(a.image, (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(ref.astype(int) - got.astype(int)).mean() < 3


def test_blank_photo_has_no_face():
    with pytest.raises(NoFaceError) as e:
        align_photo(np.full((300, 300, 3), 255, np.uint8), "dlib", name="blank.png")
    assert _one_line(e) == "no face found in blank.png"


def test_small_face_is_rejected(astronaut):
    small = cv2.resize(astronaut, None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA)  # face ~40 px
    canvas = np.full((300, 300, 3), 255, np.uint8)
    canvas[: small.shape[0], : small.shape[1]] = small
    with pytest.raises(NoFaceError) as e:
        align_photo(canvas, "dlib", name="tiny.jpg")
    msg = _one_line(e)
    assert "small" in msg and "48" in msg and "tiny.jpg" in msg
    with pytest.raises(NoFaceError, match="small"):
        align_photo(astronaut, "dlib", min_face=200)


def test_largest_of_two_faces_is_used(astronaut, caplog):
    small = cv2.resize(astronaut, (300, 300), interpolation=cv2.INTER_AREA)
    canvas = np.full((520, 830, 3), 255, np.uint8)
    canvas[:300, :300] = small  # smaller copy at the left
    canvas[4:516, 310:822] = astronaut  # full-size copy at the right
    with caplog.at_level(logging.INFO, logger="pipeline.align"):
        a = align_photo(canvas, "dlib", name="two.png")
    assert a.n_faces == 2
    assert "found 2 faces" in caplog.text and "largest" in caplog.text
    x1, y1, x2, y2 = a.box
    assert x1 > 310  # the box lies on the right-hand (larger) copy
    single = align_photo(astronaut, "dlib")
    # Same face, same framing: the box is the single-photo box shifted by the paste offset.
    np.testing.assert_allclose(np.array(a.box), np.array(single.box) + (310, 4, 310, 4), atol=3)
