"""Frames/s of the ``gan`` renderer (batched, per-photo caching) against the original's batch-1 loop.

    python bench/bench_gan.py [--frames 16] [--batch_size 8] [--threads 2]

Both paths run on the same random-weight checkpoints, written to a temp dir in the released
layout: ``formal/drawing/70_net_G_A.pth`` (``resnet_9blocks_rcatland32_full_ifw``,
ngf 64), ``modnet_photographic_portrait_matting.ckpt`` (``module.`` keys),
``FlowReg_id_flow_faces/{train_opt.json,best_net_netF.pth}`` (the ``unet_v2`` candidate) and
``static/drawing.pth`` (``resnet_style2_9blocks``, ngf 64). Random weights: this measures speed,
not quality. Input: ``examples/astronaut.jpg`` aligned by ``pipeline.align.align_photo`` and the
first ``--frames`` frames of the ``procedural`` predictor on ``examples/speech.wav`` (25 fps).

A (the project's): ``RENDERERS.get('gan')`` at size 256 with ``batch_size`` B. ``prepare`` (matte +
static stylisation at 512, once per photo) is timed on its own; "render+encode" streams
``render`` (landmark maps, Delaunay grid, flow net, G, mask warp, blend — per frame, batched) into
``common.media.VideoWriter`` (one ffmpeg process, raw frames on stdin). Model construction and
weight loading are excluded (a first ``prepare`` builds the model before the clock starts).

B (the original's way): the same ``geomcgt_ifw_test`` model object (same weights),
batch size 1, and per frame it recomputes everything the original's ``forward`` did per item:
``prepare_photo`` is called explicitly before every ``set_input`` (MODNet matte, static drawing G at
512, white-background photo — the work A does once), then ``set_input`` (dataset item: landmark
maps + Delaunay grid; flow net) and ``test`` (G, mask warp, blend). Each frame is quantised like
``tensor2im`` and written with ``cv2.imwrite`` as a 256×256 3-channel PNG; the folder is then encoded
with one ffmpeg call with the original's arguments (``-framerate … -i %05d.png -c:v libx264 -vf
format=yuv420p``, default preset). Not reproduced (so B is, if anything, faster than the original):
re-reading the photo and landmark text files per item, the other eight visuals the original saved
per frame, the HTML page, the frame copy and the second ffmpeg call that muxed the audio. Neither
path muxes audio here.

The frames of both paths are compared (max abs difference of the uint8 frames; batched and
single-item convolutions may differ in the last float bit, so 0 or 1 is expected).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

NETG = "resnet_9blocks_rcatland32_full_ifw"
SIZE = 256
FPS = 25.0
# The unet_v2 intrinsic-flow candidate recorded in the reference state_dicts.json.
FLOW_OPT = {"which_model": "unet_v2", "nf": 32, "max_nf": 128, "start_scale": 2, "num_scale": 4, "norm": "batch",
            "input_type1": "joint", "input_type2": "joint", "joint_nc": 68, "id": "FlowReg_id_flow_faces"}


def write_checkpoints(root: Path, ngf: int = 64, seed: int = 0) -> None:
    """Random-weight checkpoints in the released layout under ``root`` (what the drawing gan path loads)."""
    from Module2.models.auxiliary.flownet import build_flow_net
    from Module2.models.auxiliary.modnet import MODNet
    from Module2.models.networks import define_G

    torch.manual_seed(seed)
    g = define_G(3, 1, ngf, NETG, "instance", False, "normal", 0.02, [], div=3, disp=3)
    (root / "formal" / "drawing").mkdir(parents=True)
    torch.save(g.state_dict(), root / "formal" / "drawing" / "70_net_G_A.pth")
    modnet = MODNet()  # released file was saved from DataParallel
    torch.save({"module." + k: v for k, v in modnet.state_dict().items()},
               root / "modnet_photographic_portrait_matting.ckpt")
    flow_dir = root / "FlowReg_id_flow_faces"
    flow_dir.mkdir()
    (flow_dir / "train_opt.json").write_text(json.dumps(FLOW_OPT))
    torch.save(build_flow_net(FLOW_OPT).state_dict(), flow_dir / "best_net_netF.pth")
    static = define_G(3, 1, 64, "resnet_style2_9blocks", "instance", False, "normal", 0.02, [])
    (root / "static").mkdir()
    torch.save(static.state_dict(), root / "static" / "drawing.pth")


def inputs(frames: int):
    """Aligned example photo and ``frames`` target landmark sets from the procedural predictor."""
    from common import LandmarkSequence
    from common.media import decode_audio
    from Module1 import PREDICTORS, Module1Config
    from pipeline.align import align_photo, load_photo

    aligned = align_photo(load_photo(REPO / "examples" / "astronaut.jpg"))
    audio = decode_audio(REPO / "examples" / "speech.wav", 16000)
    seq = PREDICTORS.get("procedural")(Module1Config(quiet=True)).predict(audio, aligned.landmarks, FPS)
    reps = -(-frames // len(seq))  # the clip is long enough for the defaults; tile if asked for more
    points = np.concatenate([seq.points] * reps)[:frames]
    return aligned, LandmarkSequence(points, FPS, aligned.landmarks)


def run_batched(renderer, aligned, seq, out: Path) -> tuple[list[np.ndarray], float, float]:
    """Path A: timed ``prepare`` and timed ``render`` streamed into VideoWriter."""
    from common.media import VideoWriter

    t0 = time.perf_counter()
    renderer.prepare(aligned.image, aligned.landmarks)
    t1 = time.perf_counter()
    frames = []
    with VideoWriter(out, (SIZE, SIZE), FPS, renderer.channels) as w:
        for frame in renderer.render(seq):
            w.write(frame)
            frames.append(frame)
    t2 = time.perf_counter()
    return frames, t1 - t0, t2 - t1


def run_original(model, aligned, seq, work: Path, out: Path) -> tuple[list[np.ndarray], float]:
    """Path B: batch 1, every per-item step recomputed, a PNG per frame, one ffmpeg over the folder."""
    from common.media import ffmpeg_exe
    from Module2.data.umlvdfw_test_dataset import UMLVDFWTestDataset
    from Module2.renderers.gan import to_frames

    png_dir = work / "frames"
    png_dir.mkdir()
    frames = []
    t0 = time.perf_counter()
    ds = UMLVDFWTestDataset.from_arrays(aligned.image, aligned.landmarks, seq.points, SIZE, SIZE)
    for k, item in enumerate(ds.batches(1)):
        model.prepare_photo(item["A"], item["A_lm_68"][0])  # the original's forward redid this per item
        model.set_input(item)  # photo key now matches: no second prepare inside
        model.test()
        frame = to_frames(model.fake_B, SIZE, 1)[0]
        cv2.imwrite(str(png_dir / f"{k:05d}.png"), cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))  # tensor2im tiles to RGB
        frames.append(frame)
    subprocess.run([ffmpeg_exe(), "-loglevel", "panic", "-framerate", f"{FPS:g}", "-i", str(png_dir / "%05d.png"),
                    "-c:v", "libx264", "-y", "-vf", "format=yuv420p", str(out)], check=True)
    return frames, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--batch_size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from Module2 import RENDERERS, RenderConfig

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ck = tmp / "checkpoints"
        ck.mkdir()
        write_checkpoints(ck)
        aligned, seq = inputs(args.frames)
        cfg = RenderConfig(style="drawing", size=SIZE, checkpoints_dir=ck, batch_size=args.batch_size, quiet=True)
        renderer = RENDERERS.get("gan")(cfg)
        renderer.prepare(aligned.image, aligned.landmarks)  # builds + loads the model (not timed)
        model = renderer.model
        assert model.flow_net is not None and type(model.static_stylizer).__name__ == "StaticDrawing"
        fg = float(model.mask.mean())

        # warm-up of the per-frame nets at batch 1 (first-call allocations), untimed
        from Module2.data.umlvdfw_test_dataset import UMLVDFWTestDataset

        model.set_input(next(UMLVDFWTestDataset.from_arrays(aligned.image, aligned.landmarks, seq.points[:1],
                                                            SIZE, SIZE).batches(1)))
        model.test()

        fa, prep_s, rend_s = run_batched(renderer, aligned, seq, tmp / "a.mp4")
        work = tmp / "b"
        work.mkdir()
        fb, orig_s = run_original(model, aligned, seq, work, tmp / "b.mp4")
        for p in (tmp / "a.mp4", tmp / "b.mp4"):
            assert p.is_file() and p.stat().st_size > 0, p

    diff = max(int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max()) for a, b in zip(fa, fb, strict=True))
    n = args.frames
    rows = [
        ("A prepare (per photo)", args.batch_size, 1, prep_s, None),
        ("A render+encode", args.batch_size, n, rend_s, orig_s / rend_s),
        ("A prepare+render+encode", args.batch_size, n, prep_s + rend_s, orig_s / (prep_s + rend_s)),
        ("B original batch-1 + PNG", 1, n, orig_s, 1.0),
    ]
    print(f"gan drawing, size {SIZE}, ngf 64, torch threads {args.threads}, matte foreground {fg:.1%}")
    print(f"{'path':<26} {'batch':>5} {'frames':>6} {'seconds':>8} {'frames/s':>8} {'speed-up':>8}")
    for name, bs, frames, secs, up in rows:
        fps = f"{frames / secs:8.3f}" if frames > 1 else f"{'-':>8}"
        print(f"{name:<26} {bs:>5} {frames:>6} {secs:>8.2f} {fps} {'' if up is None else f'{up:7.2f}x':>8}")
    print(f"max |A − B| over {n} uint8 frames: {diff}")


if __name__ == "__main__":
    main()
