"""Frames rendered in a background thread are the renderer's own frames, in order."""
from __future__ import annotations

import copy
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from common import LandmarkSequence
from Module2 import RENDERERS, RenderConfig
from pipeline.frames import render_frames


class _Counting:
    """A stateful renderer: frame i carries i and the sequence's length (fails on any split or reorder)."""

    made = 0
    fail_at = -1

    def render(self, seq: LandmarkSequence) -> Iterator[np.ndarray]:
        for i in range(len(seq)):
            self.made += 1
            if i == self.fail_at:
                raise ValueError(f"frame {i} is broken")
            yield np.full((4, 4), (i * 7 + len(seq)) % 256, np.uint8)


def _seq(src: np.ndarray, n: int) -> LandmarkSequence:
    t = np.arange(n)[:, None, None]
    pts = src[None] + np.sin(t / 3.0) * 2.0
    pts[:, [57, 66], 1] += np.abs(np.sin(np.arange(n) / 2.0))[:, None] * 12.0  # the mouth opens and closes
    pts[-6:, 5:12, 1] += 25.0  # the jaw drops far only at the end: the whole sequence sizes the jaw band
    return LandmarkSequence(pts.astype(np.float32), 25.0, src)


def test_order_errors_and_early_stop():
    r = _Counting()
    seq = _seq(np.random.default_rng(0).uniform(100, 400, (68, 2)).astype(np.float32), 50)
    assert [int(f[0, 0]) for f in render_frames(r, seq, ahead=3)] == [(i * 7 + 50) % 256 for i in range(50)]
    r.fail_at = 20
    got = []
    with pytest.raises(ValueError, match="frame 20 is broken"):
        for f in render_frames(r, seq, ahead=4):
            got.append(f)
    assert len(got) == 20
    # The consumer stops early (e.g. ffmpeg died): the producer stops too, no thread is left behind.
    r.fail_at, r.made = -1, 0
    gen = render_frames(r, seq, ahead=2)
    next(gen)
    gen.close()
    assert r.made <= 5 and not [t for t in threading.enumerate() if t.name == "render"]


@pytest.mark.slow
@pytest.mark.parametrize("style", ["drawing", "cartoon"])
def test_classic_frames_are_the_same(style, example_photo):
    from pipeline.align import align_photo, load_photo

    aligned = align_photo(load_photo(example_photo))
    renderer = RENDERERS.get("classic")(RenderConfig(style=style, size=256, quiet=True))
    renderer.prepare(aligned.image, aligned.landmarks)
    seq = _seq(aligned.landmarks, 43)  # not a multiple of the block size
    serial = list(renderer.render(seq))
    assert len({a.tobytes() for a in serial}) > 5  # the frames do differ from each other
    for threads in (3, 1):  # blocks on copies of the renderer / one thread ahead
        made = list(render_frames(renderer, seq, threads=threads))
        assert len(made) == len(serial) == 43
        assert all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(serial, made, strict=True)), threads
    # forked worker processes (the CLI's path), on a copy fitted first as render_frames does
    from pipeline import render_procs

    forked = copy.deepcopy(renderer)
    forked.fit_sequence(seq.points)
    shape = serial[0].shape
    made = list(render_procs.forked_frames(forked, seq.points, shape, 2))
    assert all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(serial, made, strict=True))
    # the renderer given in renders as before afterwards
    assert all(np.array_equal(a, b) for a, b in zip(serial, renderer.render(seq), strict=True))
