"""Tests for wsinuc.instances.postprocess: hand-made maps, and the fast paths against the old code (oracle)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from wsinuc.instances import probability_to_instances, watershed_instances
from wsinuc.instances._fastmorph import open_square
from wsinuc.instances._split import split_foreground

FOUR = ndimage.generate_binary_structure(2, 1)
EIGHT = ndimage.generate_binary_structure(2, 2)


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


# --- oracle: the implementation before the fast paths (binary_opening, full EDT, h_maxima, watershed)


def oracle_open(prob, threshold=0.5, kernel_size=5):
    foreground = np.asarray(prob) > threshold
    if kernel_size <= 1:
        return foreground
    return ndimage.binary_opening(foreground, structure=np.ones((kernel_size, kernel_size), dtype=bool))


def oracle_instances(prob, threshold=0.5, kernel_size=5):
    labels, _ = ndimage.label(oracle_open(prob, threshold, kernel_size), structure=FOUR)
    return labels


def oracle_watershed(prob, threshold=0.5, kernel_size=5, h=2.0):
    foreground = oracle_open(prob, threshold, kernel_size)
    distance = ndimage.distance_transform_edt(foreground)
    seeds = foreground & h_maxima(distance, h).astype(bool)
    markers, _ = ndimage.label(seeds, structure=EIGHT)
    labels = watershed(-distance, markers, mask=foreground, connectivity=1)
    unmarked = foreground & (labels == 0)
    extra, _ = ndimage.label(unmarked, structure=FOUR)
    return np.where(extra > 0, extra + labels.max(initial=0), labels)


def matched_f1(a, b):
    """Object F1 of two label images, a match being a pair with IoU > 0.5."""
    both = (a > 0) & (b > 0)
    width = int(b.max()) + 1
    pairs, overlap = np.unique(a[both].astype(np.int64) * width + b[both], return_counts=True)
    size_a, size_b = np.bincount(a.ravel()), np.bincount(b.ravel(), minlength=width)
    iou = overlap / (size_a[pairs // width] + size_b[pairs % width] - overlap)
    total = int(a.max()) + int(b.max())
    return 1.0 if total == 0 else 2 * int((iou > 0.5).sum()) / total


def random_blobs(seed, shape=(96, 128), count=14):
    """Disks and ellipses of random sizes, many touching, some cut by the array edge."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    prob = np.zeros(shape)
    for _ in range(count):
        r, c = rng.uniform(-4, shape[0] + 4), rng.uniform(-4, shape[1] + 4)
        a, b = rng.uniform(4, 13), rng.uniform(4, 13)
        prob = np.maximum(prob, (((rows - r) / a) ** 2 + ((cols - c) / b) ** 2 <= 1) * rng.uniform(0.6, 1))
    return prob


@pytest.mark.parametrize("kernel_size", [1, 2, 3, 4, 5, 6, 7, 9])
def test_opening_gives_the_same_labels_as_binary_opening(kernel_size):
    rng = np.random.default_rng(kernel_size)
    prob = ndimage.uniform_filter(rng.random((70, 90)), 3)
    prob[:, :3] = 0.9  # a band along the edge: outside the array is background
    expected = oracle_instances(prob, kernel_size=kernel_size)
    np.testing.assert_array_equal(probability_to_instances(prob, kernel_size=kernel_size), expected)


@pytest.mark.parametrize("use_cv2", [True, False])
def test_open_square_routes_agree(use_cv2):
    rng = np.random.default_rng(3)
    mask = ndimage.uniform_filter(rng.random((64, 80)), 3) > 0.5
    for size in (3, 4, 5, 8):
        expected = ndimage.binary_opening(mask, structure=np.ones((size, size), dtype=bool))
        np.testing.assert_array_equal(open_square(mask, size, use_cv2=use_cv2), expected)


@pytest.mark.parametrize("seed", range(12))
def test_watershed_matches_the_oracle_on_touching_blobs(seed):
    prob = random_blobs(seed)
    expected = oracle_watershed(prob)
    labels = watershed_instances(prob)
    np.testing.assert_array_equal(labels > 0, expected > 0)
    assert labels.max() == expected.max()
    assert matched_f1(expected, labels) == 1.0
    assert (np.unique(labels) == np.arange(labels.max() + 1)).all()


