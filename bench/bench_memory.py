"""Peak memory (and wall time) of one pipeline run against the length of the speech.

Long speech is made by concatenating ``examples/speech.wav`` with itself (ffmpeg ``-stream_loop``);
each length runs in a fresh process (``main_end2end_module2.py --size 256 -q``, one torch/BLAS
thread) whose peak RSS is read from ``getrusage(RUSAGE_CHILDREN)`` after it ends, so the model
imports count and nothing of an earlier run does. Prints one line per length plus the slope.

    python bench/bench_memory.py                 # 5 s, 60 s, 300 s, 600 s
    python bench/bench_memory.py --seconds 5 120 # chosen lengths
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from common.media import ffmpeg_exe, ffmpeg_input  # noqa: E402


def make_speech(seconds: float, out: Path) -> Path:
    """``seconds`` of speech: the example looped, 16 kHz mono wav."""
    subprocess.run([ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y", "-stream_loop", "-1",
                    *ffmpeg_input(REPO / "examples" / "speech.wav"), "-t", f"{seconds:g}", "-ar", "16000", "-ac", "1",
                    "file:" + str(out.resolve())], check=True)
    return out


def run_once(seconds: float, size: int, work: Path, extra: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of one CLI run on ``seconds`` of speech."""
    speech = make_speech(seconds, work / f"speech{seconds:g}.wav")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, str(REPO / "main_end2end_module2.py"), "--jpg", str(REPO / "examples" / "astronaut.jpg"),
           "--audio", str(speech), "--output_dir", str(work / "out"), "--size", str(size), "--max_seconds", "3600",
           "-q", *extra]
    # RUSAGE_CHILDREN's maxrss is the largest of all waited-for children: run each length in its own
    # helper process so that lengths do not mask each other.
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", probe, *cmd], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"run failed for {seconds:g} s: {out.stderr.strip()[-500:]}")
    peak_kb = int(out.stdout.strip().splitlines()[-1])
    return peak_kb / 1024.0, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    ap.add_argument("--seconds", type=float, nargs="+", default=[5, 60, 300, 600], help="speech lengths")
    ap.add_argument("--size", type=int, default=256, choices=[256, 512])
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="further CLI flags")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        for secs in args.seconds:
            peak, wall = run_once(secs, args.size, Path(tmp), args.extra)
            rows.append((secs, peak, wall))
            print(f"{secs:7.0f} s speech: peak RSS {peak:7.1f} MB, wall {wall:7.1f} s ({wall / secs:5.2f} x real time)",
                  flush=True)
    if len(rows) >= 2:
        (s0, p0, w0), (s1, p1, w1) = rows[0], rows[-1]
        print(f"slope: {(p1 - p0) / (s1 - s0):.3f} MB per second of speech; "
              f"time {(w1 - w0) / (s1 - s0):.2f} s per second of speech")


if __name__ == "__main__":
    main()
