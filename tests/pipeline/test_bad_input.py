"""One test per bad input: one line on stderr, exit status 2, nothing written to the output folder."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, photo, audio, *extra: str) -> subprocess.CompletedProcess:
    out = tmp_path / "out"
    return subprocess.run(
        [sys.executable, str(REPO / "main_end2end_module2.py"), "--jpg", str(photo), "--audio", str(audio),
         "--output_dir", str(out), "--size", "256", *extra],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )


def _assert_clean_failure(proc: subprocess.CompletedProcess, tmp_path: Path, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert any(w.lower() in errors[0].lower() for w in words), errors[0]
    out = tmp_path / "out"
    leftovers = [p for p in out.rglob("*")] if out.exists() else []
    assert leftovers == [], leftovers


@pytest.fixture()
def silent_wav(tmp_path) -> Path:
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros(32000, np.float32), 16000)
    return path


def test_missing_photo(tmp_path, example_speech):
    _assert_clean_failure(_run(tmp_path, tmp_path / "nope.jpg", example_speech), tmp_path, "not found", "nope.jpg")


def test_photo_is_a_directory(tmp_path, example_speech):
    (tmp_path / "dir.jpg").mkdir()
    _assert_clean_failure(_run(tmp_path, tmp_path / "dir.jpg", example_speech), tmp_path, "dir.jpg")


def test_corrupt_photo(tmp_path, example_speech):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg" * 20)
    _assert_clean_failure(_run(tmp_path, bad, example_speech), tmp_path, "bad.jpg")


def test_no_face(tmp_path, example_speech):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (400, 400), "white").save(blank)
    _assert_clean_failure(_run(tmp_path, blank, example_speech), tmp_path, "no face")


def test_face_too_small(tmp_path, example_photo, example_speech):
    small = Image.open(example_photo).convert("RGB").resize((90, 90))
    canvas = Image.new("RGB", (900, 900), "white")
    canvas.paste(small, (400, 400))
    path = tmp_path / "tiny face.png"
    canvas.save(path)
    _assert_clean_failure(_run(tmp_path, path, example_speech), tmp_path, "small", "no face")


def test_missing_audio(tmp_path, example_photo):
    _assert_clean_failure(_run(tmp_path, example_photo, tmp_path / "none.wav"), tmp_path, "not found")


def test_corrupt_audio(tmp_path, example_photo):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage" * 50)
    _assert_clean_failure(_run(tmp_path, example_photo, bad), tmp_path, "decode", "audio")


def test_empty_audio(tmp_path, example_photo):
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, np.float32), 16000)
    _assert_clean_failure(_run(tmp_path, example_photo, empty), tmp_path, "empty", "short")


def test_silent_audio(tmp_path, example_photo, silent_wav):
    _assert_clean_failure(_run(tmp_path, example_photo, silent_wav), tmp_path, "silent")


def test_audio_too_long(tmp_path, example_photo, example_speech):
    _assert_clean_failure(_run(tmp_path, example_photo, example_speech, "--max_seconds", "1"), tmp_path,
                          "max_seconds")


def test_output_not_writable(tmp_path, example_photo, short_speech):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    proc = subprocess.run(
        [sys.executable, str(REPO / "main_end2end_module2.py"), "--jpg", str(example_photo), "--audio",
         str(short_speech), "--output_dir", str(blocker / "out"), "--size", "256"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "output" in errors[0]
    assert blocker.read_text().startswith("a file")
