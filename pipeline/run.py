"""photo + speech → talking portrait video, in-process: align, predict landmarks, render, encode."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from tqdm import tqdm

from common import Audio, AudioError, InputError, LandmarkSequence, OutputError, UserError
from common.errors import Terminated
from common.fs import ensure_inside, make_staging_dir
from common.media import AudioTrack, VideoWriter, decode_audio, extract_first_frame
from Module1 import PREDICTORS, resolve_predictor
from Module2 import RENDERERS, Renderer, resolve_renderer

from .align import AlignedPhoto, align_photo, load_photo
from .align_worker import EarlyAlign
from .config import SILENCE_DBFS, PipelineConfig
from .frames import render_frames
from .preview import draw_landmarks
from .report import FrameTap, write_report

T = TypeVar("T")

# No tqdm monitor thread: render workers are forked only from a process without other threads.
tqdm.monitor_interval = 0

__all__ = ["Result", "Prepared", "run", "load_inputs", "new_renderer", "prepare_photo", "sigterm_raises"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """Where the products of a run were written, and which back-ends made them."""

    video: Path
    landmarks_dir: Path
    preview: Path
    photo: Path
    predictor: str
    renderer: str
    frames: int
    report: Path | None = None


def load_inputs(cfg: PipelineConfig) -> tuple[np.ndarray, Audio, Path]:
    """Read and check the photo and speech before any model loads.

    Returns the RGB photo, the decoded 16 kHz speech and the file whose audio goes
    into the video. Raises :class:`common.UserError` subclasses with one-line messages.
    """
    if cfg.video is not None:
        photo = extract_first_frame(Path(cfg.video))
        source = Path(cfg.audio if cfg.audio is not None else cfg.video)  # --audio replaces the clip's own speech
    else:
        if cfg.photo is None or cfg.audio is None:
            raise InputError("give --jpg and --audio, or --video")
        photo = load_photo(cfg.photo)
        source = Path(cfg.audio)
    audio = decode_audio(source, 16000, max_seconds=cfg.max_seconds)
    if audio.duration * cfg.fps < 1:
        raise AudioError(f"audio {source.name} is too short ({audio.duration * 1000:.0f} ms) for one frame")
    if audio.rms_dbfs() < SILENCE_DBFS:
        raise AudioError(f"audio {source.name} is silent (level {audio.rms_dbfs():.0f} dBFS)")
    return photo, audio, source


@contextlib.contextmanager
def sigterm_raises():
    """Within the block, SIGTERM raises :class:`common.errors.Terminated` (main thread only), as Ctrl-C
    raises ``KeyboardInterrupt``: the staging folder and ffmpeg children are cleaned up on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second TERM must not cut the clean-up short
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_guarded(call: Callable[[], T], stopped: str = "partial files removed") -> tuple[int, T | None]:
    """``(0, call())``, or the exit status after one line on stderr: a user error (2), Ctrl-C (130) or SIGTERM (143).

    The one place where the CLI's single runs and batch runs turn failures and stops into exit statuses.
    """
    import sys

    try:
        with sigterm_raises():  # SIGTERM cleans up like Ctrl-C
            return 0, call()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code, None
    except KeyboardInterrupt:
        print(f"interrupted; {stopped}", file=sys.stderr)
        return 130, None
    except Terminated:
        print(f"terminated (SIGTERM); {stopped}", file=sys.stderr)
        return Terminated.exit_code, None


def _check_output_names(cfg: PipelineConfig) -> None:
    """Every product path stays inside ``--output_dir`` (options and file stems become path parts)."""
    for name in (f"output_{cfg.postfix}.mp4", f"config_{cfg.postfix}.json"):
        if "/" in name or "\\" in name or "\0" in name:
            raise OutputError(f"refusing to write {name!r}: --exp/--epoch must not hold path separators")
        ensure_inside(cfg.run_dir / name, cfg.run_dir)
    ensure_inside(cfg.run_dir, cfg.output_dir)
    if cfg.run_dir.name in ("", ".", ".."):
        raise OutputError(f"refusing to write into {cfg.run_dir}: photo/audio names give no folder name")


def _staging_dir(output_dir: Path) -> Path:
    try:
        return make_staging_dir(output_dir)  # also removes staging folders of killed runs
    except OSError as exc:
        raise OutputError(f"cannot write to output folder {output_dir}: {exc.strerror or exc}") from None


