"""common.media against the real ffmpeg binary."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from common import AudioError, FFmpegError, InputError
from common.media import GREY_TO_Y, AudioTrack, VideoWriter, decode_audio, extract_first_frame, ffmpeg_exe, probe


def _tone(path: Path, sr: int, seconds: float, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    y = 0.5 * np.sin(2 * np.pi * freq * t)
    data = np.stack([y] * channels, axis=1) if channels > 1 else y
    sf.write(str(path), data, sr)
    return y


class TestDecodeAudio:
    def test_resamples_and_downmixes(self, tmp_path):
        src = tmp_path / "stereo 44k.wav"
        _tone(src, 44100, 1.5, channels=2)
        before = src.read_bytes()
        audio = decode_audio(src, 16000)
        assert audio.sample_rate == 16000
        assert abs(audio.duration - 1.5) < 0.01
        # a 0.5-amplitude sine has an RMS of 0.5/sqrt(2) → -9.03 dBFS
        assert audio.rms_dbfs() == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.2)
        assert src.read_bytes() == before  # the user's file is never modified

    def test_other_container(self, tmp_path):
        wav = tmp_path / "a.wav"
        _tone(wav, 22050, 1.0)
        flac = tmp_path / "a.flac"
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(wav), str(flac)], check=True)
        assert abs(decode_audio(flac).duration - 1.0) < 0.01

    @pytest.mark.parametrize("name", ["quote's \"x\".wav", "semi;colon $(touch pwned).wav", "naïve 日本.wav", "-dash:colon.wav"])
    def test_hostile_names(self, tmp_path, name):
        src = tmp_path / name
        _tone(src, 16000, 0.5)
        assert abs(decode_audio(src).duration - 0.5) < 0.01
        assert not (tmp_path / "pwned").exists()

    def test_missing(self, tmp_path):
        with pytest.raises(AudioError, match="not found"):
            decode_audio(tmp_path / "nope.wav")

    def test_corrupt(self, tmp_path):
        bad = tmp_path / "bad.wav"
        bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage" * 10)
        with pytest.raises(AudioError, match="cannot decode|empty"):
            decode_audio(bad)

    def test_too_long(self, tmp_path):
        src = tmp_path / "long.wav"
        _tone(src, 8000, 3.0)
        with pytest.raises(AudioError, match="longer than"):
            decode_audio(src, max_seconds=1.0)


class TestVideoWriter:
    def test_grey_with_audio(self, tmp_path):
        wav = tmp_path / "a.wav"
        _tone(wav, 16000, 2.0)
        out = tmp_path / "out dir" / "v.mp4"
        with VideoWriter(out, (64, 48), 25, channels=1, audio=wav) as w:
            for i in range(50):
                w.write(np.full((48, 64), 5 * i, np.uint8))
        info = probe(out)
        assert (info.video_codec, info.pix_fmt, info.width, info.height) == ("h264", "yuv420p", 64, 48)
        assert info.fps == 25 and info.frames == 50
        assert info.audio_codec == "aac" and abs(info.audio_duration - 2.0) < 0.05
        assert abs(info.duration - 2.0) <= 1 / 25 + 0.03
        assert list(out.parent.iterdir()) == [out]  # no temporary left behind

    def test_rgb_content_survives(self, tmp_path):
        out = tmp_path / "c.mp4"
        with VideoWriter(out, (32, 32), 10, channels=3) as w:
            for _ in range(5):
                frame = np.zeros((32, 32, 3), np.uint8)
                frame[..., 0] = 200  # red
                w.write(frame)
        first = extract_first_frame(out)
        assert first.shape == (32, 32, 3)
        assert first[..., 0].mean() > 150 and first[..., 2].mean() < 60

    def test_error_leaves_nothing(self, tmp_path):
        out = tmp_path / "x.mp4"
        out.write_bytes(b"previous")
        with pytest.raises(RuntimeError):
            with VideoWriter(out, (16, 16), 25, channels=1) as w:
                w.write(np.zeros((16, 16), np.uint8))
                raise RuntimeError("boom")
        assert out.read_bytes() == b"previous"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["x.mp4"]

    def test_wrong_frame_shape(self, tmp_path):
        with pytest.raises(ValueError, match="uint8"):
            with VideoWriter(tmp_path / "y.mp4", (16, 16), 25, channels=1) as w:
                w.write(np.zeros((8, 8), np.uint8))
        assert not (tmp_path / "y.mp4").exists()

    def test_no_frames_is_an_error(self, tmp_path):
        with pytest.raises(FFmpegError):
            with VideoWriter(tmp_path / "z.mp4", (16, 16), 25, channels=1):
                pass
        assert list(tmp_path.iterdir()) == []


def _ffmpeg_yuv420p(frames: np.ndarray, pix_fmt: str) -> np.ndarray:
    """ffmpeg's own conversion of raw frames to yuv420p planes, (T, H·3/2·W)."""
    t, h, w = frames.shape[:3]
    out = subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", pix_fmt, "-s", f"{w}x{h}",
                          "-i", "-", "-pix_fmt", "yuv420p", "-f", "rawvideo", "-"],
                         input=frames.tobytes(), capture_output=True, check=True).stdout
    return np.frombuffer(out, np.uint8).reshape(t, -1)


