"""--transcript: text or a .txt file reaches the landmark predictor's config; a missing file is a user error."""
from __future__ import annotations

import pytest

from common import UserError
from pipeline.cli import build_parser, config_from_args, main

BASE = ["--jpg", "examples/astronaut.jpg", "--audio", "examples/speech.wav"]


def test_text_reaches_the_predictor_config():
    cfg = config_from_args(build_parser().parse_args(BASE + ["--transcript", "the quick brown fox"]))
    assert cfg.module1.transcript == "the quick brown fox"
    assert config_from_args(build_parser().parse_args(BASE)).module1.transcript is None


def test_txt_file_is_read(tmp_path):
    p = tmp_path / "words.txt"
    p.write_text("Then the sun went down.\n", encoding="utf-8")
    cfg = config_from_args(build_parser().parse_args(BASE + ["--transcript", str(p)]))
    assert cfg.module1.transcript is not None and cfg.module1.transcript.strip() == "Then the sun went down."


def test_missing_txt_file_is_one_line_error(tmp_path, capsys):
    missing = tmp_path / "nope.txt"
    with pytest.raises(UserError, match="--transcript file not found"):
        config_from_args(build_parser().parse_args(BASE + ["--transcript", str(missing)]))
    assert main(BASE + ["--transcript", str(missing), "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--transcript file not found" in err[0]
    assert not (tmp_path / "out").exists()
