"""Module1.motion: mouth shaping, blinks and head pose on 68-point shapes."""
from __future__ import annotations

import numpy as np
import pytest
from synthetic_face import synthetic_face

from Module1 import motion


def lid_gaps(points: np.ndarray) -> np.ndarray:
    """(T, 4) distances of the upper-lid points to the lower-lid points below them."""
    up, lo = [37, 38, 43, 44], [41, 40, 47, 46]
    return np.linalg.norm(points[:, up] - points[:, lo], axis=-1)


class TestFaceGeometry:
    def test_face_size_is_eye_centre_distance(self):
        assert motion.face_size(synthetic_face()) == pytest.approx(100.0, abs=1e-3)
        assert motion.face_size(synthetic_face(scale=2.5)) == pytest.approx(250.0, abs=1e-3)

    def test_mouth_frame_axes(self):
        centre, ax, ay, w = motion.mouth_frame(synthetic_face(roll_deg=30.0))
        assert w == pytest.approx(90.0, abs=1e-3)
        assert np.allclose(ax, [np.cos(np.pi / 6), np.sin(np.pi / 6)], atol=1e-5)
        assert np.allclose(ay, [-np.sin(np.pi / 6), np.cos(np.pi / 6)], atol=1e-5)  # towards the chin

    def test_inner_lip_gap(self):
        assert motion.inner_lip_gap(synthetic_face(gap=3.0)) == pytest.approx(3.0, abs=1e-4)
        assert motion.inner_lip_gap(np.stack([synthetic_face(gap=1.0), synthetic_face(gap=5.0)])).tolist() == \
            pytest.approx([1.0, 5.0], abs=1e-4)

    def test_rejects_bad_shape(self):
        with pytest.raises(ValueError, match="68, 2"):
            motion.face_size(np.zeros((67, 2)))


