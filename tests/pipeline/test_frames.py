"""Frames rendered on several threads are the frames of the one-thread renderer, in order."""
from __future__ import annotations

import numpy as np
import pytest

from common import LandmarkSequence
from Module2 import RENDERERS, RenderConfig
from pipeline.frames import render_frames, render_threads


@pytest.fixture(scope="module")
def aligned_face(example_photo):
    """The example photo, aligned: (512, 512, 3) RGB and its 68 landmarks."""
    from pipeline.align import align_photo, load_photo

    aligned = align_photo(load_photo(example_photo))
    return aligned.image, aligned.landmarks


def _sequence(src: np.ndarray, n: int) -> LandmarkSequence:
    rng = np.random.default_rng(5)
    t = np.arange(n)[:, None, None]
    pts = src[None] + np.sin(t / 3.0) * 2.0 + rng.normal(0, 0.3, (n, 68, 2))
    pts[:, 57, 1] += np.abs(np.sin(np.arange(n) / 2.0)) * 14.0  # the mouth opens and closes
    pts[:, 66, 1] += np.abs(np.sin(np.arange(n) / 2.0)) * 10.0
    return LandmarkSequence(pts.astype(np.float32), 25.0, src)


@pytest.mark.slow
@pytest.mark.parametrize("style", ["drawing", "cartoon"])
def test_threads_give_the_same_frames_in_order(style, aligned_face):
    image, src = aligned_face
    renderer = RENDERERS.get("classic")(RenderConfig(style=style, size=256, quiet=True))
    renderer.prepare(image, src)
    seq = _sequence(src, 43)  # not a multiple of the block size
    serial = list(renderer.render(seq))
    threaded = list(render_frames(renderer, "classic", seq, threads=3))
    assert len(threaded) == len(serial) == 43
    assert all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(serial, threaded))
    assert len({a.tobytes() for a in serial}) > 10  # the frames do differ from each other
    # the renderer given in still renders the same afterwards (copies did the other blocks)
    assert all(np.array_equal(a, b) for a, b in zip(serial, renderer.render(seq)))


@pytest.mark.slow
def test_one_thread_and_unknown_renderers_stay_serial(aligned_face):
    image, src = aligned_face
    renderer = RENDERERS.get("classic")(RenderConfig(size=256, quiet=True))
    renderer.prepare(image, src)
    seq = _sequence(src, 12)
    a = list(render_frames(renderer, "classic", seq, threads=1))
    b = list(render_frames(renderer, "some-stateful-renderer", seq, threads=4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and len(a) == len(b) == 12


def test_render_threads_env(monkeypatch):
    monkeypatch.setenv("AP_RENDER_THREADS", "3")
    assert render_threads() == 3
    monkeypatch.setenv("AP_RENDER_THREADS", "zero")
    assert 1 <= render_threads() <= 4
