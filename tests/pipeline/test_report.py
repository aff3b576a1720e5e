"""The quality report: its metrics on synthetic frames, and report.html of a real short run."""
from __future__ import annotations

import base64
import importlib.util
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from common import Audio
from pipeline import report

_SPEC = importlib.util.spec_from_file_location(
    "synthetic_face", Path(__file__).resolve().parents[1] / "module1" / "synthetic_face.py")
assert _SPEC is not None and _SPEC.loader is not None
_face_mod = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_face_mod)
synthetic_face = _face_mod.synthetic_face


def _frames_and_points(n: int = 4):
    pts = np.stack([synthetic_face() for _ in range(n)])
    rng = np.random.default_rng(0)
    # Noise in 2×2 blocks: the same after the flicker measure's 2× area-averaging.
    base = np.kron(rng.integers(0, 256, (256, 256), dtype=np.uint8), np.ones((2, 2), np.uint8))
    return [base.copy() for _ in range(n)], pts


def test_flicker_zero_for_identical_frames():
    frames, pts = _frames_and_points()
    assert report.flicker(frames, pts) == 0.0


def test_flicker_counts_changes_outside_mouth_and_eyes_only():
    frames, pts = _frames_and_points()
    mouth = frames[2].copy()
    cx, cy = pts[2, 48:60].mean(axis=0).round().astype(int)
    mouth[cy - 5:cy + 5, cx - 20:cx + 20] ^= 0xFF  # inside the lips
    eye = frames[2].copy()
    ex, ey = pts[2, 36:42].mean(axis=0).round().astype(int)
    eye[ey - 3:ey + 3, ex - 8:ex + 8] ^= 0xFF  # a blink
    assert report.flicker([frames[0], frames[1], mouth, frames[3]], pts) == 0.0
    assert report.flicker([frames[0], frames[1], eye, frames[3]], pts) == 0.0

    def with_corner(side: int) -> float:
        corner = frames[2].copy()
        corner[:side, :side] = 255 - corner[:side, :side]  # background, far from the face parts
        return report.flicker([frames[0], frames[1], corner, frames[3]], pts)

    small, large = with_corner(40), with_corner(80)
    assert small > 0
    # Two of three frame pairs change (into and out of frame 2); four times the area, four times the flicker.
    assert large == pytest.approx(4 * small, rel=0.05)
    # Inverting 40×40 pixels of mean |2x - 255| ≈ 128 over the ~512² kept pixels, in 2 of 3 pairs.
    assert 0.5 * 2 / 3 * 128 * 40 * 40 / 512**2 < small < 2 * 2 / 3 * 128 * 40 * 40 / 512**2


def test_exclusion_mask_covers_mouth_and_eyes_not_forehead():
    p = synthetic_face()
    mask = report.exclusion_mask([p], (512, 512))
    for idx in (62, 66, 51, 57, 37, 44, 8):  # inner lips, outer lips, eyes, chin
        x, y = p[idx].round().astype(int)
        assert mask[y, x], idx
    assert not mask[int(p[27, 1]), int(p[27, 0])]  # top of the nose bridge
    assert not mask[5, 5]


def test_inner_lip_gap_and_closures():
    closed, open_ = synthetic_face(gap=1.0), synthetic_face(gap=30.0)
    pts = np.stack([open_] * 10 + [closed] * 2 + [open_] * 10)
    gap = report.inner_lip_gap(pts)
    assert gap[0] == pytest.approx(30.0, abs=1e-3) and gap[10] == pytest.approx(1.0, abs=1e-3)
    fps = 25.0
    phones = [("AA", 0.0, 0.4), ("M", 0.40, 0.48), ("B", 0.1, 0.2), ("SIL", 0.48, 0.88), ("p", 0.6, 0.7)]
    assert report.count_closures(gap, fps, phones) == (3, 1)


def test_correlation():
    x = np.sin(np.linspace(0, 6, 50))
    assert report.correlation(x, 2 * x + 1) == pytest.approx(1.0)
    assert report.correlation(x, -x) == pytest.approx(-1.0)
    assert report.correlation(x, np.ones(50)) is None


