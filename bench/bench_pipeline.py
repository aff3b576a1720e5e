"""Real-time factor of the default chain beside x264 alone on the same frames, and peak memory.

    python bench/bench_pipeline.py [--seconds 60] [--sizes 256 512] [--styles drawing cartoon] [--repeats 2]

Each configuration runs in its own process. Per configuration, side by side in that process:

* chain     predict + render + encode as ``pipeline.run`` does it (the soundtrack encoded to AAC in
            the background from the start, frames rendered by ``pipeline.frames.render_frames``
            while they are piped to ffmpeg);
* serial    predict + render + encode in one thread (the chain before the overlap);
* x264      encoding the same, already rendered frames alone (the floor the chain cannot beat);

model loading, face detection and the one-time stylisation are excluded ("setup"). "predict s" is
the landmark prediction alone (phone pieces decoded in worker processes too), "1 proc s" the same
with every piece decoded in this process (``PhoneRecognizer(workers=1)``; same phones). RTF =
seconds of processing ÷ seconds of audio, wall clock; "CPU" columns are CPU seconds (this
process and its ffmpeg children) ÷ seconds of audio, which a shared machine does not inflate.
Each figure is the minimum of ``--repeats`` runs, interleaved. Peak RSS is taken before the
frames are held in memory for the x264-alone run.
"""
from __future__ import annotations

import argparse
import json
import os
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


