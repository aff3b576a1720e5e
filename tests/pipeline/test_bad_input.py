"""One test per bad input: one line on stderr, exit status 2, nothing written to the output folder.

In-process (``pipeline.cli.main``) to keep the suite fast; two cases run the real script as a
subprocess, so the entry point itself is covered too.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from trust_helpers import files_in, one_error, run_cli

REPO = Path(__file__).resolve().parents[2]


def _argv(tmp_path: Path, photo, audio, *extra: str) -> list[str]:
    return ["--jpg", str(photo), "--audio", str(audio), "--output_dir", str(tmp_path / "out"), "--size", "256",
            *extra]


def _assert_clean_failure(code: int, lines: list[str], tmp_path: Path, *words: str) -> None:
    assert code == 2, lines
    error = one_error(lines)
    assert any(w.lower() in error.lower() for w in words), error
    assert files_in(tmp_path / "out") == []


def _fails(tmp_path, capsys, photo, audio, *words, extra=()):
    code, lines = run_cli(_argv(tmp_path, photo, audio, *extra), capsys)
    _assert_clean_failure(code, lines, tmp_path, *words)


@pytest.fixture()
def silent_wav(tmp_path) -> Path:
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros(32000, np.float32), 16000)
    return path


def test_missing_photo_subprocess(tmp_path, example_speech):
    proc = subprocess.run([sys.executable, str(REPO / "main_end2end_module2.py"),
                           *_argv(tmp_path, tmp_path / "nope.jpg", example_speech)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    _assert_clean_failure(proc.returncode, lines, tmp_path, "nope.jpg")


def test_photo_is_a_directory(tmp_path, capsys, example_speech):
    (tmp_path / "dir.jpg").mkdir()
    _fails(tmp_path, capsys, tmp_path / "dir.jpg", example_speech, "dir.jpg")


def test_corrupt_photo(tmp_path, capsys, example_speech):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg" * 20)
    _fails(tmp_path, capsys, bad, example_speech, "bad.jpg")


def test_no_face(tmp_path, capsys, example_speech):
    blank = tmp_path / "blank.png"
    Image.new("RGB", (400, 400), "white").save(blank)
    _fails(tmp_path, capsys, blank, example_speech, "no face")


def test_face_too_small(tmp_path, capsys, example_photo, example_speech):
    small = Image.open(example_photo).convert("RGB").resize((90, 90))
    canvas = Image.new("RGB", (900, 900), "white")
    canvas.paste(small, (400, 400))
    path = tmp_path / "tiny face.png"
    canvas.save(path)
    _fails(tmp_path, capsys, path, example_speech, "small", "no face")


def test_missing_audio(tmp_path, capsys, example_photo):
    _fails(tmp_path, capsys, example_photo, tmp_path / "none.wav", "not found")


def test_corrupt_audio(tmp_path, capsys, example_photo):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage" * 50)
    _fails(tmp_path, capsys, example_photo, bad, "decode", "audio")


def test_empty_audio(tmp_path, capsys, example_photo):
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, np.float32), 16000)
    _fails(tmp_path, capsys, example_photo, empty, "empty", "short")


def test_silent_audio(tmp_path, capsys, example_photo, silent_wav):
    _fails(tmp_path, capsys, example_photo, silent_wav, "silent")


def test_audio_too_long(tmp_path, capsys, example_photo, example_speech):
    _fails(tmp_path, capsys, example_photo, example_speech, "max_seconds", extra=("--max_seconds", "1"))


def test_output_not_writable_subprocess(tmp_path, example_photo, short_speech):
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
