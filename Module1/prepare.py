"""Build a Module1 training dataset (format: Module1/data.py) from talking-face videos.

    python -m Module1.prepare --out DATA video1.mp4 video2.mp4 ...      (or --video_dir DIR)

Per video: the audio track is decoded to 16 kHz in memory and run through the front end
(Module1.audio) and the resemblyzer speaker encoder; when the AutoVC checkpoint
(``--load_AUTOVC_name``) and the constant files are present the mel is converted to the target
speaker exactly as at inference (the dataset's ``feature`` is then ``"autovc"``), otherwise the
mel alone is stored and ``feature`` is ``"mel"``. The frames are decoded by ffmpeg at 62.5 fps and
every frame gets 68 landmarks from the project's landmarker (``common.face``; the face is re-detected
every ``--detect_every`` frames and tracked from the previous box in between; a frame without a face
holds the previous landmarks). Landmarks are normalised with Module1's ``norm_input_face`` using one
scale/shift per clip (mean of points 0 and 16 over the clip) so head motion is kept; z is 0.1·z of
STD_FACE_LANDMARKS.txt (0 when the constant files are absent). The audio feature and the frames are
trimmed to the same length.
"""
from __future__ import annotations

import argparse
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from common import FFmpegError, InputError
from common.media import decode_audio, ffmpeg_cmd, ffmpeg_input, probe

from . import audio as fe
from .config import CHECKPOINT_DIR
from .constants import load_constants, missing_constant
from .data import write_clip, write_index

__all__ = ["build_parser", "main", "read_frames", "track_landmarks", "normalize_clip", "VIDEO_EXTS"]

log = logging.getLogger(__name__)

VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


def read_frames(path: Path, fps: float = fe.FPS) -> Iterator[np.ndarray]:
    """Yield the video's frames resampled by ffmpeg to ``fps`` as uint8 RGB (H, W, 3)."""
    info = probe(path, count_frames=False)
    if not info.width or not info.height:
        raise InputError(f"no video stream in {path}")
    w, h = info.width, info.height
    cmd = [*ffmpeg_cmd(*ffmpeg_input(path)),
           "-an", "-vf", f"fps={fps:g}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
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


def normalize_clip(points: np.ndarray, std_face: np.ndarray) -> np.ndarray:
    """(T, 68, 2) pixel landmarks → (T, 204) in Module1's normalised frame with one scale/shift per clip."""
    p = np.asarray(points, np.float64)
    width = float(np.mean(p[:, 0, 0] - p[:, 16, 0]))
    if width == 0:
        raise InputError("degenerate landmarks (points 0 and 16 coincide)")
    scale = 1.6 / width
    shift = -0.5 * np.mean(p[:, 0] + p[:, 16], axis=0)
    out = np.empty((p.shape[0], 68, 3))
    out[..., :2] = -((p + shift) * scale)
    out[..., 2] = 0.1 * np.asarray(std_face, np.float64).reshape(68, 3)[:, 2]
    return out.reshape(-1, 204)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m Module1.prepare",
        description="Build a Module1 training dataset (one .npz per clip + index.json, see Module1/data.py) "
                    "from talking-face videos: 62.5-fps landmarks, the audio feature and the speaker embedding.",
    )
    p.add_argument("videos", nargs="*", type=Path, help="video files with one talking face and its speech")
    p.add_argument("--video_dir", type=Path, default=None, help="also take every video in this folder")
    p.add_argument("--out", required=True, type=Path, help="dataset folder to write (created; index rewritten)")
    p.add_argument("--load_AUTOVC_name", type=Path, default=CHECKPOINT_DIR / "ckpt_autovc.pth",
                   help="AutoVC checkpoint; when missing the plain mel is stored (feature 'mel')")
    p.add_argument("--module1_constants", type=Path, default=None,
                   help="folder with the original's constant files (default: the AutoVC checkpoint's folder)")
    p.add_argument("--landmarker", default="auto", help="face landmarker of common.face (default: %(default)s)")
    p.add_argument("--detect_every", type=int, default=10,
                   help="re-detect the face every N frames, track it in between (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="torch device for AutoVC and the speaker encoder")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


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

    consts_dir = args.module1_constants or Path(args.load_AUTOVC_name).parent
    use_autovc = Path(args.load_AUTOVC_name).is_file() and missing_constant(consts_dir) is None
    generator = target = None
    if use_autovc:
        from common.checkpoint import load_state_dict

        from .nets import Generator

        generator = load_state_dict(args.load_AUTOVC_name, Generator(16, 256, 512, 16), key="model")
        generator.to(args.device).eval()
        target = load_constants(consts_dir).target_emb
    else:
        log.warning("AutoVC checkpoint or constants missing (%s): storing the plain mel (feature 'mel')",
                    args.load_AUTOVC_name)
    std_face = (load_constants(consts_dir).std_face if missing_constant(consts_dir) is None
                else None)
    from .speaker import SpeakerEncoder

    encoder = SpeakerEncoder(device=args.device)
    entries = []
    for video in tqdm(videos, desc="videos", disable=args.quiet):
        name = video.stem
        audio = decode_audio(video, fe.SAMPLE_RATE)
        feats = fe.front_end(audio, with_f0=use_autovc)
        emb = encoder.embed(feats.normalized)
        au = feats.mel
        if use_autovc:
            from .predictors.makeittalk import autovc_convert

            au = autovc_convert(generator, feats.mel, feats.f0, emb, target, args.device, args.quiet)
        pts, missed = track_landmarks(read_frames(video), args.landmarker, args.detect_every, args.quiet)
        if pts.shape[0] == 0:
            log.warning("%s: no face found, skipped", video.name)
            continue
        if missed:
            log.warning("%s: %d of %d frames without a face (previous landmarks held)", video.name, missed,
                        pts.shape[0])
        T = min(pts.shape[0], au.shape[0])
        sf = std_face if std_face is not None else np.zeros((68, 3))
        fls = normalize_clip(pts[:T], sf)
        entries.append(write_clip(args.out, name, fls, au[:T], emb))
    if not entries:
        raise InputError("no clip could be prepared (no face found in any video)")
    index = write_index(args.out, entries, "autovc" if use_autovc else "mel")
    print(f"{len(entries)} clips -> {index}")
    return index


if __name__ == "__main__":
    from .train_common import main_guard

    main_guard(main)
