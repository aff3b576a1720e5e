"""End to end on the weight-free defaults: real dlib, real ffmpeg, real files."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import soundfile as sf

from common import read_landmark_file
from common.media import decode_audio, ffmpeg_exe, probe

REPO = Path(__file__).resolve().parents[2]
FPS = 25
pytestmark = pytest.mark.slow


def _main(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "main_end2end_module2.py"), *argv],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def speech_pause_speech(tmp_path_factory, example_speech) -> Path:
    """1.6 s of speech, 1.2 s of silence, 1.2 s of speech; 44.1 kHz stereo under a hostile file name."""
    audio = decode_audio(example_speech, 44100).samples
    sr = 44100
    voiced = np.flatnonzero(np.abs(audio) > 0.02)
    start = voiced[0]
    parts = [audio[start:start + int(1.6 * sr)], np.zeros(int(1.2 * sr), np.float32),
             audio[start + int(1.6 * sr):start + int(2.8 * sr)]]
    y = np.concatenate(parts)
    path = tmp_path_factory.mktemp("in") / "speech \"q\" ;$(touch pwned) ü.wav"
    sf.write(str(path), np.stack([y, y], axis=1), sr)
    return path


@pytest.fixture(scope="module")
def drawing_run(tmp_path_factory, example_photo, speech_pause_speech):
    work = tmp_path_factory.mktemp("run")
    photo = work / "my photo 'x' ;$(touch pwned2) é.jpg"
    shutil.copy(example_photo, photo)
    before = speech_pause_speech.read_bytes()
    proc = _main("--jpg", str(photo), "--audio", str(speech_pause_speech), "--exp", "formal/drawing",
                 "--size", "256", "--head_motion", "0", "--seed", "3", "--output_dir", str(work / "output"),
                 cwd=work)
    assert proc.returncode == 0, proc.stderr
    assert speech_pause_speech.read_bytes() == before, "the user's audio file was modified"
    assert not (work / "pwned").exists() and not (work / "pwned2").exists()
    run_dir = work / "output" / f"{photo.stem}-{speech_pause_speech.stem}"
    return run_dir, speech_pause_speech, proc


def test_products(drawing_run):
    run_dir, audio_path, proc = drawing_run
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "config_drawing--ep70.json", "landmark_seq.mp4", "landmarks", "output_drawing--ep70.mp4", "photo.png",
        "report.html"]
    assert "procedural" in proc.stderr and "classic" in proc.stderr  # says which back-ends and why
    assert not [p for p in run_dir.parent.iterdir() if p.name.startswith(".")]  # no staging left
    photo = cv2.imread(str(run_dir / "photo.png"))
    assert photo.shape == (512, 512, 3)


def test_video_stream(drawing_run):
    run_dir, audio_path, _ = drawing_run
    duration = sf.info(str(audio_path)).duration
    info = probe(run_dir / "output_drawing--ep70.mp4")
    assert (info.video_codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 256, 256)
    assert info.fps == FPS
    assert info.frames == round(duration * FPS)
    assert abs(info.duration - duration) <= 1 / FPS + 0.03
    assert info.audio_codec == "aac" and abs(info.audio_duration - duration) <= 1 / FPS + 0.03
    preview = probe(run_dir / "landmark_seq.mp4")
    assert preview.frames == info.frames and preview.audio_codec == "aac"


def _landmarks(run_dir: Path) -> np.ndarray:
    files = sorted((run_dir / "landmarks").glob("[0-9]*.txt"))
    return np.stack([read_landmark_file(f) for f in files])


def test_landmark_files(drawing_run):
    run_dir, audio_path, _ = drawing_run
    pts = _landmarks(run_dir)
    assert pts.shape == (round(sf.info(str(audio_path)).duration * FPS), 68, 2)
    assert ((pts >= 0) & (pts < 512)).all()
    src = read_landmark_file(run_dir / "landmarks" / "ori.txt")
    assert np.abs(pts[0] - src).max() < 30  # the sequence starts near the photo's own face


def _mouth_gap(pts: np.ndarray) -> np.ndarray:
    upper, lower = pts[:, [61, 62, 63]], pts[:, [67, 66, 65]]
    return np.linalg.norm(upper - lower, axis=-1).mean(axis=1)


def test_mouth_follows_speech_and_closes_in_silence(drawing_run):
    run_dir, audio_path, _ = drawing_run
    pts = _landmarks(run_dir)
    gap = _mouth_gap(pts)
    audio = decode_audio(audio_path, 16000).samples
    hop = 16000 // FPS
    env = np.array([np.sqrt(np.mean(audio[i * hop:(i + 1) * hop] ** 2)) if i * hop < len(audio) else 0.0
                    for i in range(len(gap))])
    corr = np.corrcoef(gap, env)[0, 1]
    assert corr > 0.4, corr
    silence = slice(int(1.75 * FPS), int(2.65 * FPS))  # inside the 1.6–2.8 s pause, away from its edges
    assert gap[silence].mean() < 0.2 * gap.max(), (gap[silence].mean(), gap.max())
    assert gap.max() > 3.0  # the mouth really opens (pixels at 512)


def _frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as box:
        return np.stack([f.to_ndarray(format="gray") for f in box.decode(video=0)]).astype(np.float32)


def test_still_head_changes_only_mouth_and_eyes(drawing_run):
    run_dir, _, _ = drawing_run
    frames = _frames(run_dir / "output_drawing--ep70.mp4")
    pts = _landmarks(run_dir) * (256 / 512)
    moving = np.zeros(frames.shape[1:], np.uint8)
    for p in pts:  # lower face (mouth, chin) and both eyes in any frame
        for idx in (list(range(3, 14)) + list(range(48, 60)), list(range(36, 42)), list(range(42, 48))):
            cv2.fillConvexPoly(moving, cv2.convexHull(np.round(p[idx]).astype(np.int32)), 1)
    moving = cv2.dilate(moving, np.ones((13, 13), np.uint8)).astype(bool)
    diffs = np.abs(np.diff(frames, axis=0))
    outside = diffs[:, ~moving].mean()
    inside = diffs[:, moving].mean()
    assert outside < 1.0, outside
    assert inside > 2 * outside, (inside, outside)


def test_cartoon_and_video_input(tmp_path, example_photo, short_speech):
    clip = tmp_path / "clip one.mp4"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-loop", "1", "-i", str(example_photo), "-i",
                    str(short_speech), "-t", "2", "-vf", "scale=512:512", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", str(clip)], check=True)
    proc = _main("--video", str(clip), "--exp", "formal/cartoon", "--size", "256", "--fps", "20", "-q",
                 "--output_dir", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == ""  # -q: errors only
    video = tmp_path / "out" / "clip one-clip one" / "output_cartoon--ep70.mp4"
    info = probe(video)
    assert info.fps == 20 and abs(info.frames - round(info.audio_duration * 20)) <= 1
    with av.open(str(video)) as box:
        rgb = next(box.decode(video=0)).to_ndarray(format="rgb24")
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    assert hsv[..., 1].mean() > 20  # a colour cartoon, not a grey drawing


def test_same_seed_same_landmarks(tmp_path, example_photo, short_speech):
    outs = []
    for i in range(2):
        proc = _main("--jpg", str(example_photo), "--audio", str(short_speech), "--size", "256", "--seed", "7",
                     "-q", "--output_dir", str(tmp_path / f"o{i}"), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        outs.append(_landmarks(tmp_path / f"o{i}" / f"astronaut-{short_speech.stem}"))
    np.testing.assert_array_equal(outs[0], outs[1])