def _h264(path: Path) -> bytes:
    """The video elementary stream of an mp4 (the muxer's interleaving with the audio aside)."""
    return subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(path), "-map", "0:v", "-c", "copy",
                           "-f", "h264", "-"], capture_output=True, check=True).stdout


class TestGreyAsYuv:
    """Grey frames reach x264 as the yuv420p planes ffmpeg itself would have made of them."""

    def test_lut_is_ffmpegs_conversion(self):
        rng = np.random.default_rng(3)
        frames = np.concatenate([np.tile(np.arange(256, dtype=np.uint8), (1, 16, 1)),
                                 rng.integers(0, 256, (3, 16, 256), dtype=np.uint8)])
        planes = _ffmpeg_yuv420p(frames, "gray")
        n = 16 * 256
        assert np.array_equal(planes[:, :n], GREY_TO_Y[frames].reshape(len(frames), -1))
        assert (planes[:, n:] == 128).all()
        assert GREY_TO_Y[0] == 16 and GREY_TO_Y[255] == 235  # limited range, not a copy

    def test_same_stream_as_grey_input(self, tmp_path):
        rng = np.random.default_rng(4)
        # a moving, textured picture: x264 decisions depend on every value
        base = rng.integers(0, 256, (80, 96), dtype=np.uint8)
        frames = [np.roll(base, 3 * i, axis=1) // (1 + i % 3) for i in range(20)]
        ours = tmp_path / "ours.mp4"
        with VideoWriter(ours, (96, 80), 25, channels=1) as w:
            for f in frames:
                w.write(f)
        plain = tmp_path / "plain.mp4"  # what the writer did before: grey into ffmpeg
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "gray", "-s", "96x80",
                        "-framerate", "25", "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                        "-pix_fmt", "yuv420p", "-f", "mp4", str(plain)], input=b"".join(f.tobytes() for f in frames),
                       check=True)
        assert _h264(ours) == _h264(plain) and len(_h264(ours)) > 1000

    def test_odd_size_still_encodes(self, tmp_path):
        out = tmp_path / "odd.mp4"
        with pytest.raises(FFmpegError):  # x264 needs even sizes for 4:2:0 either way; one clear error
            with VideoWriter(out, (15, 15), 25, channels=1) as w:
                w.write(np.zeros((15, 15), np.uint8))
        assert not out.exists()


def _aac(path: Path) -> bytes:
    return subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(path), "-map", "0:a", "-c", "copy",
                           "-f", "adts", "-"], capture_output=True, check=True).stdout


class TestAudioTrack:
    def test_copied_track_is_the_track_encoded_inline(self, tmp_path):
        wav = tmp_path / "s.wav"
        _tone(wav, 22050, 1.2, channels=2, freq=330.0)
        frames = [np.full((32, 32), 8 * i, np.uint8) for i in range(30)]
        inline = tmp_path / "inline.mp4"
        with VideoWriter(inline, (32, 32), 25, channels=1, audio=wav) as w:
            for f in frames:
                w.write(f)
        with AudioTrack(wav, tmp_path / ".track.m4a") as track:
            copied = [tmp_path / "a.mp4", tmp_path / "b.mp4"]
            for out in copied:
                with VideoWriter(out, (32, 32), 25, channels=1, audio=track) as w:
                    for f in frames:
                        w.write(f)
            assert track.path().is_file()
        assert not (tmp_path / ".track.m4a").exists()  # removed on leaving
        want = _aac(inline)
        assert len(want) > 1000
        for out in copied:
            assert _aac(out) == want and _h264(out) == _h264(inline)
            info, ref = probe(out), probe(inline)
            assert (info.audio_codec, info.audio_rate) == (ref.audio_codec, ref.audio_rate) == ("aac", 22050)
            assert abs(info.audio_duration - ref.audio_duration) < 1e-6

    def test_bad_source_is_one_error(self, tmp_path):
        bad = tmp_path / "bad.wav"
        bad.write_bytes(b"not audio at all" * 50)
        with AudioTrack(bad, tmp_path / "t.m4a") as track:
            with pytest.raises(FFmpegError, match="audio of bad.wav"):
                track.path()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.wav"]


def test_i420_frames(tmp_path):
    import cv2

    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[..., 0] = 220  # red
    out = tmp_path / "i420.mp4"
    with VideoWriter(out, (48, 32), 10, channels=3, i420=True, threads=1) as w:
        for _ in range(4):
            w.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420))
        with pytest.raises(ValueError, match="uint8"):
            w.write(rgb)  # an RGB frame is refused: the writer expects I420 planes
    first = extract_first_frame(out)
    assert first.shape == (32, 48, 3) and first[..., 0].mean() > 180 and first[..., 2].mean() < 60
    with pytest.raises(ValueError, match="even"):
        VideoWriter(out, (15, 16), 10, channels=3, i420=True)


def test_extract_first_frame_missing(tmp_path):
    with pytest.raises(InputError):
        extract_first_frame(tmp_path / "none.mp4")
