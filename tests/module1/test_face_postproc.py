"""Face normalisation and landmark post-processing of the neural predictor."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import savgol_filter

from Module1 import face


@pytest.fixture(scope="module")
def std_face(reference_dir):
    return np.loadtxt(reference_dir / "module1" / "data" / "STD_FACE_LANDMARKS.txt").reshape(68, 3)


def _photo_points(std_face):
    return std_face[:, :2] * np.array([150.0, 150.0]) + np.array([256.0, 270.0])


def test_main_landmark_postproc_fixture(reference_dir):
    z = np.load(reference_dir / "fixtures" / "module2" / "main_landmark_postproc.npz")
    fl = z["module1_pred_fls"].reshape(-1, 68, 3)
    assert face.blink_times(fl.shape[0], np.random.RandomState(0)) == [30]  # T=48: one blink only
    fl = face.denorm_face(fl, float(z["scale"]), z["shift"])
    fl = face.add_naive_eye(fl, times=[30])
    out = face.smooth_face(fl)
    np.testing.assert_allclose(out, z["fl_out"], atol=1e-9, rtol=0)


def test_tweak_lips_eyes():
    p = np.zeros((68, 2))
    t = face.tweak_lips_eyes(p)
    assert t[49:54, 1].tolist() == [1] * 5 and t[55:60, 1].tolist() == [-1] * 5
    assert t[[37, 38, 43, 44], 1].tolist() == [-2] * 4 and t[[40, 41, 46, 47], 1].tolist() == [2] * 4
    assert np.all(t[:, 0] == 0) and np.all(p == 0)


def test_norm_input_face_and_back(std_face):
    pts = _photo_points(std_face)
    norm, scale, shift = face.norm_input_face(pts, std_face)
    assert scale == pytest.approx(1.6 / (pts[0, 0] - pts[16, 0]))
    np.testing.assert_allclose(shift, -0.5 * (pts[0] + pts[16]))
    np.testing.assert_allclose(norm[:, :2], -(pts + shift) * scale)
    np.testing.assert_allclose(norm[:, 2], 0.1 * std_face[:, 2])
    assert norm[16, 0] - norm[0, 0] == pytest.approx(1.6)  # face width 1.6
    np.testing.assert_allclose(face.denorm_face(norm, scale, shift)[:, :2], pts, atol=1e-9)


def test_close_pose_mouth_full_ratio():
    d = np.random.RandomState(0).randn(4, 204)
    c = face.close_pose_mouth(d, ratio=1.0).reshape(4, 68, 3)
    np.testing.assert_allclose(c[:, 49:54], c[:, [59, 58, 57, 56, 55]])
    np.testing.assert_allclose(c[:, 61:64], c[:, [67, 66, 65]])
    np.testing.assert_allclose(c[:, 49], 0.5 * (d.reshape(4, 68, 3)[:, 49] + d.reshape(4, 68, 3)[:, 59]))
    np.testing.assert_array_equal(c[:, :48], d.reshape(4, 68, 3)[:, :48])


def test_calibrate_content():
    p = np.zeros((4, 204))
    p[:, 0] = [1.0, 5.0, 2.0, 9.0]  # lowest half: 1, 2 → mean 1.5
    p[:, 144] = [1.0, 1.0, 3.0, 3.0]  # mouth x: (· − 1) × 2
    p[:, 145] = [0.0, 2.0, 2.0, 4.0]  # mouth y: (· − 1) × 3
    out = face.calibrate_content(p, amp_lip_x=2.0, amp_lip_y=3.0)
    np.testing.assert_allclose(out[:, 0], [-0.5, 3.5, 0.5, 7.5])
    np.testing.assert_allclose(out[:, 144], [0, 0, 4, 4])
    np.testing.assert_allclose(out[:, 145], [-3, 3, 3, 9])


def test_signed_area():
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
    assert face.signed_area(square) == pytest.approx(1.0)
    assert face.signed_area(square[::-1]) == pytest.approx(-1.0)


def test_fix_inverted_lips(std_face):
    def opened(d):  # the mean face with its inner lips moved apart by d (sign decides orientation)
        f = std_face.copy()
        f[61:64, 1] += d
        f[65:68, 1] -= d
        return f

    good = opened(0.05) if face.signed_area(opened(0.05)[60:68, :2]) > 0 else opened(-0.05)
    bad = opened(-0.05) if good[61, 1] > std_face[61, 1] else opened(0.05)  # upper/lower inner lip crossed
    assert face.signed_area(bad[60:68, :2]) < 0
    out = face.fix_inverted_lips(np.stack([good, bad]).reshape(2, 204)).reshape(2, 68, 3)
    np.testing.assert_array_equal(out[0], good)
    for a, b in ((65, 63), (66, 62), (67, 61)):
        np.testing.assert_allclose(out[1, a], 0.5 * (bad[a] + bad[b]))
        np.testing.assert_allclose(out[1, b], out[1, a])
    # outer lips keep frame 0's vertical offset from the inner lips
    np.testing.assert_allclose(out[1, 49:54, 1] - out[1, 60:65, 1], good[49:54, 1] - good[60:65, 1])
    np.testing.assert_allclose(out[1, 55:59, 1] - out[1, 64:68, 1], good[55:59, 1] - good[64:68, 1])


def test_fix_nose_top():
    f = np.random.RandomState(0).randn(3, 204)
    out = face.fix_nose_top(f).reshape(3, 68, 3)
    np.testing.assert_allclose(out[:, 27], 2 * f.reshape(3, 68, 3)[:, 28] - f.reshape(3, 68, 3)[:, 29])


def test_blink_schedule_seeded():
    a = face.blink_times(1000, np.random.RandomState(7))
    b = face.blink_times(1000, np.random.RandomState(7))
    assert a == b and a[0] == 30
    gaps = np.diff(a)
    assert np.all((gaps >= 90) & (gaps < 150)) and a[-1] < 1000 - 16


def test_add_naive_eye_closes_at_blink_and_skips_unfit():
    fl = np.random.RandomState(0).randn(60, 68, 3)
    out = face.add_naive_eye(fl, times=[30, 55])  # 55 + 15 ≥ 60: skipped
    for a, b in ((37, 41), (38, 40), (43, 47), (44, 46)):
        np.testing.assert_allclose(out[30, a], out[30, b])
        np.testing.assert_allclose(out[50, a], 0.95 * fl[50, a] + 0.05 * fl[50, b])
    np.testing.assert_array_equal(out[:, :36], fl[:, :36])


def test_savgol_safe_short_sequences():
    x = np.random.RandomState(0).randn(9, 4)
    np.testing.assert_allclose(face.savgol_safe(x, 15, 3), savgol_filter(x, 9, 3, axis=0))
    np.testing.assert_array_equal(face.savgol_safe(x[:3], 5, 3), x[:3])
