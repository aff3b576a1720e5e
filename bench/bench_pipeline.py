"""Real-time factor and peak memory of the default chain (weight-free predictor + renderer).

    python bench/bench_pipeline.py [--seconds 30] [--sizes 256 512] [--styles drawing cartoon]

Each configuration runs in its own process so peak RSS is per configuration. "chain" is
predict + render + encode (model loading, face detection and the one-time stylisation excluded);
"cold" is the whole run including those. RTF = seconds of processing ÷ seconds of audio.
A second, shorter run checks that memory does not grow with the audio length.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _speech(seconds: float, out: Path) -> Path:
    import numpy as np
    import soundfile as sf

    from common.media import decode_audio

    base = decode_audio(REPO / "examples" / "speech.wav", 16000).samples
    reps = int(np.ceil(seconds * 16000 / len(base)))
    sf.write(str(out), np.tile(base, reps)[: int(seconds * 16000)], 16000)
    return out


def _one(size: int, style: str, seconds: float) -> dict:
    from common.media import VideoWriter
    from Module1 import PREDICTORS, Module1Config
    from Module2 import RENDERERS, RenderConfig
    from pipeline.align import align_photo
    from pipeline.config import PipelineConfig
    from pipeline.run import load_inputs

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wav = _speech(seconds, tmp / "speech.wav")
        t0 = time.perf_counter()
        cfg = PipelineConfig(photo=REPO / "examples" / "astronaut.jpg", audio=wav, quiet=True)
        photo, audio, source = load_inputs(cfg)
        aligned = align_photo(photo)
        predictor = PREDICTORS.get("procedural")(Module1Config(quiet=True))
        renderer = RENDERERS.get("classic")(RenderConfig(style=style, size=size, quiet=True))
        renderer.prepare(aligned.image, aligned.landmarks)
        t1 = time.perf_counter()
        seq = predictor.predict(audio, aligned.landmarks, 25.0)
        t2 = time.perf_counter()
        with VideoWriter(tmp / "out.mp4", (size, size), 25.0, renderer.channels, audio=source) as w:
            for frame in renderer.render(seq):
                w.write(frame)
        t3 = time.perf_counter()
    return {
        "size": size, "style": style, "seconds": seconds, "frames": len(seq),
        "setup_s": t1 - t0, "predict_s": t2 - t1, "render_encode_s": t3 - t2,
        "rtf_chain": (t3 - t1) / seconds, "rtf_cold": (t3 - t0) / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--styles", nargs="+", default=["drawing", "cartoon"])
    ap.add_argument("--one", nargs=3, metavar=("SIZE", "STYLE", "SECONDS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_one(int(args.one[0]), args.one[1], float(args.one[2]))))
        return
    rows = []
    for size in args.sizes:
        for style in args.styles:
            for secs in (args.seconds / 3, args.seconds):
                out = subprocess.run([sys.executable, __file__, "--one", str(size), style, str(secs)],
                                     capture_output=True, text=True, check=True).stdout
                rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'size':>4} {'style':>8} {'audio s':>7} {'frames':>6} {'setup s':>7} {'predict s':>9} "
          f"{'render+enc s':>12} {'RTF chain':>9} {'RTF cold':>8} {'peak MB':>8}")
    for r in rows:
        print(f"{r['size']:>4} {r['style']:>8} {r['seconds']:>7.1f} {r['frames']:>6} {r['setup_s']:>7.2f} "
              f"{r['predict_s']:>9.2f} {r['render_encode_s']:>12.2f} {r['rtf_chain']:>9.3f} {r['rtf_cold']:>8.3f} "
              f"{r['peak_rss_mb']:>8.0f}")


if __name__ == "__main__":
    main()
