"""Fixtures for pipeline tests: the example media, cut short to keep the suite fast."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from common.media import ffmpeg_exe

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="session")
def example_photo() -> Path:
    path = EXAMPLES / "astronaut.jpg"
    if not path.is_file():
        pytest.skip("examples/astronaut.jpg missing")
    return path


@pytest.fixture(scope="session")
def example_speech() -> Path:
    path = EXAMPLES / "speech.wav"
    if not path.is_file():
        pytest.skip("examples/speech.wav missing")
    return path


@pytest.fixture(scope="session")
def short_speech(tmp_path_factory, example_speech) -> Path:
    """The first 3 s of the example speech (speech, then the start of the pause), as 44.1 kHz stereo."""
    out = tmp_path_factory.mktemp("speech") / "short speech.wav"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(example_speech), "-t", "3",
                    "-ar", "44100", "-ac", "2", str(out)], check=True)
    return out
