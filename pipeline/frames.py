"""Frames of a run rendered in a background thread while the caller encodes them.

The renderer's generator runs in its own thread, a bounded number of frames ahead; the
caller's thread meanwhile observes the frames for the report and pipes them to ffmpeg
(another process). Rendering is mostly OpenCV and numpy calls that release the GIL, so the
renderer, the caller and the encoder overlap on the cores. The frames are exactly those of
``renderer.render(seq)``, in order: a renderer may carry state across frames or fit
something on the whole sequence first (the classic one fits its jaw band on it), so the
sequence is never split.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from queue import Empty, Full, Queue
from typing import cast

import numpy as np

from common import LandmarkSequence
from Module2 import Renderer

__all__ = ["render_frames"]

_DONE = object()


def render_frames(renderer: Renderer, seq: LandmarkSequence, ahead: int = 16) -> Iterator[np.ndarray]:
    """``renderer.render(seq)``, computed in a background thread at most ``ahead`` frames ahead."""
    queue: Queue[object] = Queue(maxsize=max(1, ahead))
    stop = threading.Event()

    def produce() -> None:
        try:
            for frame in renderer.render(seq):
                while not stop.is_set():
                    try:
                        queue.put(frame, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            item: object = _DONE
        except BaseException as exc:  # handed to the consumer, re-raised there
            item = exc
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return
            except Full:
                continue

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
