"""Batch jobs: jobs file parsing through the CLI's parser, parallel runs, skip on rerun, Dask."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import soundfile as sf

from common.media import decode_audio
from pipeline import batch
from pipeline.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]


def _jobs(tmp: Path, text: str, name: str = "jobs.yaml", *extra: str) -> list[batch.Job]:
    f = tmp / name
    f.write_text(text)
    parser = build_parser()
    ns = parser.parse_args(["--batch", str(f), "--output_dir", str(tmp / "out"), *extra])
    return batch.parse_jobs(batch.read_jobs(f), parser, ns, f.parent)


# ------------------------------------------------------------------------ parsing (fast)
def test_yaml_jobs_use_the_cli_parser_and_defaults(tmp_path):
    jobs = _jobs(tmp_path, """
jobs:
  - {jpg: a.jpg, audio: speech.wav}
  - {jpg: /abs/b.png, audio: s2.wav, exp: formal/cartoon, seed: 7, size: 512, name: cartoon}
  - {video: clip.mp4, head_motion: 0, quiet: false}
""", "jobs.yaml", "--size", "256")
    assert [j.error for j in jobs] == [None, None, None]
    a, b, c = (j.cfg for j in jobs)
    assert a.photo == tmp_path / "a.jpg" and a.audio == tmp_path / "speech.wav"  # relative to the file
    assert a.size == 256 and a.module2.size == 256 and a.module2.style == "drawing"  # batch-wide option
    assert b.photo == Path("/abs/b.png") and b.module2.style == "cartoon" and b.seed == 7 and b.size == 512
    assert jobs[1].name == "cartoon" and jobs[0].name == "a-speech/drawing--ep70"
    assert c.video == tmp_path / "clip.mp4" and c.module1.head_motion == 0.0
    assert all(cfg.quiet and cfg.module1.quiet and cfg.module2.quiet for cfg in (a, b, c))
    assert a.output_dir == tmp_path / "out"


def test_csv_jobs(tmp_path):
    jobs = _jobs(tmp_path, "jpg,audio,seed,exp\na.jpg,s.wav,1,\nb.jpg,s.wav,,formal/cartoon\n", "jobs.csv")
    assert [j.cfg.seed for j in jobs] == [1, 0]
    assert [j.cfg.module2.style for j in jobs] == ["drawing", "cartoon"]


def test_bad_entries_are_per_job_errors(tmp_path):
    jobs = _jobs(tmp_path, """
- {jpg: a.jpg, audio: s.wav, colour: red}
- {jpg: a.jpg, audio: s.wav, size: 300}
- {jpg: a.jpg}
- {jpg: a.jpg, audio: s.wav, fps: nan}
- {jpg: a.jpg, audio: s.wav}
- {jpg: a.jpg, audio: s.wav, batch_siz: 2}
- {jpg: a.jpg, audio: s.wav, name: again}
""")
    errors = [j.error for j in jobs]
    assert "unknown option 'colour'" in errors[0]
    assert "300" in errors[1] and "--size" in errors[1]
    assert "--audio" in errors[2]
    assert "--fps" in errors[3]
    assert errors[4] is None and jobs[4].cfg is not None
    assert "unknown option 'batch_siz'" in errors[5]  # no abbreviations
    assert errors[6] == f"writes the same video as job 5 ({jobs[4].video})"


@pytest.mark.parametrize("text, msg", [
    ("[]", "holds no jobs"),
    ("jpg: a.jpg", "holds no jobs"),
    ("- [1, 2]", "job 1 is not a mapping"),
    ("- {jpg: a.jpg\n", "not valid YAML"),
])
def test_bad_jobs_file(tmp_path, text, msg):
    f = tmp_path / "jobs.yaml"
    f.write_text(text)
    with pytest.raises(batch.BatchError, match=msg):
        batch.read_jobs(f)


def test_cli_bad_jobs_file_is_one_line(tmp_path, capsys):
    assert main(["--batch", str(tmp_path / "none.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot read jobs file")
    assert main(["--batch", str(tmp_path / "none.yaml"), "--cluster", "remote:2"]) == 2
    assert main(["--jpg", "a.jpg", "--audio", "b.wav", "--cluster", "local:2"]) == 2


def test_format_table():
    rows = [batch.JobResult(1, "a", "done", 3.21, "/o/a.mp4"), batch.JobResult(2, "b", "failed", 0.0, "", "no face")]
    lines = batch.format_table(rows).splitlines()
    assert lines[0].split() == ["job", "status", "seconds", "output"]
    assert lines[1].split() == ["1:a", "done", "3.2", "/o/a.mp4"]
    assert lines[2].split()[:3] == ["2:b", "failed", "0.0"] and lines[2].endswith("error: no face")


# ----------------------------------------------------------------------- real runs (slow)
@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("batch_media")
    speech = decode_audio(REPO / "examples" / "speech.wav", 16000).samples
    sf.write(str(d / "one.wav"), speech[: int(1.2 * 16000)], 16000)
    sf.write(str(d / "two.wav"), speech[16000: int(2.0 * 16000)], 16000)
    shutil.copy(REPO / "examples" / "astronaut.jpg", d / "face.jpg")
    cv2.imwrite(str(d / "wall.png"), np.full((320, 320, 3), 128, np.uint8))  # no face in it
    return d


def _frames(video: Path) -> list[np.ndarray]:
    """Decoded frames as raw yuv420p planes (mp4 bytes may differ by muxer metadata; pictures must not)."""
    with av.open(str(video)) as box:
        return [f.to_ndarray() for f in box.decode(video=0)]


def _assert_same_products(a: Path, b: Path, postfix: str = "drawing--ep70") -> None:
    la, lb = sorted((a / "landmarks").iterdir()), sorted((b / "landmarks").iterdir())
    assert [p.name for p in la] == [p.name for p in lb] and len(la) > 10
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(la, lb))
    fa, fb = _frames(a / f"output_{postfix}.mp4"), _frames(b / f"output_{postfix}.mp4")
    assert len(fa) == len(fb) > 10
    assert all(np.array_equal(x, y) for x, y in zip(fa, fb))


@pytest.mark.slow
def test_three_jobs_one_bad_then_rerun_skips(media, tmp_path, capsys):
    jobs = media / "jobs.yaml"
    jobs.write_text("""
