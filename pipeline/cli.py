"""Command line of ``main_end2end_module2.py``: the original driver's flags, plus a few of our own."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from common import UserError
from common.device import device_name
from common.face import LANDMARKERS
from common.options import OneLineParser, gpu_ids, integer, number, plain_name, relative_subpath
from Module1 import PREDICTORS, Module1Config
from Module1.config import CHECKPOINT_DIR as M1_CKPT
from Module2 import RENDERERS, RenderConfig
from Module2.config import CHECKPOINT_DIR as M2_CKPT

from .align_worker import EarlyAlign
from .config import PipelineConfig, style_of

__all__ = ["build_parser", "config_from_args", "main"]

log = logging.getLogger("pipeline")

# Flags of the original driver that configure MakeItTalk *training*, caches or dump folders:
# accepted so the original's command lines keep working, ignored, and a warning says so.
_IGNORED_ORIGINAL_FLAGS: dict[str, tuple[type, object]] = {
    "rerun": (int, 0),
    "output_folder": (str, "Module1/examples"),
    "pos_dim": (int, 7),
    "transformer_d_model": (int, 32),
    "transformer_N": (int, 2),
    "transformer_heads": (int, 2),
    "spk_emb_enc_size": (int, 16),
    "lr": (float, 1e-3),
    "reg_lr": (float, 1e-6),
    "segment_batch_size": (int, 1),
    "lambda_laplacian_smooth_loss": (float, 1.0),
    "reuse_train_emb_list": (str, "[]"),
    "dump_dir": (str, ""),
    "init_content_encoder": (str, ""),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``--help`` documents every flag)."""
    p = OneLineParser(
        prog="main_end2end_module2.py",
        description="Animate a portrait line drawing (or cartoon) of the face in a photo, lips moving with a "
        "speech recording. Writes output/<photo>-<audio>/output_<style>--ep<epoch>.mp4 plus the per-frame "
        "landmark files, a landmark preview video and the aligned photo.",
        epilog="Environment: ANIMATE_PORTRAIT_CACHE is where things that can always be made again are kept between "
        "runs (dlib's face detector, each photo's alignment: no pixels); default $XDG_CACHE_HOME/animate-portrait "
        "or ~/.cache/animate-portrait, 'off' keeps nothing. The video is the same either way.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    io = p.add_argument_group("inputs and outputs")
    io.add_argument("--jpg", type=Path, help="face photo (any format Pillow reads)")
    io.add_argument("--audio", type=Path, help="speech recording (any format ffmpeg decodes; never modified)")
    io.add_argument("--video", type=Path, help="a clip: its first frame is the photo and its audio the speech "
                    "(with --audio: that speech instead, the folder is <clip>-<audio>)")
    io.add_argument("--dump_data", type=Path, default=None, metavar="DIR",
                    help="also write the aligned photo and the landmark sequence the frames were rendered from in the "
                    "original's test layout (DIR/Data/..., DIR/lists/test{A,B}/<photo>-<audio>.txt) for Module2/test.py")
    io.add_argument("--output_dir", type=Path, default=Path("output"), help="results go to <output_dir>/<photo>-<audio>/")
    io.add_argument("--max_seconds", type=number(0, 86400, lo_open=True), default=600.0, help="refuse speech longer than this")

    st = p.add_argument_group("style and rendering")
    st.add_argument("--exp", type=relative_subpath, default="", help="experiment: formal/drawing (line drawing) or formal/cartoon; "
                    "names the generator Module2/checkpoints/<exp>/<epoch>_net_G_A.pth (empty = formal/drawing)")
    st.add_argument("--epoch", type=plain_name, default="", help="generator epoch to load (empty = 70)")
    st.add_argument("--renderer", default="auto", choices=["auto", *RENDERERS.names()],
                    help="auto = the GAN when its checkpoint exists, else the weight-free line-drawing renderer")
    st.add_argument("--size", type=int, default=512, choices=[256, 512], help="output frame size in pixels")
    st.add_argument("--fps", type=number(0, 120, lo_open=True), default=25.0, help="output frame rate")
    st.add_argument("--checkpoints_dir", type=Path, default=M2_CKPT, help="Module2 checkpoints folder")
    st.add_argument("--batch_size", type=integer(1, 4096), default=8, help="frames per generator batch (gan renderer)")

    lm = p.add_argument_group("landmarks (Module1)")
    lm.add_argument("--predictor", default="auto", choices=["auto", *PREDICTORS.names()],
                    help="auto = MakeItTalk when its checkpoints exist, else the weight-free predictor")
    lm.add_argument("--landmarker", default="auto", choices=["auto", *LANDMARKERS.names()],
                    help="face landmark detector: auto, dlib or face_alignment")
    lm.add_argument("--load_AUTOVC_name", type=Path, default=M1_CKPT / "ckpt_autovc.pth", help="AutoVC checkpoint")
    lm.add_argument("--load_a2l_G_name", type=Path, default=M1_CKPT / "ckpt_speaker_branch.pth",
                    help="speaker-aware branch checkpoint")
    lm.add_argument("--load_a2l_C_name", type=Path, default=M1_CKPT / "ckpt_content_branch.pth",
                    help="content branch checkpoint")
    lm.add_argument("--module1_constants", type=Path, default=None,
                    help="folder with STD_FACE_LANDMARKS.txt, MEAN_STD_AUTOVC_RETRAIN_MEL_AU.txt, "
                    "ANCHOR_T_SHAPE_9.txt, obama_emb.txt (default: beside the checkpoints)")
    lm.add_argument("--amp_lip_x", type=number(0, 10), default=2.0, help="lip motion gain, x (MakeItTalk and the weight-free predictor)")
    lm.add_argument("--amp_lip_y", type=number(0, 10), default=2.0, help="lip motion gain, y (MakeItTalk and the weight-free predictor)")
    lm.add_argument("--amp_pos", type=number(0, 10), default=0.5, help="MakeItTalk: head/pose motion gain")
    lm.add_argument("--emb_coef", type=number(0, 100), default=3.0, help="MakeItTalk: speaker embedding gain")
    lm.add_argument("--feature", choices=["autovc", "mel"], default="autovc",
                    help="MakeItTalk: audio feature of the branches: AutoVC content features (released weights), or "
                    "the plain mel for branches trained on a `Module1.prepare --feature mel` dataset")
    lm.add_argument("--head_motion", type=number(0, 10), default=1.0,
                    help="weight-free predictor: head motion gain (0 = still head)")
    lm.add_argument("--transcript", default=None, metavar="TEXT",
                    help="weight-free predictor: the words spoken (a string, or a .txt file); aligned to the "
                    "speech so the visemes follow them (a transcript that does not fit falls back to recognition)")

    rt = p.add_argument_group("run")
    rt.add_argument("--gpu_ids", type=gpu_ids, default="0", help="GPU id for the neural paths; -1 = CPU (CPU is used when no GPU)")
    rt.add_argument("--seed", type=integer(0, 2**32 - 1), default=0, help="random seed (blinks, head motion): same seed, same video")
    rt.add_argument("-q", "--quiet", action="store_true", help="no progress bars or notices, errors only")

    bt = p.add_argument_group("batch jobs")
    bt.add_argument("--batch", type=Path, default=None,
                    help="run every job of this YAML or CSV file (keys: the options above without dashes, e.g. "
                    "jpg, audio, exp, seed; the options given here are their defaults); ends with a table")
    bt.add_argument("--workers", type=integer(1, 256), default=1, help="parallel worker processes for --batch")
    bt.add_argument("--cluster", default=None,
                    help="run --batch on a new local Dask cluster, local:N = N worker processes on 127.0.0.1")
    bt.add_argument("--scheduler", default=None, help="run --batch on an existing Dask scheduler (tcp://HOST:PORT)")

    ig = p.add_argument_group("original flags kept for compatibility (accepted, ignored)")
    for name, (typ, default) in _IGNORED_ORIGINAL_FLAGS.items():
        ig.add_argument(f"--{name}", type=typ, default=argparse.SUPPRESS,
                        help=f"ignored (original default {default!r}): MakeItTalk training/caching option")
    return p


def _transcript(value: str | None) -> str | None:
    """``--transcript``: the text itself, or the contents of the .txt file it names."""
    if value is None or not value.strip():
        return None
    if value.strip().lower().endswith(".txt"):
        path = Path(value.strip())
        if not path.is_file():
            raise UserError(f"--transcript file not found: {path}")
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UserError(f"cannot read --transcript {path}: {exc.strerror or exc}") from None
    return value


def config_from_args(ns: argparse.Namespace) -> PipelineConfig:
    """Build the one options object of the run from parsed arguments."""
    if ns.video is None and (ns.jpg is None or ns.audio is None):
        raise UserError("give --jpg PHOTO and --audio SPEECH, or --video CLIP")
    if ns.fps <= 0 or ns.fps > 120:
        raise UserError(f"--fps must be in (0, 120]; got {ns.fps:g}")
    if ns.batch_size < 1:
        raise UserError(f"--batch_size must be at least 1; got {ns.batch_size}")
    exp = ns.exp or "formal/drawing"
    epoch = ns.epoch or "70"
    device = device_name(ns.gpu_ids if ns.gpu_ids.strip() else "-1")  # imports torch only with a GPU driver
    m1 = Module1Config(
        load_AUTOVC_name=ns.load_AUTOVC_name,
        load_a2l_G_name=ns.load_a2l_G_name,
        load_a2l_C_name=ns.load_a2l_C_name,
        module1_constants=ns.module1_constants,
        amp_lip_x=ns.amp_lip_x,
        amp_lip_y=ns.amp_lip_y,
        amp_pos=ns.amp_pos,
        emb_coef=ns.emb_coef,
        feature=ns.feature,
        head_motion=ns.head_motion,
        transcript=_transcript(ns.transcript),
        device=device,
        seed=ns.seed,
        quiet=ns.quiet,
    )
    m2 = RenderConfig(
        style=style_of(exp),
        size=ns.size,
        exp=exp,
        epoch=epoch,
        checkpoints_dir=ns.checkpoints_dir,
        device=device,
        batch_size=ns.batch_size,
        seed=ns.seed,
        quiet=ns.quiet,
    )
    return PipelineConfig(
        photo=ns.jpg, audio=ns.audio, video=ns.video, exp=exp, epoch=epoch, output_dir=ns.output_dir,
        fps=ns.fps, predictor=ns.predictor, renderer=ns.renderer,
        landmarker=ns.landmarker, max_seconds=ns.max_seconds, quiet=ns.quiet, module1=m1, module2=m2,
        dump_data=ns.dump_data,
    )


def main(argv: list[str] | None = None, early: EarlyAlign | None = None) -> int:
    """Run the pipeline; user errors become one line on stderr and exit status 2.

    ``early`` is a child process already aligning the photo (:func:`pipeline.align_worker.start_from_argv`,
    started by the entry script before any heavy import); it is used when it aligns the photo these
    arguments name, else stopped. Either way it is stopped before this returns.
    """
    try:
        return _main(argv, early)
    finally:
        if early is not None:
            early.close()


def _main(argv: list[str] | None, early: EarlyAlign | None) -> int:
    ns = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if ns.quiet else logging.INFO, format="%(message)s",
                        stream=sys.stderr, force=True)
    ignored = sorted(k for k in _IGNORED_ORIGINAL_FLAGS if k in vars(ns))
    if ignored:
        log.warning("ignoring original flags that do not apply here: %s", ", ".join(f"--{k}" for k in ignored))
    if ns.batch is not None:
        from .batch import main_batch

        if early is not None:
            early.close()
        return main_batch(ns, build_parser())
    if ns.cluster is not None or ns.scheduler is not None:
        print("error: --cluster and --scheduler go with --batch FILE", file=sys.stderr)
        return 2
    from . import align_worker

    # The photo is aligned in a child process while this one imports the run's code and decodes the speech.
    if early is not None and not early.matches(ns.jpg, ns.video, ns.landmarker):
        early.close()
        early = None
    if early is None:
        early = align_worker.start(ns.jpg, ns.video, ns.landmarker, ns.quiet)
    try:
        from .run import run, run_guarded  # imported late: --help stays fast

        code, result = run_guarded(lambda: run(config_from_args(ns), early=early))
    finally:
        if early is not None:
            early.close()
    if code or result is None:
        return code
    if not ns.quiet:
        print(result.video)
    return 0
