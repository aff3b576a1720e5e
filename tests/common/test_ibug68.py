"""The iBUG-68 vocabulary: groups, inner-lip gap, polygon areas."""
from __future__ import annotations

import numpy as np
import pytest

from common import ibug68


def test_groups_partition_the_68_points():
    idx = np.arange(ibug68.N_POINTS)
    parts = [ibug68.JAW, ibug68.RIGHT_BROW, ibug68.LEFT_BROW, ibug68.NOSE_BRIDGE, ibug68.NOSE_BASE,
             ibug68.RIGHT_EYE, ibug68.LEFT_EYE, ibug68.OUTER_LIPS, ibug68.INNER_LIPS]
    assert np.concatenate([idx[p] for p in parts]).tolist() == list(range(68))
    assert idx[ibug68.MOUTH].tolist() == list(range(48, 68)) and idx[ibug68.EYES].tolist() == list(range(36, 48))
    assert set(ibug68.INNER_LIP_UPPER) | set(ibug68.INNER_LIP_LOWER) <= set(idx[ibug68.INNER_LIPS])
    assert set(ibug68.EYELID_UPPER) | set(ibug68.EYELID_LOWER) <= set(idx[ibug68.EYES])
    assert ibug68.FRAME == 512


def test_inner_lip_gap_single_and_batched():
    pts = np.zeros((68, 2))
    pts[[67, 66, 65], 1] = [2.0, 4.0, 6.0]
    assert float(ibug68.inner_lip_gap(pts)) == pytest.approx(4.0)
    batch = np.stack([pts, 2 * pts, np.zeros((68, 2))])
    assert ibug68.inner_lip_gap(batch).tolist() == pytest.approx([4.0, 8.0, 0.0])
    with pytest.raises(ValueError, match="68, 2"):
        ibug68.inner_lip_gap(np.zeros((67, 2)))


def test_areas():
    square = np.array([[0, 0], [3, 0], [3, 2], [0, 2]], float)  # counter-clockwise in a y-up frame
    assert ibug68.signed_area(square) == pytest.approx(6.0)
    assert ibug68.signed_area(square[::-1]) == pytest.approx(-6.0)
    assert ibug68.polygon_area(square[::-1]) == pytest.approx(6.0)
