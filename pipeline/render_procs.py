"""Frames rendered by forked worker processes into shared memory (Linux).

The classic renderer's per-frame work is half small numpy/Python steps that hold the GIL (measured
with ``py-spy --gil``: 46 % of a render thread's samples), so render threads in one process cannot use
two cores while ffmpeg needs its share too. Worker processes can. Each worker is forked from this
process (it inherits the prepared renderer, fitted on the whole sequence as ``renderer.render``
fits it; nothing is pickled) and renders blocks of frames straight into a shared ring of frame slots;
this process hands the slots to the caller in order. Frames are identical to ``renderer.render(seq)``.

Forking is only safe from a process that runs no other Python thread (a thread holding a lock at
the fork would leave it locked in the child), so :func:`usable` checks that, and that this process
is not itself a daemonic worker (a ``--batch`` job); callers fall back to threads otherwise.
"""
from __future__ import annotations

import mmap
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Generator, Iterator
from multiprocessing.connection import Connection
from typing import Any

import cv2
import numpy as np

__all__ = ["ForkedFrames", "usable", "forked_frames"]

# Frames per task, and tasks in flight per worker: enough to keep every core busy, few enough slots.
BLOCK = 8
AHEAD = 3
STALL_S = 120.0  # a worker silent this long (8 frames take milliseconds) is treated as failed, not waited for


def usable() -> bool:
    """Whether worker processes may be forked here: Linux fork, no other Python thread, not a daemon."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    if multiprocessing.current_process().daemon:  # a batch job's worker may not have children
        return False
    return threading.active_count() == 1


def _worker(conn: Connection, renderer: Any, points: np.ndarray, ring: mmap.mmap, shape: tuple[int, ...]) -> None:
    """Forked child: render each ``(start, slot)`` asked for into the ring."""
    # The parent handles Ctrl-C and SIGTERM (it kills the workers); a worker just goes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _close_inherited_fds(keep={0, 1, 2, conn.fileno()})
    frames = np.frombuffer(ring, np.uint8).reshape((-1, *shape))
    try:
        while True:
            task = conn.recv()
            if task is None:
                return
            start, slot = task
            n = 0
            for n, frame in enumerate(renderer.frames_of(points[start:start + BLOCK]), 1):
                frames[slot + n - 1] = frame
            conn.send(("ok", n))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return
    except BaseException as exc:  # handed to the parent, raised there
        try:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        except (OSError, ValueError):
            pass


def _close_inherited_fds(keep: set[int]) -> None:
    """Close the descriptors a forked worker got from the parent: e.g. an ffmpeg stdin the parent opened
    before forking would otherwise never see its end while a worker lives."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


