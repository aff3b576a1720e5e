"""The web app (app.py): its jobs go through the CLI's option handling; end to end in headless Chromium."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.media import ffmpeg_exe, probe

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "examples" / "astronaut.jpg"
SPEECH = REPO / "examples" / "speech.wav"
CHROMIUM = Path("/usr/bin/chromium")


def test_job_argv_is_the_cli():
    import app
    from pipeline.cli import build_parser, config_from_args

    argv = app.job_argv("p.jpg", "s.wav", "cartoon", "256", 7.0, 0.5, "procedural", "classic", Path("/tmp/x"))
    cfg = config_from_args(build_parser().parse_args(argv))
    assert (cfg.photo, cfg.audio, cfg.output_dir) == (Path("p.jpg"), Path("s.wav"), Path("/tmp/x"))
    assert cfg.exp == "formal/cartoon" and cfg.module2.style == "cartoon"
    assert (cfg.size, cfg.seed, cfg.predictor, cfg.renderer) == (256, 7, "procedural", "classic")
    assert cfg.module1.head_motion == 0.5 and cfg.module2.size == 256


def test_transcript_goes_through_a_file_of_the_job(tmp_path):
    import app
    from pipeline.cli import build_parser, config_from_args

    if app._option("transcript") is None:
        pytest.skip("the CLI has no --transcript option")
    (tmp_path / "secret.txt").write_text("not for visitors")
    for text in ("hello world", str(tmp_path / "secret.txt")):
        job = tmp_path / f"job{len(text)}"
        argv = app.job_argv("p.jpg", "s.wav", "drawing", "256", 0, 1.0, "auto", "auto", job, transcript=text)
        cfg = config_from_args(build_parser().parse_args(argv))
        assert cfg.module1.transcript.strip() == text  # the words typed, never a server file's contents
        assert (job / "transcript.txt").read_text().strip() == text
    argv = app.job_argv("p.jpg", "s.wav", "drawing", "256", 0, 1.0, "auto", "auto", tmp_path / "j", transcript=" ")
    assert "--transcript" not in argv


def test_missing_input_gives_the_cli_message(tmp_path):
    import app

    status, video, preview, report, report_file = app._run_job(
        tmp_path, None, str(SPEECH), "drawing", "256", 0, 1.0, "auto", "auto")
    assert status == "error: give --jpg PHOTO and --audio SPEECH, or --video CLIP"
    assert (video, preview, report, report_file) == (None, None, "", None)
    assert not any(tmp_path.iterdir())


def test_unavailable_backend_is_a_one_line_error(tmp_path):
    import app

    status, video, *_ = app._run_job(tmp_path, str(PHOTO), str(SPEECH), "drawing", "256", 0, 1.0, "makeittalk", "auto")
    assert status.startswith("error: ") and "\n" not in status and "makeittalk" in status, status
    assert video is None
    assert not list(tmp_path.rglob("*.mp4"))


# --- headless Chromium ---------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python app.py --port N`` in a subprocess; yields its URL and output folder."""
    if not CHROMIUM.is_file():
        pytest.skip("/usr/bin/chromium is not installed")
    out = tmp_path_factory.mktemp("web")
    log = (out / "server.log").open("wb")
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GRADIO_TEMP_DIR": str(out / "gradio-tmp")}
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port), "--output_dir",
                             str(out / "jobs")], cwd=out, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"app did not start: {(out / 'server.log').read_text(errors='replace')[-2000:]}")
            time.sleep(0.5)
        yield url, out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture()
def browser():
    from browser import Browser

    with Browser() as b:
        yield b


_VIDEO_DURATION = ("(() => { const v = document.querySelector('#result video'); "
                   "return v && v.readyState >= 1 && isFinite(v.duration) && v.duration > 0 ? v.duration : null; })()")
_STATUS = "(() => { const e = document.querySelector('#status textarea, #status input'); return e ? e.value : ''; })()"


def _fill(b, url: str, photo: Path, speech: Path) -> None:
    """Open the page, upload the photo and the speech, choose 256 px; wait until both uploads are in."""
    b.open(url, ready="!!document.querySelector('#start') && !!document.querySelector('#photo input[type=file]')")
    b.set_files("#photo input[type=file]", photo)
    b.set_files("#speech input[type=file]", speech)
    b.click("#size input[value='256']")
    # Both uploads are in when the photo is shown and the speech has its player.
    b.wait_for("!!document.querySelector('#photo img') && !document.querySelector('#speech input[type=file]')"
               " && document.querySelector('#size input[value=\"256\"]').checked", 60)


def _submit(b, url: str, photo: Path, speech: Path) -> None:
    _fill(b, url, photo, speech)
    b.click("#start")


def _external(requests: list[str]) -> list[str]:
    return [u for u in requests if not u.startswith(("http://127.0.0.1", "data:", "blob:", "about:"))]


