"""Module1.cues.PhoneRecognizer: pieces decoded in worker processes give exactly the sequential phones."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from Module1 import cues, phone_worker

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "speech.wav"


def looped_speech(seconds: float) -> np.ndarray:
    """examples/speech.wav (16 kHz mono) repeated to ``seconds``."""
    if not EXAMPLE.is_file():
        pytest.skip("examples/speech.wav is not present")
    from common.media import decode_audio

    base = decode_audio(EXAMPLE, 16000).samples
    return np.tile(base, int(np.ceil(seconds * 16000 / base.size)))[: int(seconds * 16000)].astype(np.float32)


def test_decoder_state_is_reset_per_piece():
    """The same piece gives the same phones on a fresh decoder and after other audio (parallel relies on it)."""
    x = looped_speech(9.0)
    a = (x[: 4 * 16000] * 32767).astype("<i2").tobytes()
    b = (x[4 * 16000:] * 32767).astype("<i2").tobytes()
    used = phone_worker.new_decoder()
    phone_worker.decode(used, a)
    after = phone_worker.decode(used, b)
    fresh = phone_worker.decode(phone_worker.new_decoder(), b)
    assert after == fresh and len(fresh) > 10


def test_parallel_equals_sequential_many_pieces():
    x = looped_speech(20.0)
    seq = cues.PhoneRecognizer(piece_s=4.0, workers=1)
    par = cues.PhoneRecognizer(piece_s=4.0, workers=3)
    assert len(cues._quiet_cuts(x, 4.0)) - 1 >= 4  # the workers get more than one piece each
    assert par._n_workers(4) == 2 and seq._n_workers(4) == 0  # two worker processes besides this one
    want = seq(x)
    got = par(x)
    assert got == want  # same phones, same float times, bit for bit
    assert len(want) > 3 * 20 and all(type(s) is float and type(e) is float for _, s, e in got)


@pytest.mark.slow
def test_parallel_equals_sequential_45s():
    """The default 20 s pieces on a 45 s clip (two pieces, one decoded by a worker)."""
    x = looped_speech(45.0)
    assert len(cues._quiet_cuts(x, 20.0)) == 3
    want = cues.PhoneRecognizer(workers=1)(x)
    assert cues.PhoneRecognizer(workers=2)(x) == want
    starts = np.array([s for _, s, _ in want])
    assert np.all(np.diff(starts) > 0) and starts[-1] > 40.0


# Stand-ins for the worker's interpreter: read everything, then die or answer rubbish / too little.
_BAD_WORKERS = {"dies": "cat >/dev/null; exit 3", "rubbish": "cat >/dev/null; echo '[['",
                "too little": "cat >/dev/null; echo '[]'"}


@pytest.mark.parametrize("program", ["/nonexistent/python", "true", "dies", "rubbish", "too little"])
def test_failed_workers_fall_back_to_this_process(monkeypatch, caplog, tmp_path, program):
    """Workers that cannot start, quit unread, die or answer wrong: their pieces are decoded here."""
    if program in _BAD_WORKERS:
        exe: str | None = str(tmp_path / "worker.sh")
        (tmp_path / "worker.sh").write_text(f"#!/bin/sh\n{_BAD_WORKERS[program]}\n")
        (tmp_path / "worker.sh").chmod(0o755)
    else:
        exe = program if program.startswith("/") else shutil.which(program)
    if exe is None:
        pytest.skip(f"no {program} program")
    x = looped_speech(12.0)
    want = cues.PhoneRecognizer(piece_s=4.0, workers=1)(x)
    monkeypatch.setattr(sys, "executable", exe)
    with caplog.at_level("WARNING", logger="Module1.cues"):
        assert cues.PhoneRecognizer(piece_s=4.0, workers=3)(x) == want
    assert "no worker process" in caplog.text or "a worker process failed" in caplog.text


def test_workers_do_not_rerun_the_callers_script(tmp_path):
    """A script without the ``if __name__ == "__main__"`` guard runs once, not once per worker."""
    if not EXAMPLE.is_file():
        pytest.skip("examples/speech.wav is not present")
    marker = tmp_path / "runs.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        with open({str(marker)!r}, "a") as f:
            f.write("run\\n")
        from common.media import decode_audio
        from Module1 import cues
        x = decode_audio({str(EXAMPLE)!r}, 16000).samples
        print(len(cues.PhoneRecognizer(piece_s=3.0, workers=2)(x)))
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True)
    assert int(out.stdout.split()[-1]) > 20
    assert marker.read_text() == "run\n"