def test_rms_per_frame_follows_the_samples():
    sr = 16000
    y = np.r_[np.zeros(sr // 2), 0.5 * np.ones(sr // 2)].astype(np.float32)
    rms = report.rms_per_frame(Audio(y, sr), 25.0, 25)
    assert rms[:12] == pytest.approx(0.0) and rms[13:] == pytest.approx(0.5)


def _embedded_png(page: str, element_id: str) -> np.ndarray:
    m = re.search(rf'id="{element_id}"[^>]*src="data:image/png;base64,([^"]+)"', page)
    assert m, element_id
    img = cv2.imdecode(np.frombuffer(base64.b64decode(m.group(1)), np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


@pytest.mark.slow
def test_report_of_a_real_run(tmp_path, example_photo, short_speech):
    from pipeline.cli import build_parser, config_from_args
    from pipeline.run import run

    ns = build_parser().parse_args(["--jpg", str(example_photo), "--audio", str(short_speech), "--size", "256",
                                    "--head_motion", "0", "--output_dir", str(tmp_path), "-q"])
    result = run(config_from_args(ns))
    page_path = result.video.parent / "report.html"
    assert result.report == page_path and page_path.is_file()
    assert not list(tmp_path.glob(".partial-*")), "staging folder left behind"
    page = page_path.read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page, "the report must be self-contained"

    m = re.search(r'<script type="application/json" id="metrics">(.*?)</script>', page)
    assert m
    metrics = json.loads(m.group(1))
    assert metrics["frames"] == result.frames == 75
    assert -1.0 <= metrics["mouth_loudness_corr"] <= 1.0
    # The weight-free predictor opens the lips with the loudness: clearly positive.
    assert metrics["mouth_loudness_corr"] > 0.3
    # Still head, warped drawing: small but non-negative change outside mouth and eyes.
    assert 0.0 <= metrics["flicker"] < 10.0
    assert metrics["phones"] > 5
    assert 0 <= metrics["closures_found"] <= metrics["bilabials"]
    for label in ("flicker outside mouth and eyes", "mouth–loudness correlation", "p/b/m closures found"):
        assert label in page

    sheet = _embedded_png(page, "contact-sheet")
    assert sheet.shape == (3 * 160, 4 * 160, 3)  # 12 frames, 4 per row
    assert sheet.std() > 20  # drawn frames, not blank tiles
    # The plot (inline SVG): one point per frame for the mouth, labels for the phones.
    assert '<svg id="mouth-plot"' in page
    gap = re.search(r'<polyline id="gap" points="([^"]+)"', page)
    assert gap and len(gap.group(1).split()) == 75
    assert page.count('class="phone"') == metrics["phones"]
    assert page.count('class="bilabial"') == metrics["bilabials"]


def test_report_from_the_video_alone_without_phones(tmp_path):
    """No tap and no phones (e.g. the MakeItTalk predictor): frames are decoded back from the mp4."""
    from common import LandmarkSequence
    from common.media import VideoWriter

    T, fps = 10, 25.0
    pts = np.stack([synthetic_face(gap=2.0 + 3 * i) for i in range(T)])
    seq = LandmarkSequence(points=pts, fps=fps, source=pts[0])
    video = tmp_path / "clip.mp4"
    with VideoWriter(video, (256, 256), fps, channels=1) as w:
        for i in range(T):
            frame = np.full((256, 256), 255, np.uint8)
            frame[10:30, 10 + 5 * i:30 + 5 * i] = 0  # a square drifting across the background
            w.write(frame)
    sr = 16000
    audio = Audio(np.full(int(sr * T / fps), 0.25, np.float32), sr)  # a constant level
    metrics = report.write_report(tmp_path / "report.html", video, seq, audio, title="clip <&>")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert (metrics.phones, metrics.bilabials, metrics.closures_found) == (None, None, None)
    assert "n/a (no recognised phones)" in page and "clip &lt;&amp;&gt;" in page
    assert metrics.frames == T and metrics.flicker > 0  # the drifting square is outside mouth and eyes
    assert metrics.mouth_loudness_corr is None  # constant loudness: r is undefined, shown as n/a
    sheet = _embedded_png(page, "contact-sheet")
    assert sheet.shape == (3 * 160, 4 * 160, 3)
    assert sheet[-160:, 2 * 160:].min() == 255  # 10 frames: the last two tiles stay blank