class TestMouthShape:
    def test_closed_returns_source(self):
        src = synthetic_face(gap=1.0)
        out = motion.mouth_shape(src, np.zeros(3), np.zeros(3), np.zeros(3))
        assert out.shape == (3, 68, 2) and out.dtype == np.float32
        assert np.abs(out - src).max() < 1e-3
        ajar = synthetic_face(gap=6.0)
        assert np.abs(motion.mouth_shape(ajar, np.zeros(2), closed_rest=False) - ajar).max() < 1e-3

    def test_open_photo_closes_at_rest(self):
        src = synthetic_face(gap=20.0)  # a smile showing teeth
        out = motion.mouth_shape(src, np.zeros(1))[0]
        gaps = np.linalg.norm(out[[61, 62, 63]] - out[[67, 66, 65]], axis=-1)
        assert gaps == pytest.approx([1.0, 1.0, 1.0], abs=1e-3)
        # The lower lip rises 85 % of the 19 px, the upper lip comes down 15 %, the chin rises with it.
        assert src[66, 1] - out[66, 1] == pytest.approx(0.85 * 19.0, abs=1e-3)
        assert out[62, 1] - src[62, 1] == pytest.approx(0.15 * 19.0, abs=1e-3)
        assert src[8, 1] - out[8, 1] == pytest.approx(0.64 * 0.85 * 19.0, abs=1e-3)

    def test_closed_source_keeps_min_gap(self):
        src = synthetic_face(gap=0.0)
        out = motion.mouth_shape(src, np.zeros(2))
        assert np.abs(out - src).max() <= 1.0 + 1e-4
        gaps = np.linalg.norm(out[:, [61, 62, 63]] - out[:, [67, 66, 65]], axis=-1)
        assert gaps.min() >= 1.0 - 1e-4

    def test_open_parts_lips_by_gain_times_width(self):
        src = synthetic_face(gap=2.0)
        out = motion.mouth_shape(src, np.array([0.0, 0.5, 1.0]))
        centre_gap = np.linalg.norm(out[:, 62] - out[:, 66], axis=-1)
        expected = np.maximum(1.0, motion.OPEN_GAIN * 90.0 * np.array([0.0, 0.5, 1.0]))
        assert centre_gap == pytest.approx(expected, abs=1e-3)
        added = motion.mouth_shape(src, np.array([0.0, 0.5, 1.0]), closed_rest=False)
        added_gap = np.linalg.norm(added[:, 62] - added[:, 66], axis=-1)
        assert added_gap == pytest.approx(2.0 + motion.OPEN_GAIN * 90.0 * np.array([0.0, 0.5, 1.0]), abs=1e-3)
        mean_gap = motion.inner_lip_gap(out)
        assert 0.9 * expected[2] <= mean_gap[2] <= expected[2] + 1e-3
        # The lower lip takes most of the drop; the upper lip rises a little.
        lower = out[2, 66, 1] - src[66, 1]
        upper = src[62, 1] - out[2, 62, 1]
        assert lower > 4 * upper > 0

    def test_jaw_follows_lower_lip(self):
        src = synthetic_face()
        out = motion.mouth_shape(src, np.array([1.0]))[0]
        lower = out[66, 1] - src[66, 1]
        chin = out[8, 1] - src[8, 1]
        assert 0.55 * lower < chin < 0.7 * lower
        assert 0.85 * lower < out[57, 1] - src[57, 1] < 0.95 * lower
        assert 0.25 * lower < out[48, 1] - src[48, 1] < 0.45 * lower
        # Ears and brows, eyes, nose stay put.
        still = [0, 1, 15, 16, *range(17, 48)]
        assert np.abs(out[still] - src[still]).max() < 1e-4

    def test_scales_with_face_and_follows_roll(self):
        one, two = synthetic_face(scale=1.0, gap=2.0), synthetic_face(scale=2.0, gap=4.0)
        small = motion.mouth_shape(one, np.array([1.0]))[0] - one
        big = motion.mouth_shape(two, np.array([1.0]))[0] - two
        assert np.abs(big - 2.0 * small).max() < 1e-2
        src = synthetic_face(roll_deg=20.0)
        d = motion.mouth_shape(src, np.array([1.0]))[0, 66] - src[66]
        along = src[54] - src[48]
        cos = abs(np.dot(d, along)) / (np.linalg.norm(d) * np.linalg.norm(along))
        assert cos < 1e-3  # the lips part across the mouth, not along the image's y axis

    def test_spread_widens_round_narrows(self):
        src = synthetic_face()
        out = motion.mouth_shape(src, np.zeros(3), np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0]))
        width = np.linalg.norm(out[:, 54] - out[:, 48], axis=-1)
        assert width == pytest.approx([90.0, 90.0 * (1 + motion.SPREAD_GAIN), 90.0 * (1 - motion.ROUND_GAIN)], abs=1e-3)

    def test_min_gap_under_any_targets(self):
        rng = np.random.default_rng(1)
        src = synthetic_face(gap=0.0)
        out = motion.mouth_shape(src, rng.uniform(0, 1, 200), rng.uniform(-1, 1, 200), rng.uniform(0, 1, 200))
        gaps = np.linalg.norm(out[:, [61, 62, 63]] - out[:, [67, 66, 65]], axis=-1)
        assert gaps.min() >= 1.0 - 1e-4

    def test_length_mismatch(self):
        with pytest.raises(ValueError, match="same length"):
            motion.mouth_shape(synthetic_face(), np.zeros(3), np.zeros(2))


class TestBlinks:
    FPS = 25.0

    def _peaks(self, c: np.ndarray) -> np.ndarray:
        """Frame indices of the first frame of each run of closure >= 0.5."""
        on = c >= 0.5
        return np.flatnonzero(on & ~np.r_[False, on[:-1]])

    def test_values_timing_and_intervals(self):
        T = int(120 * self.FPS)
        c = motion.blink_track(T, self.FPS, np.random.default_rng(0))
        assert c.shape == (T,) and c.dtype == np.float32
        assert c.min() >= 0.0 and c.max() == pytest.approx(1.0)
        assert np.all(c[: int(0.5 * self.FPS)] == 0.0)
        peaks = self._peaks(c) / self.FPS
        assert 120 / 6.0 - 2 <= len(peaks) <= 120 / 2.5 + 1
        gaps = np.diff(peaks)
        assert gaps.min() >= 2.3 and gaps.max() <= 6.2
        # Each blink lasts 0.15–0.25 s (nonzero frames, ± one frame of sampling).
        runs = np.diff(np.flatnonzero(np.diff(np.r_[0, (c > 0).astype(int), 0])))[::2] / self.FPS
        assert runs.min() >= 0.08 and runs.max() <= 0.25 + 1.5 / self.FPS

    def test_blinks_close_even_at_low_fps(self):
        c = motion.blink_track(200, 8.0, np.random.default_rng(3), half_blink_p=0.0)
        assert len(self._peaks(c)) >= 3 and np.all(c[self._peaks(c)].max() == 1.0)

    def test_deterministic_per_seed(self):
        a = motion.blink_track(500, self.FPS, np.random.default_rng(7))
        b = motion.blink_track(500, self.FPS, np.random.default_rng(7))
        c = motion.blink_track(500, self.FPS, np.random.default_rng(8))
        assert np.array_equal(a, b)
        assert not np.array_equal(a, c)

    def test_apply_blinks_closes_lids(self):
        src = synthetic_face()
        out = motion.apply_blinks(src, np.array([0.0, 0.5, 1.0]))
        assert out.shape == (3, 68, 2)
        assert np.abs(out[0] - src).max() < 1e-5
        g = lid_gaps(out)
        assert g[0] == pytest.approx(np.full(4, 14.0), abs=1e-3)
        assert g[2] == pytest.approx(np.full(4, 1.0), abs=1e-3)  # lids meet, 1 px apart
        assert np.all(g[1] < g[0]) and np.all(g[1] > g[2])
        # The lower lid rises 15 % of the opening; corners and everything else stay.
        assert src[41, 1] - out[2, 41, 1] == pytest.approx(0.15 * 14.0, abs=1e-3)
        others = [i for i in range(68) if i not in (37, 38, 40, 41, 43, 44, 46, 47)]
        assert np.abs(out[:, others] - src[others]).max() < 1e-5


