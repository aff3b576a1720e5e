"""The trust boundary, attacked: hostile checkpoints, URL-like names, path escapes, bad option values,
malformed media, kills. Each case ends in success or one ``error:`` line with exit status 2; nothing is
written outside the output folder and nothing from an input is executed.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
import uuid
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from trust_helpers import files_in, listening_socket, one_error, run_cli, snapshot

from common.media import VideoWriter, ffmpeg_exe

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "common"))
from test_checkpoint_safety import write_malicious_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def speech_1s(tmp_path_factory, example_speech) -> Path:
    """1.2 s of the example speech (mono 16 kHz): enough for a run, short enough to be quick."""
    out = tmp_path_factory.mktemp("speech") / "one second.wav"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(example_speech), "-t", "1.2", "-ar", "16000",
                    "-ac", "1", str(out)], check=True)
    return out


@pytest.fixture()
def work(tmp_path, monkeypatch) -> Path:
    """A scratch working folder (relative names resolve here); the output folder is ``work/out``."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _base(photo: Path, audio: Path, *extra: str) -> list[str]:
    return ["--jpg", str(photo), "--audio", str(audio), "--output_dir", "out", "--size", "256", "-q", *extra]


def _assert_nothing_outside(work: Path, before: set[str]) -> None:
    assert snapshot(work, skip=work / "out") == before


# -- code in checkpoints ----------------------------------------------------------------------------
@pytest.mark.parametrize("renderer", ["gan", "auto"])
def test_malicious_generator_checkpoint_never_runs(work, capsys, example_photo, speech_1s, renderer):
    marker = work / "PWNED"
    ckpt = work / "ck"
    write_malicious_checkpoint(ckpt / "formal" / "drawing" / "70_net_G_A.pth", marker)
    before = snapshot(work)
    code, lines = run_cli(_base(example_photo, speech_1s, "--checkpoints_dir", ckpt, "--renderer", renderer), capsys)
    assert code == 2
    err = one_error(lines)
    assert "70_net_G_A.pth" in err and "refusing" in err
    assert not marker.exists()
    assert files_in(work / "out") == []
    _assert_nothing_outside(work, before)


# -- names that look like URLs ----------------------------------------------------------------------
@pytest.mark.slow
def test_tcp_named_audio_is_read_as_a_file(work, capsys, example_photo, speech_1s):
    with listening_socket() as (port, hits):
        name = f"tcp:127.0.0.1:{port}"
        shutil.copy(speech_1s, work / name)
        code, lines = run_cli(_base(example_photo, Path(name)), capsys)
    assert code == 0, lines
    assert hits == []
    assert (work / "out" / f"astronaut-{Path(name).stem}" / "output_drawing--ep70.mp4").is_file()


@pytest.mark.slow
def test_video_with_colon_in_its_name(work, capsys, example_photo, speech_1s):
    frame = np.asarray(Image.open(example_photo).convert("RGB").resize((320, 320)))
    with VideoWriter(work / "v:ok.mp4", (320, 320), fps=25, channels=3, audio=speech_1s) as w:
        for _ in range(25):
            w.write(frame)
    code, lines = run_cli(["--video", "v:ok.mp4", "--output_dir", "out", "--size", "256", "-q"], capsys)
    assert code == 0, lines
    assert (work / "out" / "v:ok-v:ok" / "output_drawing--ep70.mp4").is_file()


# -- paths out of the output folder -----------------------------------------------------------------
def test_epoch_cannot_escape_the_output_folder(work, capsys, example_photo, speech_1s):
    target = f"ESCAPE_{uuid.uuid4().hex}"
    before = snapshot(work)
    code, lines = run_cli(_base(example_photo, speech_1s, "--epoch", f"x/../../../../tmp/{target}"), capsys)
    assert code == 2 and "--epoch" in one_error(lines)
    assert not list(Path("/tmp").glob(f"{target}*"))
    assert not (work / "out").exists()
    _assert_nothing_outside(work, before)