@pytest.mark.slow
def test_upload_start_and_play(server, browser, tmp_path):
    url, out = server
    _submit(browser, url, PHOTO, SPEECH)
    duration = browser.wait_for(_VIDEO_DURATION, timeout=300)
    speech_s = probe(SPEECH, count_frames=False).duration
    assert abs(duration - speech_s) < 0.1, (duration, speech_s)
    status = browser.evaluate(_STATUS)
    assert status.startswith("done: 220 frames"), status

    # It plays: the position moves on.
    assert browser.evaluate("document.querySelector('#result video').play().then(() => true)", await_promise=True)
    browser.wait_for("document.querySelector('#result video').currentTime > 0.2", timeout=30)
    # The landmark preview and the quality report are shown too.
    browser.wait_for("(() => { const v = document.querySelector('#preview video'); return v && v.readyState >= 1; })()")
    report = browser.evaluate("(() => { const f = document.querySelector('#report iframe'); "
                              "return f && f.contentDocument ? f.contentDocument.body.innerText : ''; })()")
    assert "Quality report" in report and "mouth–loudness correlation" in report
    assert browser.evaluate("(() => { const i = document.querySelector('#report iframe').contentDocument"
                            ".querySelector('#contact-sheet'); return i.complete && i.naturalWidth; })()") == 640
    shot = browser.screenshot(tmp_path / "app_done.png")
    assert Image.open(shot).size == (1280, 2000)
    # Nothing left 127.0.0.1: no fonts, analytics or CDN scripts from elsewhere.
    assert _external(browser.requests) == []
    videos = list((out / "jobs").glob("*/astronaut-speech/output_drawing--ep70.mp4"))
    assert len(videos) == 1 and (videos[0].parent / "report.html").is_file()


@pytest.mark.slow
def test_bad_input_shows_one_line_and_server_goes_on(server, browser, tmp_path):
    url, _ = server
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((400, 400, 3), 128, np.uint8)).save(grey)
    cli = subprocess.run([sys.executable, str(REPO / "main_end2end_module2.py"), "--jpg", str(grey), "--audio",
                          str(SPEECH), "--output_dir", str(tmp_path / "cli"), "-q"],
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 2
    cli_line = cli.stderr.strip()
    assert cli_line.startswith("error: ") and "\n" not in cli_line

    _submit(browser, url, grey, SPEECH)
    status = browser.wait_for(f"(() => {{ const s = {_STATUS}; return s.startsWith('error:') ? s : null; }})()",
                              timeout=120)
    assert status == cli_line
    page = browser.evaluate("document.body.innerText")
    assert "Traceback" not in page and 'File "' not in page
    assert browser.evaluate("!!document.querySelector('#result video')") is False
    browser.screenshot(tmp_path / "app_error.png")

    # The next job (a new visitor) is served as usual.
    short = tmp_path / "short.wav"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(SPEECH), "-t", "2", str(short)], check=True)
    _submit(browser, url, PHOTO, short)
    duration = browser.wait_for(_VIDEO_DURATION, timeout=300)
    assert abs(duration - 2.0) < 0.1
    assert browser.evaluate(_STATUS).startswith("done: 50 frames")


@pytest.mark.slow
def test_two_visitors_queue_and_see_progress(server, tmp_path):
    """A second visitor's job waits in the queue while the first renders (with its progress bar); both finish."""
    from browser import Browser

    url, _ = server
    short = tmp_path / "short.wav"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-i", str(SPEECH), "-t", "2", str(short)], check=True)
    status_text = "(document.querySelector('#status') || {}).innerText || ''"
    with Browser() as first, Browser() as second:
        for b, speech in ((first, SPEECH), (second, short)):
            _fill(b, url, PHOTO, speech)
        first.click("#start")
        first.wait_for(f"({status_text}).includes('reading the photo')", 60)
        second.click("#start")
        seen_first, seen_second = set(), set()
        deadline = time.monotonic() + 300
        while not (first.evaluate(_VIDEO_DURATION) and second.evaluate(_VIDEO_DURATION)):
            assert time.monotonic() < deadline, "jobs did not finish"
            seen_first.add(first.evaluate(status_text))
            seen_second.add(second.evaluate(status_text))
            time.sleep(0.2)
        assert any("render (" in s for s in seen_first), seen_first  # tqdm's bar, shown in the page
        assert any("queue: 1/1" in s for s in seen_second), seen_second
        assert abs(first.evaluate(_VIDEO_DURATION) - probe(SPEECH, count_frames=False).duration) < 0.1
        assert abs(second.evaluate(_VIDEO_DURATION) - 2.0) < 0.1


# --- webcam and microphone (Chromium's fake capture devices fed with the examples) ---------------

def _fake_camera(path: Path) -> Path:
    """A one-second 640x480 y4m clip of the example photo (Chromium loops it as the webcam)."""
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-loop", "1", "-i", str(PHOTO), "-t", "1", "-r", "10",
                    "-vf", "scale=480:480,pad=640:480:80:0:gray,format=yuv420p", str(path)], check=True)
    return path


