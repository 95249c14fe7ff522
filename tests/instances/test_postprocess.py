"""Tests for wsinuc.instances.postprocess on hand-made probability maps."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.instances import probability_to_instances, watershed_instances


def two_squares_bridged_by_a_line():
    prob = np.zeros((20, 40))
    prob[5:14, 5:14] = 1.0
    prob[5:14, 24:33] = 1.0
    prob[9, 14:24] = 1.0  # 1 px bridge
    return prob


def two_touching_disks():
    rows, cols = np.mgrid[:40, :60]
    left = (rows - 20) ** 2 + (cols - 20) ** 2 <= 100
    right = (rows - 20) ** 2 + (cols - 36) ** 2 <= 100
    return (left | right).astype(float)


def test_opening_splits_blobs_joined_by_a_thin_bridge():
    prob = two_squares_bridged_by_a_line()
    labels = probability_to_instances(prob)
    assert labels.max() == 2
    assert labels.dtype == np.int32
    assert labels[9, 18] == 0
    assert probability_to_instances(prob, kernel_size=1).max() == 1


def test_opening_removes_a_speck_smaller_than_the_kernel():
    prob = np.zeros((20, 20))
    prob[3:5, 3:5] = 0.9
    prob[10:17, 10:17] = 0.9
    labels = probability_to_instances(prob)
    assert labels.max() == 1
    assert labels[4, 4] == 0
    assert (labels[10:17, 10:17] == 1).all()


def test_threshold_is_strict():
    prob = np.full((10, 10), 0.5)
    assert probability_to_instances(prob, kernel_size=1).max() == 0
    assert probability_to_instances(prob, threshold=0.49, kernel_size=1).max() == 1


def test_objects_touching_only_at_a_corner_stay_apart():
    prob = np.zeros((6, 6))
    prob[0:3, 0:3] = 1.0
    prob[3:6, 3:6] = 1.0
    assert probability_to_instances(prob, kernel_size=1).max() == 2


def test_min_size_drops_small_objects_and_renumbers():
    prob = np.zeros((30, 30))
    prob[1:7, 1:7] = 1.0  # 36 px
    prob[10:22, 10:22] = 1.0  # 144 px
    labels = probability_to_instances(prob, min_size=50)
    assert labels.max() == 1
    assert (labels == 1).sum() == 144


def test_watershed_splits_two_touching_disks_that_opening_keeps_together():
    prob = two_touching_disks()
    assert probability_to_instances(prob).max() == 1
    labels = watershed_instances(prob)
    assert labels.max() == 2
    assert labels.dtype == np.int32
    assert labels[20, 12] != labels[20, 44]
    # same (opened) foreground as the plain route, only split
    np.testing.assert_array_equal(labels > 0, probability_to_instances(prob) > 0)


def test_watershed_keeps_a_single_disk_whole():
    rows, cols = np.mgrid[:30, :30]
    prob = ((rows - 15) ** 2 + (cols - 15) ** 2 <= 64).astype(float)
    assert watershed_instances(prob).max() == 1


def test_watershed_uses_stage1_markers_when_given():
    prob = np.zeros((20, 40))
    prob[4:16, 4:36] = 1.0  # one long blob, a flat distance ridge
    stage1 = np.zeros_like(prob)
    stage1[8:12, 6:10] = 0.95
    stage1[8:12, 30:34] = 0.95
    labels = watershed_instances(prob, stage1)
    assert labels.max() == 2
    assert labels[10, 5] != labels[10, 35]


def test_watershed_gives_unmarked_foreground_its_own_label():
    prob = np.zeros((20, 40))
    prob[2:10, 2:10] = 1.0
    prob[2:10, 20:30] = 1.0
    stage1 = np.zeros_like(prob)
    stage1[4:6, 4:6] = 1.0  # only the first blob has a marker
    labels = watershed_instances(prob, stage1)
    assert labels.max() == 2
    assert labels[5, 25] > 0 and labels[5, 25] != labels[5, 5]


@pytest.mark.parametrize(
    ("prob", "kwargs", "needle"),
    [
        (np.zeros((4, 4, 3)), {}, "2-D"),
        (np.full((4, 4), np.nan), {}, "NaN"),
        (np.zeros((4, 4)), {"threshold": 1.5}, "threshold"),
        (np.zeros((4, 4)), {"kernel_size": 0}, "kernel_size"),
        (np.zeros((4, 4)), {"min_size": -1}, "min_size"),
    ],
)
def test_invalid_inputs_raise(prob, kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        probability_to_instances(prob, **kwargs)
    with pytest.raises(ValueError, match=needle):
        watershed_instances(prob, **kwargs)


def test_watershed_validates_stage1_shape_and_marker_options():
    with pytest.raises(ValueError, match="stage1_prob"):
        watershed_instances(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="marker_threshold"):
        watershed_instances(np.zeros((4, 4)), marker_threshold=2.0)
    with pytest.raises(ValueError, match="h must"):
        watershed_instances(np.zeros((4, 4)), h=0)
