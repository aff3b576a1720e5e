"""Start-up cost, measured side by side in one run, as ratios.

    python bench/bench_startup.py [--repeats 5] [--clip 5] [--size 512]

* ``--help`` of ``main_end2end_module2.py`` vs a bare ``python -c "import numpy, cv2"``
  (target: at most 2×);
* the import of the run's code (``pipeline.run`` + the weight-free back-ends) for context;
* a ``--clip``-second clip end to end (the CLI in a fresh process: imports, face detection,
  stylisation, predict, render, encode, landmark preview, report) vs its chain time
  (predict + render + encode, as ``bench_pipeline.py`` measures it; target: at most 3×), twice:
  with a photo never seen before (each run gets the example photo with one pixel changed, so the face
  detector runs) and with the same photo again (its alignment is kept in the project's cache). Both
  use the cached copy of dlib's face detector, which the very first run on a machine makes (+0.4 s once).

Runs are interleaved and each figure is the minimum (and median) over ``--repeats``, since the
machine may be shared with other work.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def _fmt(xs: list[float]) -> str:
    return f"min {min(xs):6.2f} s  median {statistics.median(xs):6.2f} s"


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--clip", type=float, default=5.0, help="seconds of speech of the end-to-end clip")
    ap.add_argument("--size", type=int, default=512, choices=[256, 512])
    args = ap.parse_args()

    bare = [PY, "-c", "import numpy, cv2"]
    helpc = [PY, "main_end2end_module2.py", "--help"]
    runimp = [PY, "-c", "import pipeline.run, Module1.predictors.procedural, Module2.renderers.classic"]
    t: dict[str, list[float]] = {"bare": [], "help": [], "import_run": [], "e2e": [], "e2e_new": []}
    for _ in range(args.repeats):
        t["bare"].append(_wall(bare))
        t["help"].append(_wall(helpc))
        t["import_run"].append(_wall(runimp))

    sys.path.insert(0, str(REPO / "bench"))
    from bench_pipeline import _speech

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wav = _speech(args.clip, tmp / "clip.wav")
        def e2e(photo: Path) -> list[str]:
            return [PY, "main_end2end_module2.py", "--jpg", str(photo), "--audio", str(wav), "--size", str(args.size),
                    "--output_dir", str(tmp / "out"), "-q"]

        example = REPO / "examples" / "astronaut.jpg"
        chain = [PY, str(REPO / "bench" / "bench_pipeline.py"), "--one", str(args.size), "drawing", str(args.clip),
                 "--repeats", "1"]
        chains: list[float] = []
        _wall(e2e(example))  # makes the cached detector and keeps this photo's alignment
        pixels = np.asarray(Image.open(example).convert("RGB"))
        for k in range(args.repeats):
            new = pixels.copy()
            new[0, 0, 0] = (int(new[0, 0, 0]) + 1 + k + int(time.time())) % 256  # a photo no run has seen
            Image.fromarray(new).save(tmp / f"new{k}.png")
            t["e2e_new"].append(_wall(e2e(tmp / f"new{k}.png")))
            t["e2e"].append(_wall(e2e(example)))
            out = subprocess.run(chain, cwd=REPO, capture_output=True, text=True, check=True).stdout
            chains.append(json.loads(out.strip().splitlines()[-1])["chain_s"])

    print(f"--help           {_fmt(t['help'])}")
    print(f"bare numpy+cv2   {_fmt(t['bare'])}")
    print(f"import run path  {_fmt(t['import_run'])}")
    print(f"  --help / bare = {min(t['help']) / min(t['bare']):.2f}x (target <= 2)")
    print(f"{args.clip:g} s clip end to end ({args.size} px), new photo   {_fmt(t['e2e_new'])}")
    print(f"{args.clip:g} s clip end to end ({args.size} px), same photo  {_fmt(t['e2e'])}")
    print(f"{args.clip:g} s clip chain (predict+render+encode)  {_fmt(chains)}")
    print(f"  end to end / chain = {min(t['e2e_new']) / min(chains):.2f}x with a new photo, "
          f"{min(t['e2e']) / min(chains):.2f}x with the same photo again (target <= 3)")


if __name__ == "__main__":
    main()
