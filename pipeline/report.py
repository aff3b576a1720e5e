"""The quality report of a run: ``report.html`` beside the video, one self-contained page.

It shows a contact sheet of frames read back from the encoded video, the mouth opening
(inner-lip gap of the landmark sequence) against the speech loudness (RMS per frame) with
the phones that shaped the lips, and three figures:

* **flicker**: mean absolute grey-level change between consecutive frames outside the lower
  face (lips and jaw, which speech moves) and the eyes (which blink); 0 for a perfectly
  still picture, so it also counts head motion when that is on;
* **mouth–loudness correlation**: Pearson r of the inner-lip gap and the RMS per frame;
* **p/b/m closures**: how many recognised bilabials have the lips closed at some frame.

The contact sheet is embedded as base64 PNG and the plot as inline SVG: the page needs nothing
else, and no plotting library is imported (matplotlib alone costs more than a short run's chain).
"""
from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from common import Audio, LandmarkSequence
from common.ibug68 import LEFT_EYE, RIGHT_EYE, inner_lip_gap  # inner_lip_gap re-exported (was defined here)
from common.media import iter_frames

__all__ = [
    "ReportMetrics",
    "write_report",
    "inner_lip_gap",
    "rms_per_frame",
    "correlation",
    "exclusion_mask",
    "flicker",
    "FrameTap",
    "count_closures",
    "contact_sheet",
    "BILABIALS",
]

BILABIALS = ("P", "B", "M")
# iBUG-68 indices: lower jaw (moves with the mouth), lips, eyes.
_JAW = list(range(2, 15))
_LIPS = list(range(48, 60))
_EYES = (RIGHT_EYE, LEFT_EYE)
# The lips count as closed when the gap is at most this share of the clip's wide-open gap (95th pct) ...
_CLOSED_SHARE = 0.15
# ... or at most this many pixels of the 512 aligned photo.
_CLOSED_PX = 2.0
# Flicker is measured on frames area-averaged to at most this many pixels across.
FLICKER_SIZE = 256
# A bilabial's closure may fall this much before/after its recognised segment (lips anticipate).
_CLOSURE_SLACK_S = 0.04


@dataclass(frozen=True)
class ReportMetrics:
    """The figures of a report (also embedded in the page as JSON, id ``metrics``)."""

    frames: int
    duration: float
    flicker: float
    mouth_loudness_corr: float | None
    bilabials: int | None
    closures_found: int | None
    phones: int | None


def rms_per_frame(audio: Audio, fps: float, n: int) -> np.ndarray:
    """(n,) linear RMS of the speech inside each output frame."""
    from Module1.cues import frame_envelope

    return frame_envelope(audio.samples, audio.sample_rate, fps, n).astype(np.float64)


def correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson r of two equal-length tracks; ``None`` when either is constant (r undefined)."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.size < 2 or x.std() < 1e-12 or y.std() < 1e-12:
        return None
    return float(np.clip(np.corrcoef(x, y)[0, 1], -1.0, 1.0))


def _hull(mask: np.ndarray, pts: np.ndarray, margin: int) -> None:
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    if margin > 0:
        cv2.polylines(mask, [hull], True, 1, thickness=2 * margin + 1)


def _mask_u8(points: Sequence[np.ndarray] | np.ndarray, shape: tuple[int, int], margin: int | None = None) -> np.ndarray:
    h, w = shape
    m = int(round(0.03 * max(h, w))) if margin is None else int(margin)
    mask = np.zeros((h, w), np.uint8)
    for p in points:
        p = np.asarray(p, np.float64)
        _hull(mask, p[_JAW + _LIPS], m)
        for eye in _EYES:
            _hull(mask, p[eye], m)
    return mask


def exclusion_mask(points: Sequence[np.ndarray], shape: tuple[int, int], margin: int | None = None) -> np.ndarray:
    """Bool (H, W) mask of the lower face (jaw 2–14 and lips) and the eyes of every (68, 2) shape given.

    Each region is its convex hull grown by ``margin`` pixels (default 3 % of the frame's side).
    """
    return _mask_u8(points, shape, margin).astype(bool)