class TestHeadPose:
    FPS = 25.0

    def test_bounded_and_smooth(self):
        T = int(60 * self.FPS)
        pose = motion.head_pose_track(T, self.FPS, np.random.default_rng(0), activity=np.ones(T))
        assert pose.shape == (T, 4) and pose.dtype == np.float32
        assert np.all(np.abs(pose) <= motion.POSE_LIMITS + 1e-6)
        assert np.abs(pose[:, 0]).max() > 0.5  # it does move: over half a degree of roll
        step = np.abs(np.diff(pose, axis=0)).max(0)
        # Below ~1 Hz the largest possible step is 2π·0.8 Hz·limit/fps.
        assert np.all(step <= 2 * np.pi * 0.8 * motion.POSE_LIMITS / self.FPS + 1e-6)
        assert step[0] < 0.55  # degrees per frame

    def test_amount_and_activity(self):
        T = 1000
        still = motion.head_pose_track(T, self.FPS, np.random.default_rng(0), amount=0.0)
        assert np.all(still == 0.0)
        quiet = motion.head_pose_track(T, self.FPS, np.random.default_rng(0), activity=np.zeros(T))
        loud = motion.head_pose_track(T, self.FPS, np.random.default_rng(0), activity=np.ones(T))
        assert np.allclose(loud, quiet / 0.6, atol=1e-5)
        half = motion.head_pose_track(T, self.FPS, np.random.default_rng(0), activity=np.ones(T), amount=0.5)
        assert np.allclose(half, 0.5 * loud, atol=1e-6)

    def test_deterministic(self):
        a = motion.head_pose_track(300, self.FPS, np.random.default_rng(4))
        b = motion.head_pose_track(300, self.FPS, np.random.default_rng(4))
        assert np.array_equal(a, b)

    def test_apply_head_pose(self):
        src = synthetic_face()
        centre = np.array([256.0, 400.0])
        pose = np.array([[0, 0, 0, 0], [90.0, 0, 0, 0], [0, 0.01, -0.02, 0], [0, 0, 0, 0.01]], np.float32)
        out = motion.apply_head_pose(src, pose, centre, size=100.0)
        assert np.abs(out[0] - src).max() < 1e-4
        rel = src[30] - centre
        # +90° roll in a y-down image: (x, y) → (-y, x) about the centre (clockwise on screen).
        assert out[1, 30] == pytest.approx(centre + [-rel[1], rel[0]], abs=1e-3)
        assert np.abs(out[2] - (src + [1.0, -2.0])).max() < 1e-4
        assert out[3, 30] == pytest.approx(centre + 1.01 * rel, abs=1e-3)
        # Rigid: distances are kept under roll and translation.
        d0 = np.linalg.norm(src[36] - src[45])
        assert np.linalg.norm(out[1, 36] - out[1, 45]) == pytest.approx(d0, abs=1e-3)

    def test_pivot_below_chin(self):
        src = synthetic_face()
        p = motion.head_pivot(src)
        assert p[0] == pytest.approx(src[8, 0], abs=1e-4)
        assert p[1] == pytest.approx(src[8, 1] + 30.0, abs=1e-3)
