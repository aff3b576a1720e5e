"""The quality report of a run: ``report.html`` beside the video, one self-contained page.

It shows a contact sheet of frames read back from the encoded video, the mouth opening
(inner-lip gap of the landmark sequence) against the speech loudness (RMS per frame) with
the phones that shaped the lips, and three figures:

* **flicker**: mean absolute grey-level change between consecutive frames outside the lower
  face (lips and jaw, which speech moves) and the eyes (which blink); 0 for a perfectly
  still picture, so it also counts head motion when that is on;
* **mouth–loudness correlation**: Pearson r of the inner-lip gap and the RMS per frame;
* **p/b/m closures**: how many recognised bilabials have the lips closed at some frame.

Images are embedded as base64 PNG, plots drawn with matplotlib's object API (no pyplot:
no global state, safe in the web app's worker threads).
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from common import Audio, LandmarkSequence
from common.media import iter_frames, probe

__all__ = [
    "ReportMetrics",
    "write_report",
    "inner_lip_gap",
    "rms_per_frame",
    "correlation",
    "exclusion_mask",
    "flicker",
    "count_closures",
    "contact_sheet",
    "BILABIALS",
]

BILABIALS = ("P", "B", "M")
# iBUG-68 indices: lower jaw (moves with the mouth), lips, eyes.
_JAW = list(range(2, 15))
_LIPS = list(range(48, 60))
_EYES = (list(range(36, 42)), list(range(42, 48)))
# Inner-lip pairs (upper, lower) across the mouth.
_GAP_PAIRS = ((61, 67), (62, 66), (63, 65))
# The lips count as closed when the gap is at most this share of the clip's wide-open gap (95th pct) ...
_CLOSED_SHARE = 0.15
# ... or at most this many pixels of the 512 aligned photo.
_CLOSED_PX = 2.0
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


def inner_lip_gap(points: np.ndarray) -> np.ndarray:
    """(T,) mean distance between the upper and lower inner lip (pixels of the landmarks) of (T, 68, 2) points."""
    p = np.asarray(points, dtype=np.float64)
    gaps = [np.linalg.norm(p[:, a] - p[:, b], axis=1) for a, b in _GAP_PAIRS]
    return np.mean(gaps, axis=0)


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


def exclusion_mask(points: Sequence[np.ndarray], shape: tuple[int, int], margin: int | None = None) -> np.ndarray:
    """Bool (H, W) mask of the lower face (jaw 2–14 and lips) and the eyes of every (68, 2) shape given.

    Each region is its convex hull grown by ``margin`` pixels (default 3 % of the frame's side).
    """
    h, w = shape
    m = int(round(0.03 * max(h, w))) if margin is None else int(margin)
    mask = np.zeros((h, w), np.uint8)
    for p in points:
        p = np.asarray(p, np.float64)
        _hull(mask, p[_JAW + _LIPS], m)
        for eye in _EYES:
            _hull(mask, p[eye], m)
    return mask.astype(bool)


def flicker(frames: Iterable[np.ndarray], points: np.ndarray) -> float:
    """Mean absolute grey-level change (0–255) between consecutive frames outside the mouth and eyes.

    Args:
        frames: T uint8 frames, (H, W) grey or (H, W, 3) RGB.
        points: (T, 68, 2) landmarks in the frames' pixels; the regions of both frames of a pair
            are left out, so the moving mouth and blinking eyes do not count.

    Returns 0 for fewer than two frames.
    """
    pts = np.asarray(points, np.float64)
    prev: np.ndarray | None = None
    total, pairs = 0.0, 0
    for t, frame in enumerate(frames):
        if t >= len(pts):
            break
        g = np.asarray(frame)
        if g.ndim == 3:
            g = cv2.cvtColor(g, cv2.COLOR_RGB2GRAY)
        if prev is not None:
            keep = ~exclusion_mask((pts[t - 1], pts[t]), g.shape)
            if keep.any():
                diff = cv2.absdiff(g, prev)
                total += float(diff[keep].mean())
                pairs += 1
        prev = g
    return total / pairs if pairs else 0.0


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
        if f.ndim == 2:
            f = cv2.cvtColor(f, cv2.COLOR_GRAY2RGB)
        tile = cv2.resize(f, (thumb, thumb), interpolation=cv2.INTER_AREA)
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


def _plot(gap: np.ndarray, rms: np.ndarray, fps: float, phones: Sequence[tuple[str, float, float]] | None,
          thr: float) -> str:
    """The mouth/loudness plot as base64 PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    t = np.arange(gap.size) / fps
    duration = gap.size / fps
    fig = Figure(figsize=(min(40.0, max(9.0, 1.6 * duration)), 4.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(t, gap, color="#b0203c", lw=1.4, label="inner-lip gap (px @512)")
    ax.axhline(thr, color="#b0203c", lw=0.6, ls=":", label="closed below")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mouth opening (px)", color="#b0203c")
    ax.set_xlim(0, max(duration, 1.0 / fps))
    # Head-room above the curve for the phone labels.
    ax.set_ylim(0, max(float(gap.max()), thr, 1.0) * 1.3)
    ax2 = ax.twinx()
    ax2.fill_between(t, 0, rms, color="#3060c0", alpha=0.25, step="mid", label="speech RMS")
    ax2.set_ylabel("speech RMS", color="#3060c0")
    ax2.set_ylim(0, max(float(rms.max()) * 1.25, 1e-6))
    if phones:
        top = ax.get_ylim()[1]
        for phone, start, end in phones:
            label = _shown_phone(phone)
            if label is None:
                continue
            bil = label in BILABIALS
            if bil:
                ax.axvspan(start, end, color="#e0a000", alpha=0.25, lw=0)
            ax.text((start + end) / 2, top * 0.98, label, ha="center", va="top", fontsize=6,
                    color="#a06000" if bil else "#333333", rotation=90, clip_on=False)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=7,
              frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _fmt(value: float | int | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def write_report(path: str | Path, video: str | Path, seq: LandmarkSequence, audio: Audio, *,
                 phones: Sequence[tuple[str, float, float]] | None = None, title: str = "",
                 n_thumbs: int = 12, info: dict[str, str] | None = None) -> ReportMetrics:
    """Write the quality report of ``video`` (made from ``seq`` and ``audio``) to ``path``.

    Args:
        path: the HTML file to write.
        video: the rendered mp4 (frames are read back from it, as a viewer sees them).
        seq: the landmark sequence (pixels of the 512 aligned photo) the video was rendered from.
        audio: the speech.
        phones: ``(phone, start_s, end_s)`` segments that shaped the lips, if the predictor has them.
        title: page heading; ``info``: extra rows for the run table (back-ends, options).
    """
    T, fps = len(seq), float(seq.fps)
    gap = inner_lip_gap(seq.points)
    rms = rms_per_frame(audio, fps, T)
    want = set(np.unique(np.linspace(0, T - 1, min(n_thumbs, T)).round().astype(int)).tolist())

    samples: list[np.ndarray] = []
    labels: list[str] = []

    def frames() -> Iterable[np.ndarray]:
        for i, frame in enumerate(iter_frames(video)):
            if i in want:
                samples.append(frame)
                labels.append(f"#{i} {i / fps:.2f}s")
            yield frame

    # Landmarks are in 512-pixel aligned-photo units; the frames may be smaller (--size 256).
    scale = probe(video, count_frames=False).width / 512.0
    flick = flicker(frames(), seq.points * scale)
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
<div class="scroll"><img id="mouth-plot" alt="mouth opening against loudness" src="data:image/png;base64,{plot}"></div>
<h2>Contact sheet</h2>
<img id="contact-sheet" alt="frames of the video" src="data:image/png;base64,{_png_b64(sheet)}">
<script type="application/json" id="metrics">{json.dumps(asdict(metrics))}</script>
</body></html>
"""
    Path(path).write_text(page, encoding="utf-8")
    return metrics