def test_run_refuses_path_parts_from_a_programmatic_config(work, example_photo, speech_1s):
    from common.errors import OutputError
    from pipeline.config import PipelineConfig
    from pipeline.run import run

    cfg = PipelineConfig(photo=example_photo, audio=speech_1s, epoch="x/../../../escape", output_dir=work / "out")
    with pytest.raises(OutputError, match="refusing"):
        run(cfg)
    assert not (work / "out").exists() and not (work / "escape.mp4").exists()


# -- option values ----------------------------------------------------------------------------------
BAD_OPTIONS = [
    ("--fps", "nan"), ("--fps", "0"), ("--fps", "inf"), ("--fps", "1e9"), ("--fps", "abc"),
    ("--seed", "-1"), ("--seed", "1.5"), ("--seed", str(2**40)),
    ("--gpu_ids", "abc"), ("--gpu_ids", "0,x"), ("--gpu_ids", "-2"),
    ("--head_motion", "nan"), ("--head_motion", "-1"),
    ("--max_seconds", "nan"), ("--max_seconds", "-1"), ("--max_seconds", "0"), ("--max_seconds", "inf"),
    ("--batch_size", "0"), ("--batch_size", "-3"),
    ("--amp_lip_x", "inf"), ("--amp_lip_y", "nan"), ("--amp_pos", "-5"), ("--emb_coef", "nan"),
    ("--size", "300"), ("--exp", "../x"), ("--exp", "/etc"), ("--exp", "a//b"), ("--epoch", "a/b"), ("--epoch", ".."),
    ("--landmarker", "nope"), ("--predictor", "nope"), ("--renderer", "nope"),
    ("--batch_siz", "3"),  # no abbreviations
]


@pytest.mark.parametrize("flag, value", BAD_OPTIONS)
def test_bad_option_value_is_one_line(work, capsys, flag, value):
    before = snapshot(work)
    code, lines = run_cli(["--jpg", "a.jpg", "--audio", "b.wav", flag, value], capsys)
    assert code == 2
    assert len(lines) == 1, lines
    line = one_error(lines)
    assert flag in line
    assert snapshot(work) == before


def test_option_fuzz(capsys):
    """Random tokens for every numeric flag: either a finite in-range value or one error line, exit 2."""
    from pipeline.cli import build_parser, config_from_args

    tokens = ["", " ", "0", "-0", "1", "+5", "3.0", "1e400", "-1e400", "1e-400", "0x10", "nan", "NaN", "-inf",
              "1_000", "\uff11", "\u0663", "2.5e1", "120", "120.0001", "600", "86401", "-", "--", "1,2", "0,1", "-1"]
    flags = ["--fps", "--seed", "--gpu_ids", "--head_motion", "--max_seconds", "--batch_size", "--amp_lip_x",
             "--amp_lip_y", "--amp_pos", "--emb_coef"]
    rng = random.Random(8)
    for _ in range(150):
        flag, token = rng.choice(flags), rng.choice(tokens)
        argv = ["--jpg", "a.jpg", "--audio", "b.wav", f"{flag}={token}"]
        try:
            ns = build_parser().parse_args(argv)
        except SystemExit as exc:
            lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
            assert exc.code == 2 and len(lines) == 1 and lines[0].startswith("error:") and flag in lines[0], (argv, lines)
            continue
        cfg = config_from_args(ns)
        for value in (cfg.fps, cfg.max_seconds, cfg.module1.head_motion, cfg.module1.amp_lip_x, cfg.module1.emb_coef):
            assert np.isfinite(value) and value >= 0, argv
        assert 0 < cfg.fps <= 120 and 0 < cfg.max_seconds and cfg.seed >= 0 and cfg.module2.batch_size >= 1


# -- malformed media --------------------------------------------------------------------------------
def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's calling card)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return path


def _truncated(src: Path, dst: Path, frac: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * frac)])
    return dst


MEDIA_CASES = ["truncated_wav_header", "zero_length_wav", "jpeg_named_wav", "wav_named_jpg", "huge_png",
               "truncated_photo", "zero_length_video", "truncated_video", "text_as_video", "wav_as_video_no_frame", "huge_video"]


