"""Build a Module1 training dataset (format: Module1/data.py) from talking-face videos, as MakeItTalk prepares its
data (TRAINING: landmarks at the video's rate → 62.5 fps, normalised and registered; AutoVC content features).

    python -m Module1.prepare --out DATA video1.mp4 video2.mp4 ...      (or --video_dir DIR)

Per video:
- audio: decoded to 16 kHz (ffmpeg's 16-bit samples), loudness-normalised, mel and F0 ('M' range, 50–250 Hz,
  as MakeItTalk's data) and the resemblyzer embedding of the normalised speech; with ``--feature autovc``
  (default) the AutoVC checkpoint converts it to the target speaker exactly as at inference; ``--feature mel``
  keeps the plain mel (branches trained on it need ``--feature mel`` at inference too);
- landmarks: 68 points per video frame from the project's landmarker (re-detected every ``--detect_every``
  frames, tracked in between; a frame without a face holds the previous one), linearly interpolated to
  62.5 fps (``np.interp`` on the frame-index grid), trimmed or held to the audio's T frames, normalised per
  frame (outer eye corners at x = ∓0.5) and registered rigidly (T-shape points) to the anchor T-shape;
- the dataset's own statistics: per-dimension mean/std of the feature (``mean_std.txt``), the reference face
  and the anchor (the original's STD_FACE_LANDMARKS/ANCHOR_T_SHAPE_9 when ``--module1_constants`` holds them,
  else the dataset's mean face and its T-shape). Training from scratch needs no file from the original.
"""
from __future__ import annotations

import argparse
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common import CheckpointError, FFmpegError, InputError
from common.media import decode_audio, ffmpeg_cmd, ffmpeg_input, probe

from . import audio as fe
from .config import CHECKPOINT_DIR
from .data import write_clip, write_index
from .registration import (
    T_SHAPE,
    anchor_t_shape,
    fit_to_length,
    mean_face,
    normalize_frames,
    register_frames,
    resample_to_fps,
)

__all__ = ["build_parser", "main", "read_frames", "track_landmarks", "landmarks_62_5", "VIDEO_EXTS"]

log = logging.getLogger(__name__)

VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


