"""pipeline.align_worker: the photo aligned in a child process gives what aligning it here gives."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.errors import InputError, NoFaceError
from pipeline import align_worker
from pipeline.align import align_photo, load_photo


def test_same_result_as_in_process(example_photo):
    early = align_worker.start(example_photo, None, "dlib", quiet=True)
    assert early is not None and early.matches(example_photo, None, "dlib")
    got = early.result()
    want = align_photo(load_photo(example_photo), landmarker="dlib")
    assert np.array_equal(got.image, want.image) and got.image.dtype == np.uint8
    assert np.array_equal(got.landmarks, want.landmarks) and got.landmarks.dtype == np.float32
    assert got.box == pytest.approx(want.box, abs=0) and tuple(got.crop) == tuple(want.crop)
    assert got.n_faces == want.n_faces >= 1
    assert early.result() is None  # collected once


def test_user_error_comes_back_as_the_same_error(tmp_path):
    blank = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (200, 190, 180)).save(blank)
    with pytest.raises(NoFaceError) as in_process:
        align_photo(load_photo(blank), landmarker="dlib", name=blank.name)
    early = align_worker.start(blank, None, "dlib", quiet=True)
    assert early is not None
    with pytest.raises(NoFaceError) as from_child:
        early.result()
    assert str(from_child.value) == str(in_process.value) == "no face found in wall.png"

    missing = align_worker.start(tmp_path / "none.jpg", None, "dlib", quiet=True)
    assert missing is not None
    with pytest.raises(InputError, match="does not exist"):
        missing.result()


def test_unknown_landmarker_is_a_user_error(example_photo):
    early = align_worker.start(example_photo, None, "no-such-landmarker", quiet=True)
    assert early is not None
    with pytest.raises(InputError, match="unknown landmarker 'no-such-landmarker'"):
        early.result()


def test_a_dead_child_leaves_it_to_the_caller(example_photo):
    early = align_worker.start(example_photo, None, "dlib", quiet=True)
    assert early is not None and early._proc is not None
    early._proc.kill()  # e.g. killed by the OOM killer: no header, no result
    assert early.result() is None  # the caller aligns the photo itself


def test_matches_only_the_same_inputs(example_photo, tmp_path):
    early = align_worker.start(example_photo, None, "auto", quiet=True)
    assert early is not None
    with early:
        assert early.matches(example_photo, None, "auto")
        assert not early.matches(tmp_path / "other.jpg", None, "auto")
        assert not early.matches(example_photo, None, "dlib")
        assert not early.matches(None, example_photo, "auto")  # a video's first frame is another input
    assert early._proc is None  # closed on leaving the block


def test_close_stops_the_child(example_photo):
    early = align_worker.start(example_photo, None, "dlib", quiet=True)
    assert early is not None
    proc = early._proc
    assert proc is not None
    early.close()
    deadline = time.monotonic() + 5
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.returncode is not None
    assert early.result() is None


def test_a_name_like_an_option(example_photo, tmp_path, monkeypatch):
    odd = tmp_path / "-h --quiet.jpg"
    odd.write_bytes(example_photo.read_bytes())
    monkeypatch.chdir(tmp_path)  # a relative name that starts with "-"
    early = align_worker.start(Path("-h --quiet.jpg"), None, "dlib", quiet=True)
    assert early is not None
    got = early.result()
    assert got is not None and got.image.shape == (512, 512, 3)


def test_nothing_to_align():
    assert align_worker.start(None, None, "auto", quiet=True) is None


@pytest.mark.parametrize("argv", [
    ["--jpg", "PHOTO", "--audio", "a.wav"],
    ["--audio", "a.wav", "--jpg=PHOTO", "-q"],
    ["--exp", "formal/drawing", "--jpg", "PHOTO", "--landmarker", "dlib"],
])
def test_start_from_argv(argv, example_photo):
    argv = [a.replace("PHOTO", str(example_photo)) for a in argv]
    early = align_worker.start_from_argv(argv)
    assert early is not None
    with early:
        want = "dlib" if "dlib" in argv else "auto"
        assert early.matches(example_photo, None, want)


@pytest.mark.parametrize("argv", [
    ["--help", "--jpg", "x.jpg"],
    ["--batch", "jobs.yaml", "--jpg", "x.jpg"],
    ["--batch=jobs.yaml"],
    ["--jpg"],
    ["--jpg", "a.jpg", "--jpg", "b.jpg"],  # unclear: the CLI decides
    ["--audio", "a.wav"],
    [],
])
def test_start_from_argv_starts_nothing(argv):
    assert align_worker.start_from_argv(argv) is None


def test_cli_replaces_a_child_for_other_inputs(example_photo, short_speech, tmp_path):
    from pipeline.cli import main

    wrong = align_worker.start(tmp_path / "not the photo.jpg", None, "auto", quiet=True)
    assert wrong is not None
    proc = wrong._proc
    code = main(["--jpg", str(example_photo), "--audio", str(short_speech), "--output_dir", str(tmp_path / "out"),
                 "--size", "256", "-q"], early=wrong)
    assert code == 0 and proc is not None and proc.poll() is not None  # stopped, and the run still worked
    assert len(list((tmp_path / "out").glob("*/output_*.mp4"))) == 1


@pytest.mark.parametrize("video", [False, True])
def test_cli_uses_the_child(example_photo, short_speech, tmp_path, monkeypatch, video):
    """A CLI run takes the child's alignment: the photo is never aligned in the CLI's own process."""
    import subprocess

    import pipeline.run
    from common.media import ffmpeg_exe
    from pipeline.cli import main

    def not_here(*args, **kwargs):
        raise AssertionError("aligned in the CLI's process")

    monkeypatch.setattr(pipeline.run, "align_photo", not_here)
    if video:
        clip = tmp_path / "clip.mp4"
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-loop", "1", "-i", str(example_photo), "-i", str(short_speech),
                        "-t", "1.5", "-vf", "scale=480:-2", "-pix_fmt", "yuv420p", "-shortest", str(clip)], check=True)
        args = ["--video", str(clip)]
    else:
        args = ["--jpg", str(example_photo), "--audio", str(short_speech)]
    code = main([*args, "--output_dir", str(tmp_path / "out"), "--size", "256", "-q"])
    assert code == 0
    assert len(list((tmp_path / "out").glob("*/output_*.mp4"))) == 1