def _write_png(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OutputError(f"cannot write {path}")


def _encode(path: Path, frames, total: int, size: int, channels: int, fps: float, audio: Path | AudioTrack,
            desc: str, quiet: bool) -> None:
    with VideoWriter(path, (size, size), fps, channels, audio=audio) as writer:
        for frame in tqdm(frames, total=total, desc=desc, unit="frame", disable=quiet, leave=False):
            writer.write(frame)


PREVIEW_SIZE = 256  # side of landmark_seq.mp4, px


class _Stopped(Exception):
    """Raised inside a side job whose caller failed or was interrupted."""


def _encode_preview(stop: threading.Event, path: Path, seq: LandmarkSequence, fps: float,
                    audio: Path | AudioTrack) -> None:
    # The preview runs beside the main video, so its CPU time, not its latency, is what it costs:
    # PREVIEW_SIZE px (a plot of 68 points needs no more), I420 made here, one x264 thread
    # (together about half the CPU of a 512 px RGB preview).
    scale = PREVIEW_SIZE / 512.0
    with VideoWriter(path, (PREVIEW_SIZE, PREVIEW_SIZE), fps, 3, audio=audio, i420=True, threads=1) as writer:
        for p in seq.points:
            if stop.is_set():
                raise _Stopped  # the writer then kills its ffmpeg and leaves no file
            writer.write(cv2.cvtColor(draw_landmarks(p, PREVIEW_SIZE, scale), cv2.COLOR_RGB2YUV_I420))


def _side_products(stop: threading.Event, stage: Path, seq: LandmarkSequence, fps: float,
                   audio: Path | AudioTrack) -> None:
    """The landmark preview, then the landmark files: made beside the main video, on the cores it leaves."""
    _encode_preview(stop, stage / "landmark_seq.mp4", seq, fps, audio)
    if stop.is_set():
        return
    seq.save_frames(stage / "landmarks")


@contextlib.contextmanager
def _beside(job: Callable[..., None], *args: object):
    """Run ``job(stop_event, *args)`` in a thread while the block runs; its error is raised at the end.

    The landmark preview is encoded beside the main video: the two ffmpeg processes and the
    drawing fill the gaps the other leaves on the cores. If the block fails, the job is stopped.
    """
    stop = threading.Event()
    error: list[BaseException] = []

    def target() -> None:
        try:
            job(stop, *args)
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, name="side-job", daemon=True)
    thread.start()
    try:
        yield
    except BaseException:
        stop.set()
        raise
    finally:
        thread.join()
    if error:
        raise error[0]


def _config_json(cfg: PipelineConfig, predictor: str, renderer: str, aligned: AlignedPhoto) -> str:
    def plain(obj):
        if isinstance(obj, Path):
            return str(obj)
        if dataclasses.is_dataclass(obj):
            return {k: plain(v) for k, v in dataclasses.asdict(obj).items()}
        if isinstance(obj, dict):
            return {k: plain(v) for k, v in obj.items()}
        return obj

    doc = plain(cfg)
    doc["resolved"] = {"predictor": predictor, "renderer": renderer, "faces_found": aligned.n_faces}
    return json.dumps(doc, indent=2, default=str)


@dataclass
class Prepared:
    """The photo-dependent part of a run: the aligned photo and a renderer prepared on it.

    Made once per photo by :func:`prepare_photo` and reusable by every run of the same photo,
    landmarker and render options (batch jobs share it; the frames are the same either way).
    """

    aligned: AlignedPhoto
    renderer_name: str
    renderer: Renderer


def new_renderer(cfg: PipelineConfig) -> tuple[str, Renderer]:
    """The renderer ``cfg`` resolves to, made (its module imported, its weights loaded) but not yet prepared."""
    rend_name, notice = resolve_renderer(cfg.renderer, cfg.module2)
    if notice:
        log.info(notice)
    return rend_name, RENDERERS.get(rend_name)(cfg.module2)


def prepare_photo(cfg: PipelineConfig, photo: np.ndarray, aligned: AlignedPhoto | None = None,
                  made: tuple[str, Renderer] | None = None) -> Prepared:
    """Align ``photo`` (RGB; skipped when ``aligned`` is given) and prepare the renderer ``cfg`` resolves to
    (``made``: that renderer from :func:`new_renderer`, already made)."""
    if aligned is None:
        source = cfg.video if cfg.video is not None else cfg.photo
        aligned = align_photo(photo, landmarker=cfg.landmarker, name=Path(source).name if source else "photo")
    rend_name, renderer = made if made is not None else new_renderer(cfg)
    renderer.prepare(aligned.image, aligned.landmarks)
    return Prepared(aligned, rend_name, renderer)


