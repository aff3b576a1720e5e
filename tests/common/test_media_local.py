"""Media paths are local files: names that look like ffmpeg URLs are opened as files, never as protocols."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from common.media import VideoWriter, decode_audio, extract_first_frame, probe
from tests.pipeline.trust_helpers import listening_socket

SPEECH = Path(__file__).resolve().parents[2] / "examples" / "speech.wav"


@pytest.fixture(scope="module")
def example_speech() -> Path:
    if not SPEECH.is_file():
        pytest.skip("examples/speech.wav missing")
    return SPEECH



@pytest.fixture()
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # relative names like 'a:b.wav' are resolved against the working folder
    return tmp_path


def test_tcp_named_wav_is_a_file_not_a_connection(in_tmp, example_speech):
    with listening_socket() as (port, hits):
        name = f"tcp:127.0.0.1:{port}"
        shutil.copy(example_speech, in_tmp / name)
        audio = decode_audio(name)
        info = probe(name)
    assert hits == []
    assert audio.duration == pytest.approx(decode_audio(example_speech).duration)
    assert info.audio_codec is not None


@pytest.mark.parametrize("name", ["a:b.wav", "./a:b.wav", "concat:x.wav", "file:y.wav", "-i.wav", "pipe:0.wav"])
def test_colon_and_dash_names_decode(in_tmp, example_speech, name):
    shutil.copy(example_speech, in_tmp / Path(name).name)
    audio = decode_audio(name)
    assert audio.duration > 8.0 and float(np.abs(audio.samples).max()) > 0.01


def test_video_with_colon_name(in_tmp, example_speech):
    clip = in_tmp / "v:ok.mp4"
    with VideoWriter(clip, (64, 64), fps=25, channels=3, audio=example_speech) as w:
        for i in range(10):
            w.write(np.full((64, 64, 3), i * 20, np.uint8))
    assert clip.is_file()
    frame = extract_first_frame("v:ok.mp4")
    assert frame.shape == (64, 64, 3)
    info = probe("v:ok.mp4")
    assert info.frames == 10 and info.audio_codec == "aac"


def test_writer_output_folder_with_colon(in_tmp):
    out = Path("tcp:127.0.0.1:9") / "out.mp4"  # relative output path that looks like a URL
    with VideoWriter(out, (32, 32), fps=25, channels=1) as w:
        for _ in range(3):
            w.write(np.zeros((32, 32), np.uint8))
    assert (in_tmp / out).is_file() and probe(in_tmp / out).frames == 3