class FrameTap:
    """Watches frames on their way to the encoder: flicker outside mouth and eyes, and sampled frames.

    ``points`` (T, 68, 2) are the landmarks of the frames, in pixels of the 512 aligned photo
    (scaled to the frames' width unless ``scale`` is given); ``n_thumbs`` frames evenly spread
    over the T frames are kept (copies) for the contact sheet. Flicker is measured on frames
    area-averaged down to at most :data:`FLICKER_SIZE` pixels, so ``--size`` 256 and 512 give
    comparable numbers and the tap stays cheap beside rendering.
    """

    def __init__(self, points: np.ndarray, fps: float, n_thumbs: int = 12, scale: float | None = None) -> None:
        self.points = np.asarray(points, np.float64)
        self.fps = float(fps)
        self.scale = scale
        T = len(self.points)
        self._want = set(np.linspace(0, T - 1, min(n_thumbs, T)).round().astype(int).tolist()) if T else set()
        self.samples: list[np.ndarray] = []
        self.labels: list[str] = []
        self.count = 0
        self._prev: np.ndarray | None = None
        self._prev_mask: np.ndarray | None = None
        self._shrink = 1
        self._total = 0.0
        self._pairs = 0

    def add(self, frame: np.ndarray) -> None:
        """Take the next frame: uint8 (H, W) grey or (H, W, 3) RGB."""
        t, self.count = self.count, self.count + 1
        f = np.asarray(frame)
        if t == 0:
            if self.scale is None:
                self.scale = f.shape[1] / 512.0
            self._shrink = max(1, int(max(f.shape[:2]) // FLICKER_SIZE))
        if t in self._want:
            self.samples.append(f.copy())
            self.labels.append(f"#{t} {t / self.fps:.2f}s")
        if t >= len(self.points):
            return
        g = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) if f.ndim == 3 else f
        k = self._shrink
        if k > 1:
            g = cv2.resize(g, (g.shape[1] // k, g.shape[0] // k), interpolation=cv2.INTER_AREA)
        elif g is f:
            g = f.copy()  # a renderer may hand out the same buffer for every frame
        assert self.scale is not None
        mask = _mask_u8([self.points[t] * (self.scale / k)], g.shape, int(round(0.03 * max(f.shape[:2]) / k)))
        if self._prev is not None and self._prev_mask is not None:
            keep = 1 - cv2.bitwise_or(mask, self._prev_mask)
            if keep.any():
                self._total += float(cv2.mean(cv2.absdiff(g, self._prev), mask=keep)[0])
                self._pairs += 1
        self._prev, self._prev_mask = g, mask

    def observe(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Pass ``frames`` through unchanged, taking each one."""
        for frame in frames:
            self.add(frame)
            yield frame

    @property
    def flicker(self) -> float:
        """Mean absolute grey-level change (0–255) between consecutive frames outside mouth and eyes."""
        return self._total / self._pairs if self._pairs else 0.0


def flicker(frames: Iterable[np.ndarray], points: np.ndarray) -> float:
    """Mean absolute grey-level change (0–255) between consecutive frames outside the mouth and eyes.

    Args:
        frames: T uint8 frames, (H, W) grey or (H, W, 3) RGB.
        points: (T, 68, 2) landmarks in the frames' pixels; the regions of both frames of a pair
            are left out, so the moving mouth and blinking eyes do not count.

    Returns 0 for fewer than two frames.
    """
    tap = FrameTap(points, 25.0, n_thumbs=0, scale=1.0)
    for frame in frames:
        tap.add(frame)
    return tap.flicker


def _closed_threshold(gap: np.ndarray) -> float:
    return max(_CLOSED_PX, _CLOSED_SHARE * float(np.percentile(gap, 95))) if gap.size else _CLOSED_PX


def count_closures(gap: np.ndarray, fps: float, phones: Sequence[tuple[str, float, float]]) -> tuple[int, int]:
    """``(bilabials, closed)``: recognised p/b/m segments, and how many have a closed-lip frame.

    ``gap`` is the (T,) inner-lip gap in pixels of the 512 aligned photo; a frame counts as
    closed when its gap is at most ``max(2 px, 15 % of the clip's 95th-percentile gap)``, and
    it may lie up to 40 ms either side of the phone.
    """
    g = np.asarray(gap, np.float64)
    thr = _closed_threshold(g)
    found = total = 0
    for phone, start, end in phones:
        if phone.strip().upper().rstrip("012") not in BILABIALS:
            continue
        total += 1
        a = max(0, int(math.floor((start - _CLOSURE_SLACK_S) * fps)))
        b = min(g.size, int(math.ceil((end + _CLOSURE_SLACK_S) * fps)))
        if b > a and float(g[a:b].min()) <= thr:
            found += 1
    return total, found


def contact_sheet(frames: Sequence[np.ndarray], labels: Sequence[str], cols: int = 4, thumb: int = 160) -> np.ndarray:
    """Tile RGB/grey frames into one RGB image (rows × ``thumb``, ``cols`` × ``thumb``), each labelled."""
    n = len(frames)
    rows = max(1, math.ceil(n / cols))
    sheet = np.full((rows * thumb, cols * thumb, 3), 255, np.uint8)
    for i, (frame, label) in enumerate(zip(frames, labels)):
        f = np.asarray(frame)
        while min(f.shape[:2]) >= 2 * thumb:  # halving first: OpenCV's fast area path (512→160 directly: ~6x slower)
            f = cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2), interpolation=cv2.INTER_AREA)
        tile = cv2.resize(f, (thumb, thumb), interpolation=cv2.INTER_AREA)
        if tile.ndim == 2:
            tile = cv2.cvtColor(tile, cv2.COLOR_GRAY2RGB)
        cv2.putText(tile, label, (4, thumb - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 3, cv2.LINE_AA)
        cv2.putText(tile, label, (4, thumb - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (200, 0, 0), 1, cv2.LINE_AA)
        r, c = divmod(i, cols)
        sheet[r * thumb:(r + 1) * thumb, c * thumb:(c + 1) * thumb] = tile
    return sheet


def _png_b64(rgb: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return base64.b64encode(buf.tobytes()).decode("ascii")


def _shown_phone(phone: str) -> str | None:
    p = phone.strip().upper().rstrip("012")
    return None if p in ("SIL", "~", "?", "") or p.startswith("+") or p.startswith("<") else p


def _nice_step(span: float, target: int) -> float:
    """A 1/2/5×10^k tick step giving about ``target`` ticks over ``span``."""
    raw = max(span, 1e-12) / max(target, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1.0, 2.0, 5.0, 10.0) if m * mag >= raw)


def _plot(gap: np.ndarray, rms: np.ndarray, fps: float, phones: Sequence[tuple[str, float, float]] | None,
          thr: float) -> str:
    """The mouth/loudness plot as inline SVG (drawn by the browser: sharp, small, no plotting library)."""
    T = gap.size
    duration = max(T / fps, 1.0 / fps)
    W = int(min(9000, max(900, 150 * duration)))
    H, left, right, top, bottom = 320, 64, 72, 46, 58
    pw, ph = W - left - right, H - top - bottom
    gmax = max(float(gap.max()) if T else 0.0, thr, 1.0) * 1.1
    rmax = max(float(rms.max()) if T else 0.0, 1e-6) * 1.1

    def x(t: float) -> float:
        return left + pw * t / duration

    def yg(v: float) -> float:
        return top + ph * (1.0 - v / gmax)

    def yr(v: float) -> float:
        return top + ph * (1.0 - v / rmax)

    out = [f'<svg id="mouth-plot" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="system-ui, sans-serif" font-size="11">',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#999"/>']
    if phones:
        for phone, start, end in phones:
            label = _shown_phone(phone)
            if label is None:
                continue
            x0, x1 = x(max(0.0, start)), x(min(duration, end))
            if label in BILABIALS:
                out.append(f'<rect class="bilabial" x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 1.0):.1f}" '
                           f'height="{ph}" fill="#e0a000" fill-opacity="0.25"/>')
            colour = "#a06000" if label in BILABIALS else "#444"
            xm = (x0 + x1) / 2
            out.append(f'<text class="phone" x="{xm:.1f}" y="{top - 4}" font-size="9" fill="{colour}" '
                       f'transform="rotate(-90 {xm:.1f} {top - 4})">{html.escape(label)}</text>')
    # Speech RMS: a step area per frame; mouth opening: one point per frame.
    steps = [f"{x(0):.1f},{yr(0):.1f}"]
    for i, v in enumerate(rms):
        steps.append(f"{x(i / fps):.1f},{yr(float(v)):.1f} {x((i + 1) / fps):.1f},{yr(float(v)):.1f}")
    steps.append(f"{x(T / fps):.1f},{yr(0):.1f}")
    out.append(f'<polygon id="rms" points="{" ".join(steps)}" fill="#3060c0" fill-opacity="0.25"/>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yg(thr):.1f}" y2="{yg(thr):.1f}" stroke="#b0203c" '
               'stroke-dasharray="2 3" stroke-width="0.8"/>')
    pts = " ".join(f"{x((i + 0.5) / fps):.1f},{yg(float(v)):.1f}" for i, v in enumerate(gap))
    out.append(f'<polyline id="gap" points="{pts}" fill="none" stroke="#b0203c" stroke-width="1.5"/>')
    # Axes: time below, mouth opening left, RMS right.
    step = _nice_step(duration, int(pw / 90))
    t = 0.0
    while t <= duration + 1e-9:
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top + ph}" y2="{top + ph + 4}" stroke="#666"/>'
                   f'<text x="{x(t):.1f}" y="{top + ph + 16}" text-anchor="middle">{t:g}</text>')
        t = round(t + step, 9)
    for vmax, ypos, anchor, xpos, fmt in ((gmax, yg, "end", left - 6, "{:g}"), (rmax, yr, "start", left + pw + 6, "{:.2g}")):
        vstep = _nice_step(vmax, 5)
        v = 0.0
        while v <= vmax + 1e-12:
            out.append(f'<text x="{xpos}" y="{ypos(v) + 4:.1f}" text-anchor="{anchor}">{fmt.format(v)}</text>')
            v = round(v + vstep, 12)
    out.append(f'<text x="{left + pw / 2:.0f}" y="{H - 24}" text-anchor="middle">time (s)</text>')
    out.append(f'<text x="14" y="{top + ph / 2:.0f}" text-anchor="middle" fill="#b0203c" '
               f'transform="rotate(-90 14 {top + ph / 2:.0f})">mouth opening (px @512)</text>')
    out.append(f'<text x="{W - 12}" y="{top + ph / 2:.0f}" text-anchor="middle" fill="#3060c0" '
               f'transform="rotate(90 {W - 12} {top + ph / 2:.0f})">speech RMS</text>')
    out.append(f'<text x="{left}" y="{H - 6}" fill="#555">red: inner-lip gap (dotted: closed below); '
               'blue: speech RMS per frame; orange: recognised p/b/m</text>')
    out.append("</svg>")
    return "\n".join(out)


def _fmt(value: float | int | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def write_report(path: str | Path, video: str | Path | None, seq: LandmarkSequence, audio: Audio, *,
                 tap: FrameTap | None = None, phones: Sequence[tuple[str, float, float]] | None = None,
                 title: str = "", n_thumbs: int = 12, info: dict[str, str] | None = None) -> ReportMetrics:
    """Write the quality report of a video made from ``seq`` and ``audio`` to ``path``.

    Args:
        path: the HTML file to write.
        video: the rendered mp4; its frames are read back (through :func:`common.media.iter_frames`)
            unless ``tap`` already watched them on their way to the encoder.
        seq: the landmark sequence (pixels of the 512 aligned photo) the video was rendered from.
        audio: the speech.
        tap: a :class:`FrameTap` that saw every frame (the pipeline's way: no second decode).
        phones: ``(phone, start_s, end_s)`` segments that shaped the lips, if the predictor has them.
        title: page heading; ``info``: extra rows for the run table (back-ends, options).
    """
    T, fps = len(seq), float(seq.fps)
    gap = inner_lip_gap(seq.points)
    rms = rms_per_frame(audio, fps, T)
    if tap is None:
        if video is None:
            raise ValueError("write_report needs the video or a FrameTap that saw its frames")
        tap = FrameTap(seq.points, fps, n_thumbs)
        for frame in iter_frames(video):
            tap.add(frame)
    flick, samples, labels = tap.flicker, tap.samples, tap.labels
    corr = correlation(gap, rms)
    bil = found = None
    if phones is not None:
        bil, found = count_closures(gap, fps, phones)
    metrics = ReportMetrics(
        frames=T, duration=T / fps, flicker=round(flick, 4),
        mouth_loudness_corr=None if corr is None else round(corr, 4),
        bilabials=bil, closures_found=found,
        phones=None if phones is None else sum(1 for p in phones if _shown_phone(p[0])),
    )
    sheet = contact_sheet(samples, labels)
    plot = _plot(gap, rms, fps, phones, _closed_threshold(gap))

    esc = html.escape
    rows = [
        ("frames", f"{metrics.frames} ({metrics.duration:.2f} s at {fps:g} fps)"),
        ("flicker outside mouth and eyes", f"{metrics.flicker:.3f} grey levels per frame (0–255; "
         "0 = still; head motion counts)"),
        ("mouth–loudness correlation", _fmt(metrics.mouth_loudness_corr, ".3f") + " (Pearson r, inner-lip gap vs RMS)"),
        ("p/b/m closures found", "n/a (no recognised phones)" if bil is None
         else f"{found} of {bil} recognised p/b/m"),
        ("phones", "n/a" if metrics.phones is None else str(metrics.phones)),
    ]
    rows += list((info or {}).items())
    table = "\n".join(f"<tr><th>{esc(k)}</th><td>{esc(str(v))}</td></tr>" for k, v in rows)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Quality report: {esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.2em; }}
th, td {{ text-align: left; padding: .25em .8em; border-bottom: 1px solid #ddd; vertical-align: top; }}
th {{ font-weight: 600; }}
.scroll {{ overflow-x: auto; }}
img {{ display: block; max-width: none; }}
</style></head><body>
<h1>Quality report: {esc(title)}</h1>
<table id="figures">
{table}
</table>
<h2>Mouth opening and speech loudness</h2>
<div class="scroll">{plot}</div>
<h2>Contact sheet</h2>
<img id="contact-sheet" alt="frames of the video" src="data:image/png;base64,{_png_b64(sheet)}">
<script type="application/json" id="metrics">{json.dumps(asdict(metrics))}</script>
</body></html>
"""
    Path(path).write_text(page, encoding="utf-8")
    return metrics
