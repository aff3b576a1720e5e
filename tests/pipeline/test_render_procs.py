"""pipeline.render_procs: frames made by forked worker processes are the renderer's own, in order."""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from pipeline import render_procs

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forked workers need fork (Linux)")


_FOREIGN: set[int] = set()  # children other tests left running (a Dask cluster's, say): not ours to count


@pytest.fixture(autouse=True)
def _ours_only():
    _FOREIGN.clear()
    _FOREIGN.update(_all_children())


class _Fitted:
    """A sequence-fitted renderer: frame i holds i, the block's offset-free index, and the fitted total."""

    def __init__(self, fail_at: int = -1, die_at: int = -1, stall_at: int = -1) -> None:
        self.total: int | None = None
        self.fail_at, self.die_at, self.stall_at = fail_at, die_at, stall_at

    def fit_sequence(self, points: np.ndarray) -> None:
        self.total = int(points[:, 0, 0].sum())

    def frames_of(self, points: np.ndarray) -> Iterator[np.ndarray]:
        assert self.total is not None, "not fitted"
        for p in points:
            i = int(p[0, 0])
            if i == self.fail_at:
                raise ValueError(f"frame {i} is broken")
            if i == self.die_at:
                os.kill(os.getpid(), signal.SIGKILL)
            if i == self.stall_at:
                signal.pause()  # asleep, alive: like a worker stuck on a lock
            frame = np.zeros((6, 10, 3), np.uint8)
            frame[..., 0], frame[..., 1], frame[..., 2] = i % 256, i // 256, self.total % 251
            yield frame


def _all_children() -> list[int]:
    """Child processes of this process, zombies included (Linux /proc)."""
    pids = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            pids += [int(x) for x in f.read().split()]
    return pids


def _children() -> list[int]:
    """The children this test made (zombies included)."""
    return [pid for pid in _all_children() if pid not in _FOREIGN]


def _points(n: int) -> np.ndarray:
    pts = np.zeros((n, 68, 2), np.float32)
    pts[:, 0, 0] = np.arange(n)
    return pts


def _run(renderer: _Fitted, n: int, workers: int = 2):
    pts = _points(n)
    renderer.fit_sequence(pts)
    return render_procs.forked_frames(renderer, pts, (6, 10, 3), workers)


@pytest.mark.parametrize("n, workers", [(1, 2), (8, 2), (61, 2), (100, 3)])
def test_frames_in_order(n, workers):
    frames = list(_run(_Fitted(), n, workers))  # kept all at once: each frame is the caller's own
    assert len(frames) == n
    total = sum(range(n)) % 251
    for i, f in enumerate(frames):
        assert f.shape == (6, 10, 3) and f.flags.writeable
        assert (int(f[0, 0, 0]), int(f[0, 0, 1]), int(f[0, 0, 2])) == (i % 256, i // 256, total)
    assert not _children()


def test_a_worker_error_is_raised_here():
    got = []
    with pytest.raises(RuntimeError, match="ValueError: frame 37 is broken"):
        for f in _run(_Fitted(fail_at=37), 80):
            got.append(int(f[0, 0, 0]))
    assert got == list(range(32))  # the blocks before the broken one's, in order
    assert not _children()


def test_a_killed_worker_is_an_error_not_a_hang():
    with pytest.raises(RuntimeError, match="died"):
        for _ in _run(_Fitted(die_at=50), 80):
            pass
    assert not _children()


def test_stopping_early_stops_the_workers():
    gen = _run(_Fitted(), 500)
    assert len(_children()) == 2  # forked before the first frame is asked for
    assert int(next(gen)[0, 0, 0]) == 0
    gen.close()
    assert not _children()


_USABLE = """
import threading
from pipeline import render_procs
alone = render_procs.usable()
stop = threading.Event()
t = threading.Thread(target=stop.wait)
t.start()
beside = render_procs.usable()
stop.set()
t.join()
print(alone, beside, render_procs.usable())
"""


def test_usable_only_without_other_threads(repo_root):
    """In a fresh process (this one may hold other tests' threads: tqdm's monitor, Dask's offload pool)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _USABLE], cwd=repo_root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "True"]
    assert render_procs.usable() == (threading.active_count() == 1)


def test_workers_do_not_hold_the_parents_pipes():
    """A pipe the parent opened before forking (an ffmpeg stdin) ends when the parent closes it."""
    import select

    r, w = os.pipe()
    gen = _run(_Fitted(), 400)
    try:
        assert int(next(gen)[0, 0, 0]) == 0  # workers are running
        os.close(w)
        ready, _, _ = select.select([r], [], [], 5.0)
        assert ready and os.read(r, 1) == b""  # end of file at once: no worker kept the write end
    finally:
        gen.close()
        os.close(r)


def test_a_stuck_worker_is_an_error_not_a_hang(monkeypatch):
    monkeypatch.setattr(render_procs, "STALL_S", 2.0)
    got = []
    with pytest.raises(RuntimeError, match="gave no frames for 2 s"):
        for f in _run(_Fitted(stall_at=20), 60):
            got.append(int(f[0, 0, 0]))
    assert got == list(range(16))
    assert not _children()  # the stuck one was killed


def test_closing_before_the_first_frame_reaps_the_workers():
    frames = _run(_Fitted(), 100)
    pids = _children()
    assert len(pids) == 2
    frames.close()  # e.g. ffmpeg failed to start: no frame was ever asked for
    assert not _children()
    for pid in pids:  # reaped, not zombies waiting for this process to exit
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    frames.close()  # twice is harmless
    with pytest.raises(StopIteration):
        next(frames)