@pytest.mark.parametrize("case", MEDIA_CASES)
def test_malformed_media_is_one_line(work, capsys, example_photo, speech_1s, case):
    photo, audio, video = example_photo, speech_1s, None
    if case == "truncated_wav_header":
        audio = _truncated(speech_1s, work / "cut.wav", 0.001)
    elif case == "zero_length_wav":
        audio = work / "empty.wav"
        audio.write_bytes(b"")
    elif case == "jpeg_named_wav":
        audio = work / "photo.wav"
        shutil.copy(example_photo, audio)
    elif case == "wav_named_jpg":
        photo = work / "speech.jpg"
        shutil.copy(speech_1s, photo)
    elif case == "huge_png":
        photo = _png_header_only(work / "huge.png", 60000, 60000)
    elif case == "truncated_photo":
        photo = _truncated(example_photo, work / "half.jpg", 0.3)
    elif case == "zero_length_video":
        video = work / "empty.mp4"
        video.write_bytes(b"")
    elif case == "truncated_video":
        good = work / "good.mp4"
        with VideoWriter(good, (64, 64), fps=25, channels=3, audio=speech_1s) as w:
            for _ in range(10):
                w.write(np.zeros((64, 64, 3), np.uint8))
        video = _truncated(good, work / "cut.mp4", 0.05)
    elif case == "text_as_video":
        video = work / "notes.mp4"
        video.write_text("ffconcat version 1.0\nfile /etc/passwd\n")
    elif case == "huge_video":  # one white 8200x8000 PNG frame: tiny file, 66 megapixels to decode
        video = work / "huge.mkv"
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "color=c=white:s=8200x8000",
                        "-frames:v", "1", "-c:v", "png", str(video)], check=True)
    elif case == "wav_as_video_no_frame":
        video = work / "speech.mp4"
        shutil.copy(speech_1s, video)
    argv = (["--video", video, "--output_dir", "out", "--size", "256", "-q"] if video is not None
            else _base(photo, audio))
    before = snapshot(work)
    code, lines = run_cli(argv, capsys)
    assert code == 2, lines
    one_error(lines)
    assert files_in(work / "out") == []
    _assert_nothing_outside(work, before)


def test_antiphase_stereo_is_speech_not_silence(work, example_photo, example_speech):
    from pipeline.config import PipelineConfig
    from pipeline.run import load_inputs

    x, sr = sf.read(str(example_speech), dtype="float32")
    x = x if x.ndim == 1 else x[:, 0]
    stereo = work / "antiphase.wav"
    sf.write(str(stereo), np.stack([x, -x], axis=1), sr, subtype="PCM_16")
    _, audio, _ = load_inputs(PipelineConfig(photo=example_photo, audio=stereo))
    assert audio.rms_dbfs() > -30.0
    mono = work / "mono.wav"
    sf.write(str(mono), x, sr, subtype="PCM_16")
    _, ref, _ = load_inputs(PipelineConfig(photo=example_photo, audio=mono))
    assert np.allclose(audio.samples, ref.samples, atol=1e-4)


# -- kills ------------------------------------------------------------------------------------------
def _start(work: Path, photo: Path, audio: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, str(REPO / "main_end2end_module2.py"), *_base(photo, audio)],
                            cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_staging(work: Path, proc: subprocess.Popen, timeout: float = 120.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((work / "out").glob(".partial-*"))
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no staging folder appeared (exit {proc.poll()})")


@pytest.mark.slow
def test_sigterm_removes_staging_and_exits_143(work, example_photo, example_speech):
    proc = _start(work, example_photo, example_speech)
    _wait_for_staging(work, proc)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "SIGTERM" in lines[0], lines
    assert files_in(work / "out") == [] and not list((work / "out").iterdir())


@pytest.mark.slow
def test_sigkill_leftovers_are_removed_by_the_next_run(work, capsys, example_photo, example_speech):
    proc = _start(work, example_photo, example_speech)
    stage = _wait_for_staging(work, proc)
    time.sleep(0.5)
    proc.kill()
    proc.communicate(timeout=60)
    assert stage.is_dir()  # SIGKILL cannot be cleaned up by the killed run itself
    blank = work / "blank.png"
    Image.new("RGB", (300, 300), "white").save(blank)
    code, lines = run_cli(_base(blank, example_speech), capsys)  # fails (no face) after staging
    assert code == 2 and "face" in one_error(lines)
    assert not stage.exists() and not list((work / "out").iterdir())