@pytest.mark.parametrize(("kernel_size", "h", "use_cv2", "eight"),
                         [(3, 2.0, True, True), (5, 1.0, True, True), (5, 3.5, False, True),
                          (1, 2.0, False, True), (5, 2.0, False, False), (7, 1.5, True, False)])
def test_split_foreground_matches_the_oracle_for_other_settings(kernel_size, h, use_cv2, eight):
    for seed in range(4):
        prob = random_blobs(100 + seed, count=18)
        expected = oracle_watershed(prob, kernel_size=kernel_size, h=h)
        foreground = oracle_open(prob, 0.5, kernel_size)
        labels = split_foreground(foreground, h, parts_eight_connected=eight, use_cv2=use_cv2)
        assert labels.max() == expected.max()
        assert matched_f1(expected, labels) == 1.0


def test_watershed_splits_nuclei_cut_by_the_array_edge_like_the_oracle():
    rows, cols = np.mgrid[:40, :60]
    prob = ((((rows - 2) ** 2 + (cols - 14) ** 2) <= 120) | (((rows - 2) ** 2 + (cols - 33) ** 2) <= 120)) * 1.0
    expected = oracle_watershed(prob)
    assert expected.max() == 2
    assert matched_f1(expected, watershed_instances(prob)) == 1.0


def stored_probability_maps(count=3):
    folder = Path(os.environ.get("WSINUC_BENCH_WORK", Path.home() / ".cache" / "wsinuc-bench"))
    files = sorted((folder / "probabilities" / "cascade-lite").glob("*.npz"))
    if not files:
        pytest.skip(f"no stored probability maps under {folder} (benchmarks/stored_probabilities.py)")
    return [np.load(path)["prob"] for path in files[:count]]


@pytest.mark.data
def test_watershed_agrees_with_the_oracle_on_real_probability_crops():
    found = expected_total = 0
    f1_sum = 0.0
    for index, prob in enumerate(stored_probability_maps()):
        for top, left in ((0, 0), (300 + 50 * index, 400), (744, 744)):
            crop = prob[top : top + 256, left : left + 256]
            expected, labels = oracle_watershed(crop), watershed_instances(crop)
            f1_sum += matched_f1(expected, labels) * (expected.max() + labels.max())
            found, expected_total = found + labels.max(), expected_total + expected.max()
            np.testing.assert_array_equal(probability_to_instances(crop), oracle_instances(crop))
    assert f1_sum / (found + expected_total) >= 0.99
    assert abs(found - expected_total) <= 0.005 * expected_total


def test_opencv_and_scipy_routes_give_identical_labels():
    for seed in range(5):
        foreground = oracle_open(random_blobs(200 + seed, count=20))
        np.testing.assert_array_equal(split_foreground(foreground, 2.0, use_cv2=True),
                                      split_foreground(foreground, 2.0, use_cv2=False))


@pytest.mark.parametrize("transpose", [False, True])
def test_watershed_matches_the_oracle_when_a_nucleus_spans_the_array(transpose):
    rows, cols = np.mgrid[:16, :70]
    prob = ((cols >= 4) & (cols < 66)) * 1.0  # touches the top and the bottom, wider than tall
    prob = np.maximum(prob, (((rows - 8) ** 2 + (cols - 2) ** 2) <= 20) * 1.0)
    prob = prob.T if transpose else prob
    expected = oracle_watershed(prob)
    labels = watershed_instances(prob)
    assert labels.max() == expected.max()
    assert matched_f1(expected, labels) == 1.0


def test_each_object_keeps_its_largest_piece_and_single_pieces_are_untouched():
    from wsinuc.instances import keep_largest_pieces

    labels = np.zeros((8, 10), np.int32)
    labels[0:2, 0:2] = 3                       # small piece of 3
    labels[4:7, 0:3] = 3                       # large piece of 3
    labels[2, 6] = labels[0, 9] = 7            # two equal pieces: the first in raster order stays
    labels[5:8, 6:9] = 4
    kept = keep_largest_pieces(labels)
    assert (kept == 3).sum() == 9 and kept[0, 0] == 0
    assert kept[0, 9] == 7 and kept[2, 6] == 0
    assert (kept == 4).sum() == 9
    whole = np.where(labels == 3, 0, labels)
    whole[2, 6] = 0
    assert keep_largest_pieces(whole) is whole