- {jpg: face.jpg, audio: one.wav}
- {jpg: wall.png, audio: one.wav, name: no-face}
- {jpg: face.jpg, audio: two.wav, seed: 3}
""")
    out = tmp_path / "out"
    argv = ["--batch", str(jobs), "--workers", "2", "--size", "256", "--output_dir", str(out), "-q"]
    assert main(argv) == 1
    table = capsys.readouterr().out
    rows = {line.split()[0]: line for line in table.splitlines()[1:4]}
    assert rows["1:face-one/drawing--ep70"].split()[1] == "done"
    assert rows["2:no-face"].split()[1] == "failed" and "error: no face found" in rows["2:no-face"].lower()
    assert rows["3:face-two/drawing--ep70"].split()[1] == "done"
    assert "2 done, 0 skipped, 1 failed (2 photo(s) aligned, 2 stylisation(s))" in table  # face.jpg once
    videos = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mp4") if p.name.startswith("output_"))
    assert videos == ["face-one/output_drawing--ep70.mp4", "face-two/output_drawing--ep70.mp4"]
    assert not (out / "wall-one").exists() and not [p for p in out.iterdir() if p.name.startswith(".partial")]
    recorded = json.loads((out / "face-two" / "config_drawing--ep70.json").read_text())
    assert recorded["module1"]["seed"] == 3 and recorded["module2"]["size"] == 256

    # Rerun: the finished jobs are skipped, the bad one fails again.
    stamp = (out / "face-one" / "output_drawing--ep70.mp4").stat().st_mtime_ns
    assert main(argv) == 1
    table = capsys.readouterr().out
    assert "0 done, 2 skipped, 1 failed (1 photo(s) aligned, 1 stylisation(s))" in table
    assert (out / "face-one" / "output_drawing--ep70.mp4").stat().st_mtime_ns == stamp

    # A changed option is not "finished": only that job runs again.
    jobs.write_text(jobs.read_text().replace("seed: 3", "seed: 4"))
    assert main(argv) == 1
    assert "1 done, 1 skipped, 1 failed" in capsys.readouterr().out

    # The same job alone gives the same landmarks and the same frames as in the batch.
    alone = tmp_path / "alone"
    assert main(["--jpg", str(media / "face.jpg"), "--audio", str(media / "two.wav"), "--seed", "4", "--size", "256",
                 "--output_dir", str(alone), "-q"]) == 0
    _assert_same_products(alone / "face-two", out / "face-two")


@pytest.mark.slow
def test_dask_local_cluster(media, tmp_path, capsys):
    pytest.importorskip("distributed", reason="the distributed extra (requirements-distributed.txt) is not installed")
    jobs = media / "jobs_dask.csv"
    jobs.write_text("audio,jpg,exp\ntwo.wav,face.jpg,formal/cartoon\none.wav,face.jpg,\n")
    out = tmp_path / "dask"
    argv = ["--batch", str(jobs), "--cluster", "local:2", "--size", "256", "--output_dir", str(out), "-q"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "2 done, 0 skipped, 0 failed (1 photo(s) aligned, 2 stylisation(s))" in table
    assert (out / "face-two" / "output_cartoon--ep70.mp4").is_file()
    # Job 2 in another order, on a cluster: same products as alone.
    alone = tmp_path / "alone"
    assert main(["--jpg", str(media / "face.jpg"), "--audio", str(media / "one.wav"), "--size", "256",
                 "--output_dir", str(alone), "-q"]) == 0
    _assert_same_products(alone / "face-one", out / "face-one")


@pytest.mark.slow
def test_sigterm_stops_the_batch_and_removes_partial_files(tmp_path):
    """SIGTERM to a batch: queued jobs are dropped, the running one stops and removes its staging, exit 143."""
    import os
    import signal
    import subprocess
    import sys
    import time

    shutil.copy(REPO / "examples" / "astronaut.jpg", tmp_path / "face.jpg")
    shutil.copy(REPO / "examples" / "speech.wav", tmp_path / "speech.wav")
    (tmp_path / "jobs.yaml").write_text("- {jpg: face.jpg, audio: speech.wav}\n"
                                        "- {jpg: face.jpg, audio: speech.wav, seed: 2, exp: formal/cartoon}\n")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, str(REPO / "main_end2end_module2.py"), "--batch", "jobs.yaml",
                             "--workers", "1", "--output_dir", str(out), "-q"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    deadline = time.monotonic() + 180
    while proc.poll() is None and time.monotonic() < deadline and not list(out.glob(".partial-*")):
        time.sleep(0.05)
    assert proc.poll() is None and list(out.glob(".partial-*")), "no job started"
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "SIGTERM" in err.strip().splitlines()[-1]
    assert not list(out.glob(".partial-*"))  # the running job cleaned up after itself
    assert not [p for p in out.rglob("*.mp4")]  # nothing half-done, and the queued job never ran
