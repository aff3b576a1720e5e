"""Every ffmpeg call of the project: argument lists, never a shell.

The ffmpeg binary comes from the ``imageio-ffmpeg`` wheel (no system install
needed); probing uses PyAV. Every path is opened as a local file: a ``file:`` URL
of the absolute path with ``protocol_whitelist=file`` (ffmpeg and PyAV alike), so
names with colons (``tcp:...``, ``concat:...``, ``a:b.wav``), leading dashes, spaces,
quotes or ``$()`` are never interpreted, and a file whose content names other URLs
(an HLS playlist, an ffconcat list) cannot make ffmpeg open the network.
"""
from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO

import cv2
import numpy as np

from .audio import Audio
from .errors import AudioError, FFmpegError, InputError, OutputError
from .fs import make_public

__all__ = [
    "ffmpeg_exe",
    "ffmpeg_input",
    "open_local",
    "ffmpeg_cmd",
    "decode_audio",
    "DecodedAudio",
    "extract_first_frame",
    "iter_frames",
    "probe",
    "MediaInfo",
    "VideoWriter",
    "AudioTrack",
    "GREY_TO_Y",
]

log = logging.getLogger(__name__)
_FFMPEG: str | None = None


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by imageio-ffmpeg (``IMAGEIO_FFMPEG_EXE`` overrides)."""
    global _FFMPEG
    if _FFMPEG is None:
        try:
            import imageio_ffmpeg

            _FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
        except Exception as exc:  # the wheel is missing or broken
            raise FFmpegError(f"ffmpeg not found ({exc}); install requirements.txt") from None
    return _FFMPEG


def _url(path: str | os.PathLike) -> str:
    return "file:" + str(Path(path).resolve())


# Only the local-file protocol, for the file itself and anything a demuxer would open from it.
_LOCAL_ONLY = {"protocol_whitelist": "file"}


def ffmpeg_input(path: str | os.PathLike) -> list[str]:
    """The ffmpeg arguments that read ``path`` as a local file and nothing else: ``-protocol_whitelist file -i file:/abs``."""
    return ["-protocol_whitelist", _LOCAL_ONLY["protocol_whitelist"], "-i", _url(path)]


def open_local(path: str | os.PathLike):
    """``av.open`` of ``path`` as a local file only (``file:`` URL, protocol whitelist ``file``)."""
    import av

    return av.open(_url(path), options=dict(_LOCAL_ONLY))


def _tail(text: bytes | str, n: int = 3) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:]) if lines else "no message"


def ffmpeg_cmd(*args: str) -> list[str]:
    """``[ffmpeg, -nostdin, -hide_banner, -loglevel error, *args]``: quiet, never reads the terminal."""
    return [ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", *args]


@dataclass(frozen=True)
class DecodedAudio(Audio):
    """:class:`Audio` decoded from a file, with ffmpeg's 16-bit samples of every channel.

    ``pcm16`` (N, C) int16 equals the wav ``ffmpeg -i <file> -ar <rate> out.wav`` writes (what
    MakeItTalk's front end reads); ``samples`` is the mean of its channels /32768.
    """

    pcm16: np.ndarray | None = field(default=None, repr=False, compare=False)


def decode_audio(path: str | os.PathLike, sample_rate: int = 16000, max_seconds: float | None = None) -> DecodedAudio:
    """Decode any audio (or a video's audio track) to mono float32 at ``sample_rate``.

    ffmpeg converts to 16-bit PCM at ``sample_rate`` keeping the channels (``pcm16``); the mono
    samples are their plain average. The file is only read. Raises :class:`AudioError` when it is
    missing, cannot be decoded, holds no audio, or is longer than ``max_seconds``.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}")
    channels = _audio_channels(path)
    args = [*ffmpeg_input(path), "-vn", "-map", "0:a:0", "-ar", str(int(sample_rate))]
    if max_seconds is not None:
        # Decode a little past the limit only: enough to tell that it is too long.
        args += ["-t", f"{max_seconds + 1.0:.3f}"]
    args += ["-c:a", "pcm_s16le", "-f", "s16le", "-"]
    proc = subprocess.run(ffmpeg_cmd(*args), capture_output=True, check=False)
    if proc.returncode != 0:
        raise AudioError(f"cannot decode audio {path.name}: {_tail(proc.stderr, 1)}")
    raw = np.frombuffer(proc.stdout, dtype="<i2")
    if raw.size < channels:
        raise AudioError(f"audio {path.name} is empty (no samples decoded)")
    pcm = raw[: raw.size - raw.size % channels].reshape(-1, channels).astype(np.int16)
    del proc, raw  # ffmpeg's output buffer: long speech is tens of MB
    samples, keep = _downmix(pcm)
    if keep is not None:
        log.warning("audio %s: its channels cancel out when mixed (antiphase stereo); using channel %d",
                    path.name, keep + 1)
        pcm = np.ascontiguousarray(pcm[:, keep:keep + 1])
    audio = DecodedAudio(samples, int(sample_rate), pcm16=pcm)
    if max_seconds is not None and audio.duration > max_seconds:
        raise AudioError(f"audio {path.name} is longer than --max_seconds {max_seconds:g} s")
    return audio


def _downmix(pcm: np.ndarray, block: int = 1 << 18) -> tuple[np.ndarray, int | None]:
    """Mono float32 samples of int16 ``pcm`` (N, C), block by block (no whole-signal float copies).

    The plain average of the channels (ffmpeg's own downmix adds +3 dB per channel), unless
    they cancel out (the mix is 20 dB below the loudest channel: antiphase stereo, right = -left),
    where the loudest channel alone is the speech. Returns ``(samples, channel kept or None)``.
    """
    n, c = pcm.shape
    out = np.empty(n, dtype=np.float32)
    power = np.zeros(c, dtype=np.float64)
    mixed = 0.0
    scale = np.float32(32768)
    for a in range(0, n, block):
        part = pcm[a:a + block].astype(np.float32) / scale
        out[a:a + block] = np.mean(part, axis=1)
        if c > 1:
            power += np.square(part, dtype=np.float64).sum(axis=0)
            mixed += float(np.square(out[a:a + block], dtype=np.float64).sum())
    if c > 1 and power.max() > 0 and mixed < 0.01 * power.max():  # amplitude ratio below 0.1 = -20 dB
        keep = int(np.argmax(power))
        for a in range(0, n, block):
            out[a:a + block] = pcm[a:a + block, keep].astype(np.float32) / scale
        return out, keep
    return out, None


def _audio_channels(path: Path) -> int:
    import av

    try:
        with open_local(path) as box:
            stream = next(iter(box.streams.audio), None)
            if stream is None:
                raise AudioError(f"{path.name} has no audio track")
            return max(1, int(stream.codec_context.channels))
    except av.error.FFmpegError as exc:
        raise AudioError(f"cannot decode audio {path.name}: {exc}") from None


# A photo-sized first frame is a few megapixels; a header claiming more is refused before decoding.
MAX_FRAME_PIXELS = 64 * 10**6


def extract_first_frame(path: str | os.PathLike) -> np.ndarray:
    """The first video frame of ``path`` as RGB uint8 (H, W, 3)."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise InputError(f"video file not found: {path}")
    info = probe(path, count_frames=False)
    if info.width * info.height > MAX_FRAME_PIXELS:
        raise InputError(f"video {path.name} has {info.width}x{info.height} frames; at most {MAX_FRAME_PIXELS // 10**6} "
                         "megapixels are read")
    cmd = ffmpeg_cmd(*ffmpeg_input(path), "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-")
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        raise InputError(f"cannot read a frame from video {path.name}: {_tail(proc.stderr, 1)}")
    img = cv2.imdecode(np.frombuffer(proc.stdout, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"cannot read a frame from video {path.name}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def iter_frames(path: str | os.PathLike, pix_fmt: str = "rgb24") -> Iterator[np.ndarray]:
    """Decode the video frames of ``path`` one by one as uint8 arrays (``rgb24`` → (H, W, 3), ``gray`` → (H, W))."""
    import av

    path = Path(path)
    try:
        with open_local(path) as box:
            stream = next(iter(box.streams.video), None)
            if stream is None:
                raise InputError(f"{path.name} has no video track")
            stream.thread_type = "AUTO"
            for frame in box.decode(stream):
                yield frame.to_ndarray(format=pix_fmt)
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot read video {path.name}: {exc}") from None


@dataclass(frozen=True)
class MediaInfo:
    """What a player sees in a media file."""

    duration: float
    video_codec: str | None = None
    pix_fmt: str | None = None
    width: int = 0
    height: int = 0
    fps: Fraction | None = None
    frames: int = 0
    audio_codec: str | None = None
    audio_rate: int = 0
    audio_duration: float = 0.0


def probe(path: str | os.PathLike, count_frames: bool = True) -> MediaInfo:
    """Inspect a media file with PyAV (our ffprobe): codecs, size, rate, frame count, durations."""
    import av

    try:
        with open_local(path) as box:
            v = next(iter(box.streams.video), None)
            a = next(iter(box.streams.audio), None)
            duration = float(box.duration / av.time_base) if box.duration else 0.0
            frames = 0
            if v is not None and count_frames:
                frames = sum(1 for p in box.demux(v) if p.size > 0)
            info = MediaInfo(
                duration=duration,
                video_codec=v.codec_context.name if v is not None else None,
                pix_fmt=(v.codec_context.pix_fmt if v is not None else None),
                width=v.codec_context.width if v is not None else 0,
                height=v.codec_context.height if v is not None else 0,
                fps=Fraction(v.average_rate) if v is not None and v.average_rate else None,
                frames=frames,
                audio_codec=a.codec_context.name if a is not None else None,
                audio_rate=a.codec_context.sample_rate if a is not None else 0,
                audio_duration=float(a.duration * a.time_base) if a is not None and a.duration else 0.0,
            )
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot read media file {path}: {exc}") from None
    return info


# The soundtrack of every video: AAC at the source's rate, 128 kbit/s.
_AAC = ["-c:a", "aac", "-b:a", "128k"]


class AudioTrack:
    """The speech of ``source`` (its first audio stream) encoded to AAC once, in the background, for several
    :class:`VideoWriter` s to copy (``audio=track``): the same AAC stream each would have encoded itself.

    Encoding starts at construction; :meth:`path` waits for it. Use as a context manager: on leaving,
    a running encoder is stopped and the file removed.
    """

    def __init__(self, source: str | os.PathLike, path: str | os.PathLike) -> None:
        self.source, self._path = Path(source), Path(path)
        self._err = tempfile.TemporaryFile()
        self._proc: subprocess.Popen | None = subprocess.Popen(
            ffmpeg_cmd("-y", *ffmpeg_input(self.source), "-vn", "-map", "0:a:0", *_AAC, "-f", "mp4", _url(self._path)),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._err)
        self._code: int | None = None

    def path(self) -> Path:
        """The finished ``.m4a``; raises :class:`FFmpegError` if ffmpeg failed."""
        if self._proc is not None:
            self._code = self._proc.wait()
            self._proc = None
        if self._code != 0:
            self._err.seek(0)
            raise FFmpegError(f"ffmpeg failed to encode the audio of {self.source.name}: {_tail(self._err.read())}")
        return self._path

    def close(self) -> None:
        """Stop the encoder if it still runs and remove the file."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        self._err.close()
        self._path.unlink(missing_ok=True)

    def __enter__(self) -> AudioTrack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Grey → the Y plane of yuv420p exactly as ffmpeg's own conversion makes it (full to limited range;
# the chroma planes are neutral, 128). Checked against ffmpeg in tests/common/test_media.py.
GREY_TO_Y = ((np.arange(256) * 219 + 127) // 255 + 16).astype(np.uint8)


class VideoWriter:
    """Stream raw frames into one ffmpeg process: H.264 yuv420p (+ AAC audio), written atomically.

    >>> with VideoWriter("out.mp4", (256, 256), fps=25, channels=1, audio="speech.wav") as w:  # doctest: +SKIP
    ...     for frame in frames:
    ...         w.write(frame)

    The file appears at ``path`` only when the block completes; on error nothing is left.
    Grey frames of even size are turned into yuv420p here (:data:`GREY_TO_Y`, the same planes
    ffmpeg would make), which spares ffmpeg's single conversion thread. ``i420=True`` takes
    frames already in ``cv2.COLOR_RGB2YUV_I420`` layout, (H·3/2, W). ``threads`` caps x264's threads.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        size: tuple[int, int],
        fps: float,
        channels: int = 3,
        audio: str | os.PathLike | AudioTrack | None = None,
        crf: int = 20,
        preset: str = "veryfast",
        i420: bool = False,
        threads: int | None = None,
    ) -> None:
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3; got {channels}")
        self.path = Path(path)
        self.width, self.height = int(size[0]), int(size[1])
        self.fps = fps
        self.channels = channels
        self.audio = audio
        self.crf = crf
        self.preset = preset
        self.threads = threads
        even = self.width % 2 == 0 and self.height % 2 == 0
        if i420 and not even:
            raise ValueError(f"i420 frames need an even size; got {self.width}x{self.height}")
        self.i420 = i420
        self._grey_y = channels == 1 and even and not i420
        self._chroma = np.full(self.width * self.height // 2, 128, np.uint8) if self._grey_y else None
        self.frames = 0
        self._proc: subprocess.Popen | None = None
        self._err: IO[bytes] | None = None
        self._tmp: Path | None = None

    def _cmd(self, out: Path) -> list[str]:
        pix = "yuv420p" if self.i420 or self._grey_y else "gray" if self.channels == 1 else "rgb24"
        cmd = ffmpeg_cmd("-y", "-f", "rawvideo", "-pix_fmt", pix, "-s", f"{self.width}x{self.height}",
                         "-framerate", f"{self.fps:g}", "-i", "-")
        if isinstance(self.audio, AudioTrack):
            cmd += [*ffmpeg_input(self.audio.path()), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "copy"]
        elif self.audio is not None:
            cmd += [*ffmpeg_input(self.audio), "-map", "0:v:0", "-map", "1:a:0", *_AAC]
        cmd += ["-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf)]
        if self.threads is not None:
            cmd += ["-threads", str(int(self.threads))]
        cmd += ["-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4", _url(out)]
        return cmd

    def __enter__(self) -> VideoWriter:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".tmp.mp4", dir=self.path.parent)
            os.close(fd)
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._tmp = Path(tmp)
        self._err = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(self._cmd(self._tmp), stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=self._err)
        return self

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 frame: (H, W) grey or (H, W, 3) RGB, matching ``size``/``channels``
        (or (H·3/2, W) I420 when made with ``i420=True``)."""
        frame = np.asarray(frame)
        if self.i420:
            want: tuple[int, ...] = (self.height * 3 // 2, self.width)
        else:
            want = (self.height, self.width) if self.channels == 1 else (self.height, self.width, 3)
        if frame.shape != want or frame.dtype != np.uint8:
            raise ValueError(f"frame must be uint8 {want}; got {frame.dtype} {frame.shape}")
        assert self._proc is not None and self._proc.stdin is not None
        try:
            # The array's own buffer: no per-frame bytes copy (the pipe write releases the GIL).
            if self._grey_y:
                assert self._chroma is not None
                self._proc.stdin.write(cv2.LUT(frame, GREY_TO_Y).data.cast("B"))
                self._proc.stdin.write(self._chroma.data)
            else:
                self._proc.stdin.write(np.ascontiguousarray(frame).data.cast("B"))
        except BrokenPipeError:
            self._proc.wait()
            raise FFmpegError(f"ffmpeg stopped while encoding {self.path.name}: {self._stderr()}") from None
        self.frames += 1

    def _stderr(self) -> str:
        if self._err is None:
            return "no message"
        self._err.seek(0)
        return _tail(self._err.read())

    def __exit__(self, exc_type, exc, tb) -> None:
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.stdin is not None:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass
            if proc is not None and exc_type is not None:
                proc.kill()
            code = proc.wait() if proc is not None else 0
            if exc_type is None:
                if code != 0:
                    raise FFmpegError(f"ffmpeg failed to encode {self.path.name}: {self._stderr()}")
                if self.frames == 0:
                    raise FFmpegError(f"no frames were written to {self.path.name}")
                assert self._tmp is not None  # set by __enter__
                make_public(self._tmp)
                os.replace(self._tmp, self.path)
        finally:
            if self._err is not None:
                self._err.close()
            if self._tmp is not None and self._tmp.exists():
                self._tmp.unlink()