def _speech_match(samples: np.ndarray) -> float:
    """Best normalised cross-correlation of one second of ``samples`` (16 kHz) with the example speech.

    Chromium's fake microphone plays the file in a loop (through the browser's own gain control), so
    the recording is some stretch of it: about 0.8 for the speech, under 0.2 for the fake device's beep.
    """
    from scipy.signal import correlate

    from common.media import decode_audio

    ref = np.tile(decode_audio(SPEECH).samples.astype(np.float64), 3)
    start = len(samples) // 4
    seg = samples[start:start + 16000].astype(np.float64)
    energy = np.sqrt(np.convolve(ref ** 2, np.ones(len(seg)), mode="valid"))
    return float((correlate(ref, seg, mode="valid") / (energy * np.linalg.norm(seg) + 1e-12)).max())


def _dbfs(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(samples, dtype=np.float64))) + 1e-12))


@pytest.mark.slow
def test_webcam_and_microphone(server, tmp_path):
    """Photo taken with the webcam, speech recorded with the microphone (fake devices playing the examples)."""
    from browser import Browser

    from common.media import decode_audio, iter_frames

    url, out = server
    devices = [f"--use-file-for-fake-video-capture={_fake_camera(tmp_path / 'camera.y4m')}",
               f"--use-file-for-fake-audio-capture={SPEECH}",
               "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    with Browser(extra_args=devices) as b:
        b.open(url, ready="!!document.querySelector('#start')")
        # Webcam: switch the source, grant access, take a picture once the stream plays.
        b.click("#photo button[aria-label='Capture from camera']")
        b.wait_for("!!document.querySelector('#photo div[title=\"grant webcam access\"] button')", 20)
        b.click("#photo div[title='grant webcam access'] button")
        assert b.wait_for("(() => { const v = document.querySelector('#photo video'); return v && v.readyState >= 2 "
                          "&& [v.videoWidth, v.videoHeight]; })()", 20) == [640, 480]
        b.click("#photo button[aria-label='capture photo']")
        shot = b.wait_for("(() => { const i = document.querySelector('#photo .image-frame img'); "
                          "return i && i.complete && [i.naturalWidth, i.naturalHeight]; })()", 30)
        assert shot == [640, 480]
        # Microphone: switch the source, record about four seconds, stop; the page uploads a wav.
        b.click("#speech button[aria-label='Record audio']")
        b.wait_for("!!document.querySelector('#speech button.record-button')", 20)
        b.click("#speech button.record-button")
        time.sleep(4)
        b.click("#speech button.stop-button")
        href = b.wait_for("(() => { const a = document.querySelector('#speech a[download]'); "
                          "return a && a.href; })()", 30)
        recorded = tmp_path / "recorded.wav"
        with urllib.request.urlopen(href, timeout=30) as r:
            recorded.write_bytes(r.read())
        rec = decode_audio(recorded)
        assert 2.5 < rec.duration < 8.0, rec.duration  # about 4 s (the first ~0.15 s is lost to start-up)
        assert _dbfs(rec.samples) > -30 and _speech_match(rec.samples) > 0.5  # the speech, not silence or a beep

        b.click("#size input[value='256']")
        b.wait_for("document.querySelector('#size input[value=\"256\"]').checked")
        b.click("#start")
        duration = b.wait_for(f"(() => {{ const s = {_STATUS}; return s.startsWith('error:') ? s : "
                              f"{_VIDEO_DURATION}; }})()", timeout=300)
        status = b.evaluate(_STATUS)
        assert status.startswith("done: "), status  # a face was found and the speech was accepted
        assert isinstance(duration, float) and abs(duration - rec.duration) < 0.1, (duration, rec.duration)
        assert b.evaluate("document.querySelector('#result video').play().then(() => true)", await_promise=True)
        b.wait_for("document.querySelector('#result video').currentTime > 0.2", timeout=30)
        b.screenshot(tmp_path / "app_capture.png")

    videos = list((out / "jobs").glob("*/image-audio/output_drawing--ep70.mp4"))
    assert len(videos) == 1, videos
    # The video carries the recorded speech.
    sound = decode_audio(videos[0])
    assert abs(sound.duration - rec.duration) < 0.1
    assert _dbfs(sound.samples) > -30 and _speech_match(sound.samples) > 0.5
    # Its frames are a line drawing: a light page with dark strokes, which move (the mouth talks).
    frames = [f for i, f in enumerate(iter_frames(videos[0], pix_fmt="gray")) if i in (5, 40)]
    for f in frames:
        assert f.shape == (256, 256) and np.median(f) > 200
        assert 0.01 < np.mean(f < 100) < 0.3
    assert np.mean(np.abs(frames[0].astype(int) - frames[1].astype(int)) > 60) > 0.001