class _Worker:
    """A forked worker's pid: alive or not, killed and reaped (its exit status collected once)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.done = False

    def is_alive(self) -> bool:
        if not self.done:
            try:
                self.done = os.waitpid(self.pid, os.WNOHANG)[0] != 0
            except ChildProcessError:
                self.done = True
        return not self.done

    def stop(self, grace: float = 0.5) -> None:
        """Reap it, after ``grace`` seconds to end by itself, else killed."""
        deadline = time.monotonic() + grace
        while self.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.is_alive():
            os.kill(self.pid, signal.SIGKILL)
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.done = True


def forked_frames(renderer: Any, points: np.ndarray, shape: tuple[int, ...], workers: int) -> ForkedFrames:
    """The frames of ``renderer.render`` for ``points`` (T, 68, 2), made by ``workers`` forked processes.

    ``renderer`` must be fitted on ``points`` already (``fit_sequence``): the workers inherit it. They are
    forked now (call only when :func:`usable` is true, before starting other threads); the frames
    come when iterated. ``shape`` is one frame's shape (uint8). Block ``k`` goes
    to worker ``k mod workers`` (blocks cost about the same), so each worker's answers come back in
    the order they are needed.
    """
    points = np.ascontiguousarray(points)
    n_slots = workers * AHEAD
    nbytes = int(np.prod(shape))
    ring = mmap.mmap(-1, n_slots * BLOCK * nbytes)  # anonymous and shared: the forked workers write into it
    procs: list[_Worker] = []
    conns: list[Connection] = []
    # OpenCV's thread pool does not survive a fork (a child that touches it hangs): fork with none, so
    # the workers run OpenCV on their own thread (one process per core), and give it back here after.
    cv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        for _ in range(workers):
            here, there = multiprocessing.Pipe()
            pid = os.fork()
            if pid == 0:  # the worker: never returns into the caller's code
                code = 1
                try:
                    here.close()
                    _worker(there, renderer, points, ring, tuple(shape))
                    code = 0
                finally:
                    os._exit(code)
            there.close()
            procs.append(_Worker(pid))
            conns.append(here)
    except BaseException:
        _stop(procs, conns, ring)
        raise
    finally:
        cv2.setNumThreads(cv_threads)
    return ForkedFrames(procs, conns, ring, len(points), tuple(shape), n_slots)


class ForkedFrames(Iterator[np.ndarray]):
    """The frames of :func:`forked_frames`; :meth:`close` stops and reaps the workers even before the first
    frame was asked for (a generator that never started would run no clean-up on close)."""

    def __init__(self, procs: list[_Worker], conns: list[Connection], ring: mmap.mmap, T: int,
                 shape: tuple[int, ...], n_slots: int) -> None:
        self._parts = (procs, conns, ring)
        self._gen = _frames(procs, conns, ring, T, shape, n_slots)

    def __next__(self) -> np.ndarray:
        return next(self._gen)

    def close(self) -> None:
        self._gen.close()
        _stop(*self._parts)  # idempotent: a no-op when the generator's own clean-up ran


def _frames(procs: list[_Worker], conns: list[Connection], ring: mmap.mmap, T: int, shape: tuple[int, ...],
            n_slots: int) -> Generator[np.ndarray, None, None]:
    workers = len(conns)
    frames = np.frombuffer(ring, np.uint8).reshape((n_slots * BLOCK, *shape))
    try:
        starts = list(range(0, T, BLOCK))
        sent = 0

        def send_next() -> None:  # block `sent` into slot group `sent mod n_slots`
            nonlocal sent
            if sent < len(starts):
                try:
                    conns[sent % workers].send((starts[sent], (sent % n_slots) * BLOCK))
                except OSError:  # that worker has stopped; its error (or its end) is read in order below
                    pass
                sent += 1

        for _ in range(n_slots):
            send_next()
        for k in range(len(starts)):
            conn, proc = conns[k % workers], procs[k % workers]
            waited = 0.0
            try:
                while not conn.poll(1.0):  # a block takes well under a second; never wait forever
                    waited += 1.0
                    if not proc.is_alive():
                        raise EOFError
                    if waited >= STALL_S:
                        raise RuntimeError(f"a render worker gave no frames for {STALL_S:.0f} s; stopped it")
                kind, value = conn.recv()
            except (EOFError, OSError):  # the pipe closed or was reset: the worker is gone
                raise RuntimeError("a render worker process died (out of memory?)") from None
            if kind != "ok":
                raise RuntimeError(f"a render worker failed: {value}")
            slot = (k % n_slots) * BLOCK
            block = frames[slot:slot + value].copy()  # the caller's own frames (a copy is ~0.1 ms at 512 px)
            send_next()  # block k's slots are free again: the next block may go there at once
            yield from block
    finally:
        del frames
        _stop(procs, conns, ring)


def _stop(procs: list[_Worker], conns: list[Connection], ring: mmap.mmap) -> None:
    for conn in conns:
        try:
            conn.send(None)
        except OSError:
            pass
        conn.close()
    for proc in procs:
        proc.stop()
    try:
        ring.close()
    except BufferError:  # a frame view is still held somewhere; the memory goes with it
        pass
