"""pipeline.align keeps each photo's alignment between runs: a second run skips the face detector and gets
exactly the result the detector gives."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pipeline.align as align
from common.errors import NoFaceError
from pipeline import align_worker
from pipeline.align import AlignedPhoto, align_photo, load_photo


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ANIMATE_PORTRAIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture()
def calls(monkeypatch):
    """How many times the face detector ran."""
    n = []
    real = align.detect_faces

    def counting(*args, **kwargs):
        n.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(align, "detect_faces", counting)
    return n


def _same(a: AlignedPhoto, b: AlignedPhoto) -> None:
    assert np.array_equal(a.image, b.image) and a.image.dtype == b.image.dtype == np.uint8
    assert np.array_equal(a.landmarks, b.landmarks) and a.landmarks.dtype == b.landmarks.dtype == np.float32
    assert a.box == b.box and tuple(a.crop) == tuple(b.crop) and a.n_faces == b.n_faces


def _uncached(image: np.ndarray, monkeypatch, **kw) -> AlignedPhoto:
    with monkeypatch.context() as m:
        m.setenv("ANIMATE_PORTRAIT_CACHE", "off")
        return align_photo(image, **kw)


def test_same_photo_again_skips_the_detector(cache, calls, example_photo, monkeypatch):
    photo = load_photo(example_photo)
    first = align_photo(photo, "dlib")
    assert len(calls) == 2  # the photo, then the 512 crop
    kept = list((cache / "align").iterdir())
    assert len(kept) == 1 and kept[0].stat().st_size < 4096  # no image in it
    again = align_photo(photo, "dlib")
    assert len(calls) == 2
    _same(again, first)
    _same(again, _uncached(photo, monkeypatch, landmarker="dlib"))


def test_the_key_is_the_pixels_and_the_settings(cache, calls, example_photo):
    photo = load_photo(example_photo)
    align_photo(photo, "dlib")
    other = photo.copy()
    other[0, 0, 0] ^= 1  # one bit of one pixel
    align_photo(other, "dlib")
    align_photo(photo, "dlib", min_face=40)
    assert len(calls) == 6 and len(list((cache / "align").iterdir())) == 3
    align_photo(other, "dlib")
    assert len(calls) == 6


def test_damaged_or_forged_entries_are_not_used(cache, calls, example_photo, monkeypatch):
    photo = load_photo(example_photo)
    want = _uncached(photo, monkeypatch, landmarker="dlib")
    align_photo(photo, "dlib")
    (entry,) = (cache / "align").iterdir()
    good = entry.read_bytes()
    forged = dict(landmarks=np.zeros((68, 2), np.float32), box=np.zeros(4), n_faces=np.int64(1))
    bad_entries = [good[:100], b"", good.replace(b"landmarks", b"landmarkz")]
    for crop in ([0, 0, 1 << 30], [10**6, 0, 512], [0, 0, 0], [0, 0, -5]):  # a huge square, off the photo, empty
        entry.unlink()
        np.savez(entry, crop=np.array(crop, np.int64), **forged)
        bad_entries.append(entry.read_bytes())
    for n, bad in enumerate(bad_entries, 1):
        entry.write_bytes(bad)
        _same(align_photo(photo, "dlib"), want)
        assert len(calls) == 4 + 2 * n, n  # not trusted: detected again
        assert entry.read_bytes() == good  # and kept again, well-formed


def test_off_keeps_nothing(tmp_path, calls, example_photo, monkeypatch):
    monkeypatch.setenv("ANIMATE_PORTRAIT_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    photo = load_photo(example_photo)
    align_photo(photo, "dlib")
    align_photo(photo, "dlib")
    assert len(calls) == 4
    assert not list(tmp_path.rglob("*.npz"))


def test_no_face_is_not_kept(cache, calls):
    wall = np.full((240, 320, 3), 190, np.uint8)
    for _ in range(2):
        with pytest.raises(NoFaceError):
            align_photo(wall, "dlib")
    assert len(calls) == 2 and not (cache / "align").exists()


def test_warm_child_gives_the_detectors_result(cache, example_photo, tmp_path, monkeypatch):
    """The align child of a CLI run, on a photo it has seen, against aligning from scratch here."""
    copy = tmp_path / "same.png"
    Image.open(example_photo).save(copy)  # another file, the same pixels: the same entry
    want = _uncached(load_photo(example_photo), monkeypatch, landmarker="auto")
    for path in (example_photo, copy):  # the first child detects and keeps, the second one reads
        early = align_worker.start(path, None, "auto", quiet=True)
        assert early is not None
        _same(early.result(), want)
    assert len(list((cache / "align").iterdir())) == 1


def test_the_cli_makes_the_same_video_with_or_without_the_cache(tmp_path, example_photo, short_speech):
    """Cache off, an empty cache, then the same photo again (its alignment kept): the same frames, landmarks."""
    import os
    import subprocess
    import sys

    from common import read_landmark_file
    from common.media import iter_frames

    repo = Path(__file__).resolve().parents[2]
    outs = []
    for n, cache in enumerate(["off", str(tmp_path / "cache"), str(tmp_path / "cache")]):
        out = tmp_path / f"out{n}"
        env = dict(os.environ, ANIMATE_PORTRAIT_CACHE=cache)
        proc = subprocess.run([sys.executable, str(repo / "main_end2end_module2.py"), "--jpg", str(example_photo),
                               "--audio", str(short_speech), "--size", "256", "--output_dir", str(out), "-q"],
                              capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        (run_dir,) = out.iterdir()
        outs.append(run_dir)
        if n == 1:
            assert len(list((tmp_path / "cache" / "align").iterdir())) == 1
    first = outs[0]
    frames = [np.stack(list(iter_frames(d / "output_drawing--ep70.mp4", pix_fmt="gray"))) for d in outs]
    assert frames[0].shape[0] == 75 and frames[0].std() > 10  # 3 s at 25 fps, a drawing
    for d, f in zip(outs[1:], frames[1:]):
        assert np.array_equal(f, frames[0])
        assert np.array_equal(np.asarray(Image.open(d / "photo.png")), np.asarray(Image.open(first / "photo.png")))
        for txt in sorted((first / "landmarks").glob("*.txt"))[::10]:
            assert np.array_equal(read_landmark_file(d / "landmarks" / txt.name), read_landmark_file(txt))
