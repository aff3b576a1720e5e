"""Frames of a run rendered on several cores, in order, while the encoder consumes them.

The weight-free renderer draws frame ``i`` from ``seq.points[i]`` alone and spends its time
in OpenCV and numpy calls that release the GIL, so threads over blocks of frames, each with
its own copy of the prepared renderer (the warp keeps per-call work buffers), use the
second core; the caller's thread meanwhile pipes finished frames to ffmpeg. The frames are
the same as those of ``renderer.render(seq)``, in the same order.
"""
from __future__ import annotations

import copy
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from queue import SimpleQueue

import numpy as np

from common import LandmarkSequence
from Module2 import Renderer

__all__ = ["FRAME_INDEPENDENT", "render_frames", "render_threads"]

# Renderers whose frame i depends on seq.points[i] alone (no state carried between frames).
FRAME_INDEPENDENT = frozenset({"classic"})
_BLOCK = 8  # frames per task: enough to amortise the hand-off, small enough to keep both cores busy


def render_threads() -> int:
    """Render threads to use: the cores this process may run on, at most 4 (``AP_RENDER_THREADS`` overrides)."""
    env = os.environ.get("AP_RENDER_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def render_frames(renderer: Renderer, name: str, seq: LandmarkSequence, threads: int | None = None) -> Iterator[np.ndarray]:
    """``renderer.render(seq)``, computed ``threads`` blocks at a time when the renderer allows it."""
    threads = render_threads() if threads is None else threads
    if name not in FRAME_INDEPENDENT or threads < 2 or len(seq) <= _BLOCK:
        yield from renderer.render(seq)
        return
    # One renderer per thread; a thread takes whichever copy is free.
    free: SimpleQueue[Renderer] = SimpleQueue()
    free.put(renderer)
    for _ in range(threads - 1):
        free.put(copy.deepcopy(renderer))

    def block(start: int) -> list[np.ndarray]:
        r = free.get()
        try:
            part = LandmarkSequence(seq.points[start:start + _BLOCK], seq.fps, seq.source)
            return list(r.render(part))
        finally:
            free.put(r)

    starts = iter(range(0, len(seq), _BLOCK))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="render") as pool:
        ahead: deque[Future[list[np.ndarray]]] = deque()
        for start in starts:  # keep 2 blocks per thread in flight: bounded memory, no idle core
            ahead.append(pool.submit(block, start))
            if len(ahead) >= 2 * threads:
                break
        try:
            while ahead:
                frames = ahead.popleft().result()
                nxt = next(starts, None)
                if nxt is not None:
                    ahead.append(pool.submit(block, nxt))
                yield from frames
        finally:
            for fut in ahead:
                fut.cancel()