def run(cfg: PipelineConfig, prepared: Prepared | None = None, early: EarlyAlign | None = None) -> Result:
    """Make the talking video for ``cfg``; returns where the products are.

    All products are built in a hidden staging folder and moved into
    ``cfg.run_dir`` only when everything succeeded, so a failed run leaves
    nothing half-written. ``prepared`` (from :func:`prepare_photo` with the same
    photo and options) skips aligning and stylising again; ``early`` (from
    :func:`pipeline.align_worker.start` on the same photo) is a child process already aligning it.
    """
    _check_output_names(cfg)
    photo, audio, audio_source = load_inputs(cfg)
    stage = _staging_dir(Path(cfg.output_dir))  # fail on an unwritable output before any model loads
    try:
        return _run_staged(cfg, photo, audio, audio_source, stage, prepared, early)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _dump_test_layout(cfg: PipelineConfig, dump_dir: Path, aligned: AlignedPhoto, seq: LandmarkSequence) -> None:
    """The photo, source and per-frame landmarks the renderer used, in the original's test layout."""
    from Module2.data.test_layout import write_test_layout

    try:
        lists = write_test_layout(dump_dir, cfg.name, aligned.image, aligned.landmarks, seq.points)
    except OSError as exc:
        raise OutputError(f"cannot write the test layout to {dump_dir}: {exc.strerror or exc}") from None
    nc = 3 if cfg.module2.style == "cartoon" else 1
    log.info("test layout for Module2/test.py in %s; from Module2/: python test.py --dataroot %s --list_dir %s "
             "--name %s --epoch %s --model geomcgt_ifw_test --netG resnet_9blocks_rcatland32_full_ifw --netg_resb_div 3 "
             "--netg_resb_disp 3 --output_nc %d --serial_batches --imagefolder %s --blendbg 1 --num_test 10000 "
             "--checkpoints_dir %s", dump_dir, cfg.name, lists, cfg.exp, cfg.epoch, nc, cfg.name,
             Path(cfg.module2.checkpoints_dir).resolve())


def _run_staged(cfg: PipelineConfig, photo: np.ndarray, audio: Audio, audio_source: Path, stage: Path,
                prepared: Prepared | None = None, early: EarlyAlign | None = None) -> Result:
    # The soundtrack is encoded once, from now on in the background, and copied into both videos.
    with AudioTrack(audio_source, stage / ".soundtrack.m4a") as track:
        return _run_with_track(cfg, photo, audio, track, stage, prepared, early)


def _run_with_track(cfg: PipelineConfig, photo: np.ndarray, audio: Audio, track: AudioTrack, stage: Path,
                    prepared: Prepared | None, early: EarlyAlign | None) -> Result:
    pred_name, notice = resolve_predictor(cfg.predictor, cfg.module1)
    if notice:
        log.info(notice)
    predictor = PREDICTORS.get(pred_name)(cfg.module1)
    if prepared is None and early is not None and early.matches(cfg.photo, cfg.video, cfg.landmarker):
        # While the child process aligns the photo: the phones, and the renderer's imports and weights.
        predictor.prepare_audio(audio, cfg.fps)
        made = new_renderer(cfg)
        prep = prepare_photo(cfg, photo, early.result(), made)
    else:
        prep = prepared if prepared is not None else prepare_photo(cfg, photo)
    aligned, rend_name, renderer = prep.aligned, prep.renderer_name, prep.renderer

    seq: LandmarkSequence = predictor.predict(audio, aligned.landmarks, cfg.fps)
    expected = max(1, int(round(audio.duration * cfg.fps)))
    if len(seq) != expected:
        raise RuntimeError(f"predictor {pred_name!r} returned {len(seq)} frames; expected {expected}")

    video_name = f"output_{cfg.postfix}.mp4"
    run_dir = cfg.run_dir
    try:
        tap = FrameTap(seq.points, cfg.fps)  # the report's flicker and contact sheet, without a second decode
        frames = render_frames(renderer, seq)  # before the preview's thread starts: render workers may be forked
        # closing: forked workers are reaped even when encoding fails before the first frame
        with contextlib.closing(frames), _beside(_side_products, stage, seq, cfg.fps, track):
            _encode(stage / video_name, tap.observe(frames), len(seq), cfg.module2.size,
                    renderer.channels, cfg.fps, track, f"render ({rend_name})", cfg.quiet)
        track.close()  # not a product
        _write_png(stage / "photo.png", aligned.image)
        (stage / f"config_{cfg.postfix}.json").write_text(_config_json(cfg, pred_name, rend_name, aligned))
        # Phones come from the predictor's own recognition (procedural only), never a second pass.
        write_report(stage / "report.html", stage / video_name, seq, audio, tap=tap,
                     phones=getattr(predictor, "phones", None), title=cfg.name,
                     info={"landmarks": pred_name, "frames by": rend_name, "style": cfg.module2.style,
                           "size": f"{cfg.module2.size} px", "seed": str(cfg.seed)})

        run_dir.mkdir(parents=True, exist_ok=True)
        if (run_dir / "landmarks").exists():
            shutil.rmtree(run_dir / "landmarks")
        for item in stage.iterdir():
            os.replace(item, run_dir / item.name)
    except OSError as exc:
        raise OutputError(f"cannot write to {run_dir}: {exc.strerror or exc}") from None

    log.info("wrote %s (%d frames, %.2f s)", run_dir / video_name, len(seq), len(seq) / cfg.fps)
    if cfg.dump_data is not None:
        _dump_test_layout(cfg, cfg.dump_data, aligned, seq)
    return Result(
        video=run_dir / video_name,
        landmarks_dir=run_dir / "landmarks",
        preview=run_dir / "landmark_seq.mp4",
        photo=run_dir / "photo.png",
        predictor=pred_name,
        renderer=rend_name,
        frames=len(seq),
        report=run_dir / "report.html",
    )
