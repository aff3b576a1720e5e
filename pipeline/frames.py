"""Frames of a run rendered off the caller's thread (on several cores when the renderer allows it).

The caller's thread observes the frames for the report and pipes them to ffmpeg (another
process) while the frames are made elsewhere; the frames are exactly those of
``renderer.render(seq)``, in order.

* A renderer with ``fit_sequence(points)`` and ``frames_of(points)`` (the classic one) is
  fitted once on the whole sequence (the classic renderer sizes its jaw band from it) and
  rendered in blocks: by forked worker processes (:mod:`pipeline.render_procs`) when this
  process may fork (Linux, no other thread, not a batch worker), else by a thread pool where
  each thread has its own copy of the fitted renderer (the warp keeps per-call work buffers).
* Any other renderer's generator runs in one background thread, a bounded number of frames
  ahead (a renderer may carry state across frames, so its sequence is never split).
"""
from __future__ import annotations

import copy
import os
import threading
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from queue import Empty, Full, Queue, SimpleQueue
from typing import Any, Protocol, cast

import numpy as np

from common import LandmarkSequence
from Module2 import Renderer

from . import render_procs

__all__ = ["Frames", "render_frames", "render_threads"]


class Frames(Protocol):
    """The frames of a run, in order; ``close()`` stops whatever makes them (threads or processes)."""

    def __iter__(self) -> Iterator[np.ndarray]: ...

    def __next__(self) -> np.ndarray: ...

    def close(self) -> None: ...

_DONE = object()
_BLOCK = 8  # frames per task: enough to amortise the hand-off, small enough to keep every core busy


def render_threads() -> int:
    """Render threads: the cores this process may use, at most 4 (``AP_RENDER_THREADS`` overrides)."""
    env = os.environ.get("AP_RENDER_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def render_frames(renderer: Renderer, seq: LandmarkSequence, ahead: int = 16,
                  threads: int | None = None, processes: bool = True) -> Frames:
    """``renderer.render(seq)``, made in blocks by ``threads`` forked processes (:mod:`pipeline.render_procs`,
    when ``processes`` and this process may fork) or threads when possible, else by one thread ahead."""
    threads = render_threads() if threads is None else threads
    if threads >= 2 and len(seq) > 2 * _BLOCK and hasattr(renderer, "fit_sequence") and hasattr(renderer, "frames_of"):
        if processes and render_procs.usable():  # forked now, before the caller starts other threads
            renderer.fit_sequence(seq.points)
            return render_procs.forked_frames(renderer, seq.points, renderer.frame_shape, threads)
        return _blocks(renderer, seq, threads)
    return _ahead(renderer, seq, ahead)


def _blocks(renderer: Any, seq: LandmarkSequence, threads: int) -> Generator[np.ndarray, None, None]:
    # Fitted once, then copied: every copy holds the state each would have reached fitting on its own.
    renderer.fit_sequence(seq.points)
    free: SimpleQueue[Any] = SimpleQueue()
    for r in [copy.deepcopy(renderer) for _ in range(threads - 1)] + [renderer]:
        free.put(r)

    def block(start: int) -> list[np.ndarray]:
        r = free.get()
        try:
            return list(r.frames_of(seq.points[start:start + _BLOCK]))
        finally:
            free.put(r)

    starts = iter(range(0, len(seq), _BLOCK))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="render") as pool:
        queued: deque[Future[list[np.ndarray]]] = deque()
        for start in starts:  # two blocks per thread in flight: bounded memory, no idle core
            queued.append(pool.submit(block, start))
            if len(queued) >= 2 * threads:
                break
        try:
            while queued:
                frames = queued.popleft().result()
                nxt = next(starts, None)
                if nxt is not None:
                    queued.append(pool.submit(block, nxt))
                yield from frames
        finally:
            for fut in queued:
                fut.cancel()


def _ahead(renderer: Renderer, seq: LandmarkSequence, ahead: int) -> Generator[np.ndarray, None, None]:
    queue: Queue[object] = Queue(maxsize=max(1, ahead))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for frame in renderer.render(seq):
                if not put(frame):
                    return
            item: object = _DONE
        except BaseException as exc:  # handed to the consumer, re-raised there
            item = exc
        put(item)

    worker = threading.Thread(target=produce, name="render", daemon=True)
    worker.start()
    try:
        while True:
            item = queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast(np.ndarray, item)
    finally:
        stop.set()  # the consumer stopped (done, error or closed): let the producer finish
        while worker.is_alive():
            try:
                queue.get(timeout=0.1)
            except Empty:
                pass
        worker.join()