def _cpu() -> float:
    """CPU seconds of this process and its finished children (ffmpeg) so far."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _one(size: int, style: str, seconds: float, repeats: int) -> dict:
    import numpy as np

    from common.media import AudioTrack, VideoWriter
    from Module1 import PREDICTORS, Module1Config
    from Module2 import RENDERERS, RenderConfig
    from pipeline.align import align_photo
    from pipeline.config import PipelineConfig
    from pipeline.frames import render_frames
    from pipeline.run import load_inputs

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wav = _speech(seconds, tmp / "speech.wav")
        t0 = time.perf_counter()
        cfg = PipelineConfig(photo=REPO / "examples" / "astronaut.jpg", audio=wav, quiet=True)
        photo, audio, source = load_inputs(cfg)
        aligned = align_photo(photo)
        predictor = PREDICTORS.get("procedural")(Module1Config(quiet=True))
        renderer = RENDERERS.get("classic")(RenderConfig(style=style, size=size, quiet=True))
        renderer.prepare(aligned.image, aligned.landmarks)
        setup = time.perf_counter() - t0

        def encode(frames, name: str, audio_in=source) -> None:
            with VideoWriter(tmp / name, (size, size), 25.0, renderer.channels, audio=audio_in) as w:
                for frame in frames:
                    w.write(frame)

        def chain(overlap: bool) -> tuple[float, float, float]:
            c1, t1 = _cpu(), time.perf_counter()
            if overlap:  # as pipeline.run: the soundtrack encoded once in the background, then copied
                with AudioTrack(source, tmp / "track.m4a") as track:
                    seq = predictor.predict(audio, aligned.landmarks, 25.0)
                    t2 = time.perf_counter()
                    encode(render_frames(renderer, seq), "chain.mp4", track)
            else:
                seq = predictor.predict(audio, aligned.landmarks, 25.0)
                t2 = time.perf_counter()
                encode(renderer.render(seq), "chain.mp4")
            return t2 - t1, time.perf_counter() - t1, _cpu() - c1

        best = {k: float("inf") for k in ("chain", "serial", "predict", "cpu_chain", "cpu_serial")}
        for _ in range(repeats):
            p, c, u = chain(True)
            best["chain"], best["predict"], best["cpu_chain"] = min(best["chain"], c), min(best["predict"], p), \
                min(best["cpu_chain"], u)
            p, c, u = chain(False)
            best["serial"], best["predict"], best["cpu_serial"] = min(best["serial"], c), min(best["predict"], p), \
                min(best["cpu_serial"], u)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        rec = getattr(predictor, "_recognizer", None)
        one_proc = float("inf") if rec is not None else float("nan")
        if rec is not None:  # the same prediction with the phones decoded in this process only
            rec.workers = 1
            for _ in range(repeats):
                t4 = time.perf_counter()
                predictor.predict(audio, aligned.landmarks, 25.0)
                one_proc = min(one_proc, time.perf_counter() - t4)
            rec.workers = None

        seq = predictor.predict(audio, aligned.landmarks, 25.0)
        frames = list(renderer.render(seq))
        assert all(np.array_equal(a, b) for a, b in zip(frames, render_frames(renderer, seq), strict=True))
        x264 = cpu_x264 = float("inf")
        for _ in range(repeats):
            c3, t3 = _cpu(), time.perf_counter()
            encode(frames, "x264.mp4")
            x264, cpu_x264 = min(x264, time.perf_counter() - t3), min(cpu_x264, _cpu() - c3)
    return {
        "size": size, "style": style, "seconds": seconds, "frames": len(frames),
        "setup_s": setup, "predict_s": best["predict"], "predict_1proc_s": one_proc, "chain_s": best["chain"], "serial_s": best["serial"],
        "x264_s": x264, "rtf_chain": best["chain"] / seconds, "rtf_serial": best["serial"] / seconds,
        "rtf_x264": x264 / seconds, "peak_rss_mb": peak, "cpu_chain": best["cpu_chain"] / seconds,
        "cpu_serial": best["cpu_serial"] / seconds, "cpu_x264": cpu_x264 / seconds,
    }


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--styles", nargs="+", default=["drawing", "cartoon"])
    ap.add_argument("--repeats", type=int, default=2, help="timings are the minimum over this many runs")
    ap.add_argument("--one", nargs=3, metavar=("SIZE", "STYLE", "SECONDS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(_one(int(args.one[0]), args.one[1], float(args.one[2]), args.repeats)))
        return
    rows = []
    for size in args.sizes:
        for style in args.styles:
            out = subprocess.run([sys.executable, __file__, "--one", str(size), style, str(args.seconds),
                                  "--repeats", str(args.repeats)], capture_output=True, text=True, check=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'size':>4} {'style':>8} {'audio s':>7} {'frames':>6} {'setup s':>7} {'predict s':>9} "
          f"{'1 proc s':>8} {'RTF chain':>9} {'RTF serial':>10} {'RTF x264':>8} {'chain/x264':>10} {'CPU chain':>9} {'CPU serial':>10} "
          f"{'CPU x264':>8} {'peak MB':>8}")
    for r in rows:
        print(f"{r['size']:>4} {r['style']:>8} {r['seconds']:>7.1f} {r['frames']:>6} {r['setup_s']:>7.2f} "
              f"{r['predict_s']:>9.2f} {r['predict_1proc_s']:>8.2f} {r['rtf_chain']:>9.3f} {r['rtf_serial']:>10.3f} {r['rtf_x264']:>8.3f} "
              f"{r['rtf_chain'] / r['rtf_x264']:>10.2f} {r['cpu_chain']:>9.3f} {r['cpu_serial']:>10.3f} {r['cpu_x264']:>8.3f} "
              f"{r['peak_rss_mb']:>8.0f}")
    # Issue 10's targets: RTF 0.08 (256) and 0.15 (512), where x264 alone ran at 0.02 and 0.07 on the
    # machine it was measured on; the ratio to x264 alone in the same run carries over between machines.
    for r in rows:
        target, x264_then = {256: (0.08, 0.02), 512: (0.15, 0.07)}.get(r["size"], (float("nan"), float("nan")))
        ratio = r["rtf_chain"] / r["rtf_x264"]
        print(f"{r['size']} {r['style']}: RTF {r['rtf_chain']:.3f} (target {target:.2f}: "
              f"{'met' if r['rtf_chain'] <= target else 'not met'}); chain/x264 {ratio:.2f} "
              f"(target {target / x264_then:.2f}: {'met' if ratio <= target / x264_then else 'not met'})")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