def read_frames(path: Path, fps: float | None = None) -> Iterator[np.ndarray]:
    """Yield the video's frames as uint8 RGB (H, W, 3), at its own rate (or resampled by ffmpeg to ``fps``)."""
    info = probe(path, count_frames=False)
    if not info.width or not info.height:
        raise InputError(f"no video stream in {path}")
    w, h = info.width, info.height
    cmd = [*ffmpeg_cmd(*ffmpeg_input(path)),
           "-an", *(["-vf", f"fps={fps:g}"] if fps else []), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    size = w * h * 3
    try:
        assert proc.stdout is not None
        while True:
            buf = proc.stdout.read(size)
            if len(buf) < size:
                break
            yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
        err = proc.stderr.read() if proc.stderr is not None else b""
        code = proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    if code != 0:
        raise FFmpegError(f"ffmpeg failed to decode {path.name}: {err.decode('utf-8', 'replace').strip()[-300:]}")


def track_landmarks(frames: Iterator[np.ndarray], landmarker: str = "auto", detect_every: int = 10,
                    quiet: bool = True) -> tuple[np.ndarray, int]:
    """(T, 68, 2) float32 landmarks of the strongest face per frame and the number of frames without one
    (they hold the previous landmarks; frames before the first face take the first face's)."""
    from common.face import detect_faces, landmarks_for_box

    pts: list[np.ndarray | None] = []
    box = None
    missed = 0
    for i, frame in enumerate(tqdm(frames, desc="landmarks", disable=quiet, leave=False, unit="frame")):
        lm = None
        if box is None or i % detect_every == 0:
            faces = detect_faces(frame, landmarker, upsample=0) or detect_faces(frame, landmarker, upsample=1)
            if faces:
                box, lm = faces[0].box, faces[0].landmarks
            else:
                box = None
        elif box is not None:
            lm = landmarks_for_box(frame, box, landmarker)
            x, y = lm[:, 0], lm[:, 1]
            box = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
        if lm is None:
            missed += 1
        pts.append(None if lm is None else np.asarray(lm, np.float32))
    known = [p for p in pts if p is not None]
    if not known:
        return np.zeros((0, 68, 2), np.float32), missed
    last = known[0]
    out = []
    for p in pts:
        last = p if p is not None else last
        out.append(last)
    return np.stack(out), missed


def landmarks_62_5(points_px: np.ndarray, src_fps: float, n_frames: int, std_face: np.ndarray | None) -> np.ndarray:
    """(N, 68, 2) pixel landmarks at ``src_fps`` → (n_frames, 68, 3) at 62.5 fps in the normalised frame.

    z is the reference face's z (the landmarker is 2-D; MakeItTalk's face_alignment gave 3-D points).
    """
    pts = resample_to_fps(np.asarray(points_px, np.float64), src_fps, fe.FPS)
    pts = fit_to_length(pts, n_frames)
    p3 = np.zeros((pts.shape[0], 68, 3))
    p3[..., :2] = pts
    out = normalize_frames(p3)
    out[..., 2] = 0.0 if std_face is None else np.asarray(std_face, np.float64).reshape(68, 3)[:, 2]
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(allow_abbrev=False,
        prog="python -m Module1.prepare",
        description="Build a Module1 training dataset (one .npz per clip + index.json, see Module1/data.py) "
                    "from talking-face videos: 62.5-fps normalised and registered landmarks, the audio feature the "
                    "branches see at inference, the speaker embedding and the dataset's statistics.",
    )
    p.add_argument("videos", nargs="*", type=Path, help="video files with one talking face and its speech")
    p.add_argument("--video_dir", type=Path, default=None, help="also take every video in this folder")
    p.add_argument("--out", required=True, type=Path, help="dataset folder to write (created; index rewritten)")
    p.add_argument("--feature", choices=("autovc", "mel"), default="autovc",
                   help="audio feature: AutoVC content features as at inference (needs --load_AUTOVC_name and "
                        "obama_emb.txt), or the plain mel (then use --feature mel at inference) (default: %(default)s)")
    p.add_argument("--load_AUTOVC_name", type=Path, default=CHECKPOINT_DIR / "ckpt_autovc.pth",
                   help="AutoVC checkpoint for --feature autovc (default: %(default)s)")
    p.add_argument("--module1_constants", type=Path, default=None,
                   help="folder with the original's constant files: obama_emb.txt (AutoVC target, needed for "
                        "--feature autovc) and, when present, STD_FACE_LANDMARKS.txt / ANCHOR_T_SHAPE_9.txt as "
                        "reference face and anchor (default: the AutoVC checkpoint's folder)")
    p.add_argument("--f0_setting", choices=sorted(fe.F0_RANGES), default="M",
                   help="RAPT range for AutoVC's F0 input: M = 50–250 Hz (MakeItTalk's data), F = 100–600 Hz "
                        "(inference) (default: %(default)s)")
    p.add_argument("--landmarker", default="auto", help="face landmarker of common.face (default: %(default)s)")
    p.add_argument("--detect_every", type=int, default=10,
                   help="re-detect the face every N frames, track it in between (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="torch device for AutoVC and the speaker encoder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _constant(folder: Path, name: str, size: int) -> np.ndarray | None:
    path = folder / name
    if not path.is_file():
        return None
    v = np.loadtxt(path, dtype=np.float64).reshape(-1)
    if v.size != size:
        raise InputError(f"{path} holds {v.size} numbers; expected {size}")
    return v


def main(argv: list[str] | None = None) -> Path:
    args = build_parser().parse_args(argv)
    videos = list(args.videos)
    if args.video_dir is not None:
        if not args.video_dir.is_dir():
            raise InputError(f"--video_dir {args.video_dir} is not a folder")
        videos += sorted(v for v in args.video_dir.iterdir() if v.suffix.lower() in VIDEO_EXTS)
    if not videos:
        raise InputError("no input videos (give files or --video_dir)")
    for v in videos:
        if not v.is_file():
            raise InputError(f"video not found: {v}")

    consts_dir = Path(args.module1_constants or Path(args.load_AUTOVC_name).parent)
    std_face = _constant(consts_dir, "STD_FACE_LANDMARKS.txt", 204)
    anchor_px = _constant(consts_dir, "ANCHOR_T_SHAPE_9.txt", 27)
    generator = target = None
    if args.feature == "autovc":
        if not Path(args.load_AUTOVC_name).is_file():
            raise CheckpointError(f"no AutoVC checkpoint at {args.load_AUTOVC_name}: give --load_AUTOVC_name, or "
                                  "--feature mel (branches trained on mel then need --feature mel at inference)")
        target = _constant(consts_dir, "obama_emb.txt", 256)
        if target is None:
            raise CheckpointError(f"AutoVC's target speaker {consts_dir / 'obama_emb.txt'} not found "
                                  "(set --module1_constants)")
        from common.checkpoint import load_state_dict

        from .nets import Generator

        generator = load_state_dict(args.load_AUTOVC_name, Generator(16, 256, 512, 16), key="model")
        generator.to(args.device).eval()
    else:
        print("notice: feature 'mel' (no AutoVC): branches trained on this dataset need --feature mel at inference")
    from .speaker import SpeakerEncoder

    encoder = SpeakerEncoder(device=args.device)
    prepared = []
    for video in tqdm(videos, desc="videos", disable=args.quiet):
        audio = decode_audio(video, fe.SAMPLE_RATE)
        feats = fe.front_end(audio, f0_setting=args.f0_setting, with_f0=generator is not None)
        emb = encoder.embed(feats.normalized)
        au = feats.mel.astype(np.float32)
        if generator is not None:
            from .predictors.makeittalk import autovc_convert

            assert target is not None
            au = autovc_convert(generator, feats.mel, feats.f0, emb, target, args.device, args.quiet)  # type: ignore[arg-type]
        info = probe(video, count_frames=False)
        if not info.fps:
            raise InputError(f"no video stream (or frame rate) in {video}")
        pts, missed = track_landmarks(read_frames(video), args.landmarker, args.detect_every, args.quiet)
        if pts.shape[0] == 0:
            log.warning("%s: no face found, skipped", video.name)
            continue
        if missed:
            log.warning("%s: %d of %d frames without a face (previous landmarks held)", video.name, missed,
                        pts.shape[0])
        prepared.append((video.stem, pts, float(info.fps), au, emb))
    if not prepared:
        raise InputError("no clip could be prepared (no face found in any video)")
    # reference shapes: the original's when given, else the dataset's own mean face
    if std_face is None:
        std_face = mean_face([landmarks_62_5(p, f, au.shape[0], None) for _, p, f, au, _ in prepared])
    std_face = np.asarray(std_face, np.float64).reshape(68, 3)
    anchor = anchor_t_shape(anchor_px if anchor_px is not None else std_face[T_SHAPE])
    entries = []
    for name, pts, src_fps, au, emb in prepared:
        fls = landmarks_62_5(pts, src_fps, au.shape[0], std_face)
        reg, rot_trans, rot_quat = register_frames(fls, anchor)
        entries.append(write_clip(args.out, name, fls=fls.reshape(-1, 204), reg_fls=reg.reshape(-1, 204),
                                  rot_trans=rot_trans, rot_quat=rot_quat, au=au, emb=emb))
    frames = np.concatenate([au for _, _, _, au, _ in prepared], axis=0).astype(np.float64)
    mean_std = np.concatenate([frames.mean(axis=0), frames.std(axis=0)])
    index = write_index(args.out, entries, args.feature, args.f0_setting if generator is not None else None,
                        mean_std, std_face, anchor)
    print(f"{len(entries)} clips -> {index}")
    return index


if __name__ == "__main__":
    from .train_common import main_guard

    main_guard(main)
