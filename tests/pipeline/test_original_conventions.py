"""The original's conventions on request: its test layout (``--dump_data``) for ``Module2/test.py``, its frame
rate and size (``--fps 62.5 --size 256``), and ``--video`` with ``--audio``."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from common import LandmarkSequence, read_landmark_file
from common.media import ffmpeg_exe, iter_frames, probe

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def half_second(tmp_path_factory, example_speech) -> Path:
    out = tmp_path_factory.mktemp("speech") / "hello.wav"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(example_speech), "-t", "0.5", str(out)], check=True)
    return out


def _main(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(REPO / "main_end2end_module2.py"), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_equal_rate_resample_is_the_identity():
    """At the landmark predictor's own 62.5 fps nothing is interpolated: the frames come out bit-identical."""
    rng = np.random.default_rng(0)
    pts = (rng.random((157, 68, 2)) * 512).astype(np.float32)
    seq = LandmarkSequence(pts, 62.5, pts[0])
    assert np.array_equal(seq.resample(62.5, len(seq)).points, pts)
    assert not np.array_equal(seq.resample(25.0).points, pts[: len(seq.resample(25.0))])  # other rates do resample


@pytest.mark.slow
def test_dump_data_runs_the_original_test_script_on_the_rendered_frames(tmp_path, example_photo, half_second):
    """``--renderer gan --fps 62.5 --size 256 --dump_data D``: test.py on D draws the very frames the video holds."""
    from Module2.models.networks import define_G

    ck = tmp_path / "ckpt"
    torch.manual_seed(0)
    net = define_G(3, 1, 8, "resnet_9blocks_rcatland32_full_ifw", "instance", False, "normal", 0.02, [], div=3, disp=3)
    (ck / "formal" / "drawing").mkdir(parents=True)
    torch.save(net.state_dict(), ck / "formal" / "drawing" / "70_net_G_A.pth")
    dump = tmp_path / "dump"
    proc = _main("--jpg", str(example_photo), "--audio", str(half_second), "--exp", "formal/drawing", "--checkpoints_dir",
                 str(ck), "--renderer", "gan", "--predictor", "procedural", "--fps", "62.5", "--size", "256",
                 "--output_dir", str(tmp_path / "out"), "--dump_data", str(dump), cwd=tmp_path)
    db = f"astronaut-{half_second.stem}"
    assert "python test.py --dataroot astronaut-hello" in proc.stderr
    run_dir = tmp_path / "out" / db
    n = len(list((run_dir / "landmarks").glob("[0-9]*.txt")))
    assert n == 31  # 0.5 s at 62.5 fps, one frame per landmark frame
    info = probe(run_dir / "output_drawing--ep70.mp4")
    assert (info.width, info.height, info.frames) == (256, 256, n) and abs(info.fps - 62.5) < 1e-6

    # the dump: the original's layout, the run's own landmarks, lists for test.py
    lists = dump / "lists"
    b = (lists / "testB" / f"{db}.txt").read_text().split()
    assert len(b) == n and len(set((lists / "testA" / f"{db}.txt").read_text().split())) == 1
    txt = dump / "Data" / "Alm_txt" / "MTCNN" / f"{db}_MTCNN"
    for k in (0, n // 2, n - 1):
        assert np.array_equal(read_landmark_file(txt / f"{k:05d}.txt"), read_landmark_file(run_dir / "landmarks" / f"{k:05d}.txt"))
    assert np.asarray(Image.open(dump / "Data" / "Photo" / f"{db}_MTCNN" / "ori.png")).shape == (512, 512, 3)

    res = tmp_path / "results"
    m = 8  # test.py recomputes the matte and the static drawing per frame: the first m frames are enough here
    cmd = [sys.executable, "test.py", "--dataroot", db, "--list_dir", str(lists), "--name", "formal/drawing", "--epoch", "70",
           "--model", "geomcgt_ifw_test", "--netG", "resnet_9blocks_rcatland32_full_ifw", "--netg_resb_div", "3",
           "--netg_resb_disp", "3", "--output_nc", "1", "--ngf", "8", "--serial_batches", "--imagefolder", db, "--blendbg", "1",
           "--num_test", str(m), "--checkpoints_dir", str(ck), "--results_dir", str(res)]
    t = subprocess.run(cmd, cwd=REPO / "Module2", capture_output=True, text=True, timeout=900)
    assert t.returncode == 0, t.stderr[-3000:]
    pngs = sorted((res / "formal" / "drawing" / "test_70" / db).glob("ori->*_fake_B.png"))
    assert len(pngs) == m
    # test.py's fake_B frames are the frames the pipeline's gan renderer produced from the same inputs, exactly
    # (rendered here one frame per batch, as test.py does, so that even the float summation order is the same)
    from Module2 import RenderConfig
    from Module2.renderers.gan import GanRenderer

    photo = np.asarray(Image.open(dump / "Data" / "Photo" / f"{db}_MTCNN" / "ori.png").convert("RGB"))
    seq = LandmarkSequence.load_frames(txt, 62.5)
    assert len(seq) == n
    renderer = GanRenderer(RenderConfig(style="drawing", size=256, checkpoints_dir=ck, batch_size=1, quiet=True))
    renderer.prepare(photo, seq.source)
    frames = list(renderer.render(LandmarkSequence(seq.points[:m], seq.fps, seq.source)))
    for k in range(m):
        assert np.array_equal(frames[k], np.asarray(Image.open(pngs[k]))[..., 0]), k
    # and the video holds them (up to H.264 on a random-weight generator's noisy texture)
    video = list(iter_frames(run_dir / "output_drawing--ep70.mp4", pix_fmt="gray"))
    assert len(video) == n and np.abs(video[m - 1].astype(float) - frames[m - 1]).mean() < 10
    assert np.abs(frames[0].astype(float) - frames[m - 1]).max() > 20  # the mouth moved


@pytest.mark.slow
def test_video_with_audio_takes_that_audio(tmp_path, example_photo, example_speech, half_second):
    clip = tmp_path / "clip.mp4"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-loop", "1", "-i", str(example_photo), "-i", str(example_speech),
                    "-t", "2", "-vf", "scale=512:-2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(clip)],
                   check=True)
    _main("--video", str(clip), "--audio", str(half_second), "--renderer", "classic", "--predictor", "procedural",
          "--size", "256", "--output_dir", str(tmp_path / "out"), cwd=tmp_path)
    run_dir = tmp_path / "out" / "clip-hello"
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) == ["clip-hello"]
    info = probe(run_dir / "output_drawing--ep70.mp4")
    assert info.frames == 12  # 0.5 s of the given speech at 25 fps, not the clip's 2 s
    assert abs(info.audio_duration - 0.5) < 0.1
