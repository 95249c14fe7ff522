"""Border weight map (Ronneberger Eq. 2): shape of the map and an oracle check."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from scipy import ndimage

from wsinuc.training.weight_maps import (
    border_weight_map,
    truncation_radius,
    two_nearest_distances,
)


def disk_labels(shape, disks):
    """Label image with one disk per (row, col, radius), painted in order."""
    yy, xx = np.indices(shape)
    labels = np.zeros(shape, np.int32)
    for label, (row, col, radius) in enumerate(disks, start=1):
        labels[(yy - row) ** 2 + (xx - col) ** 2 <= radius**2] = label
    return labels


def random_labels(seed, shape=(64, 72), n=10):
    rng = np.random.default_rng(seed)
    rows, cols = rng.uniform(0, shape[0], n), rng.uniform(0, shape[1], n)
    return disk_labels(shape, zip(rows, cols, rng.uniform(2, 6, n)))


def brute_force_distances(labels):
    """d1, d2 from one full-image distance transform per object."""
    ids = [i for i in np.unique(labels) if i != 0]
    missing = [np.full(labels.shape, np.inf)] * 2  # fewer than two objects
    stack = np.stack([ndimage.distance_transform_edt(labels != i) for i in ids] + missing)
    stack.sort(axis=0)
    return stack[0], stack[1]


def brute_force_map(labels, w0, sigma, truncate):
    """Eq. 2 with N / (2 N_k) class weights, border term on background, divided by the max."""
    foreground = labels > 0
    n, n_fg = labels.size, foreground.sum()
    w = np.where(foreground, n / (2 * n_fg), n / (2 * (n - n_fg)))
    d1, d2 = brute_force_distances(labels)
    with np.errstate(over="ignore", invalid="ignore"):
        border = w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2))
    keep = ~foreground & np.isfinite(d2)
    if truncate:
        keep &= d1 + d2 <= truncation_radius(sigma)
    w = w + np.where(keep, border, 0.0)
    return w / w.max()


@pytest.fixture
def touching_disks():
    """Two disks of radius 12.5 on row 32 (cols 23-47 and 49-73) leaving a one-pixel gap at col 48.

    About 16 % of the pixels are nucleus, as in MoNuSeg.
    """
    return disk_labels((64, 96), [(32, 35, 12.5), (32, 61, 12.5)])


@pytest.mark.parametrize("class_balance", [True, False])
def test_peak_lies_on_the_background_gap_between_touching_disks(touching_disks, class_balance):
    weights = border_weight_map(touching_disks, w0=3.0, sigma=10.0, class_balance=class_balance)
    n, n_fg = touching_disks.size, np.count_nonzero(touching_disks)
    w_bg, w_fg = (n / (2 * (n - n_fg)), n / (2 * n_fg)) if class_balance else (1.0, 1.0)
    peak = w_bg + 3.0 * math.exp(-((1 + 1) ** 2) / (2 * 10.0**2))  # d1 = d2 = 1 in the gap
    row, col = np.unravel_index(np.argmax(weights), weights.shape)
    assert col == 48 and touching_disks[row, col] == 0
    assert weights[32, 48] == pytest.approx(1.0)
    assert weights[0, 95] == pytest.approx(w_bg / peak, rel=1e-6)  # far from both disks
    assert weights[32, 35] == pytest.approx(w_fg / peak, rel=1e-6)  # inside a disk: no border term


def test_map_is_float32_in_the_unit_interval(touching_disks):
    weights = border_weight_map(touching_disks)
    assert weights.dtype == np.float32 and weights.shape == touching_disks.shape
    assert weights.min() > 0 and weights.max() == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_equals_brute_force_with_the_same_truncation(seed):
    labels = random_labels(seed)
    expected = brute_force_map(labels, w0=3.0, sigma=5.0, truncate=True)
    np.testing.assert_allclose(border_weight_map(labels, 3.0, 5.0), expected, rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_truncation_changes_weights_by_less_than_a_thousandth_of_w0(seed):
    labels = random_labels(seed)
    exact = brute_force_map(labels, w0=3.0, sigma=5.0, truncate=False)
    fast = border_weight_map(labels, 3.0, 5.0)
    w_fg = labels.size / (2 * np.count_nonzero(labels))
    peak = w_fg / exact[labels > 0].max()  # the divisor of both maps
    assert np.abs(fast - exact).max() * peak < 1e-3 * 3.0


@pytest.mark.parametrize("seed", [4, 5])
def test_two_nearest_distances_are_exact_within_the_radius(seed):
    labels = random_labels(seed, n=14)
    radius = 15.0
    d1, d2 = two_nearest_distances(labels, radius)
    r1, r2 = brute_force_distances(labels)
    inside = r1 + r2 <= radius
    np.testing.assert_array_equal(d1[inside], r1[inside])
    np.testing.assert_array_equal(d2[inside], r2[inside])


def test_single_nucleus_has_class_weights_only():
    labels = disk_labels((64, 64), [(30, 30, 6)])
    weights = border_weight_map(labels)
    n, n_fg = labels.size, np.count_nonzero(labels)
    w_bg, w_fg = n / (2 * (n - n_fg)), n / (2 * n_fg)
    np.testing.assert_allclose(np.unique(weights), [w_bg / w_fg, 1.0], rtol=1e-6)


@pytest.mark.parametrize("labels", [np.zeros((32, 32), np.int32), np.full((32, 32), 7, np.int32)])
def test_single_class_image_gives_uniform_ones(labels):
    np.testing.assert_array_equal(border_weight_map(labels), np.ones((32, 32), np.float32))


def test_large_sparse_label_ids_give_the_same_map(touching_disks):
    sparse = np.where(touching_disks > 0, touching_disks.astype(np.int64) + 10**9, 0)
    np.testing.assert_array_equal(border_weight_map(sparse), border_weight_map(touching_disks))


@pytest.mark.parametrize(
    ("instances", "kwargs", "message"),
    [
        (np.zeros((4, 4), np.float32), {}, "dtype float32"),
        (np.full((4, 4), -1), {}, "minimum -1"),
        (np.zeros((2, 4, 4), np.int32), {}, r"shape \(2, 4, 4\)"),
        (np.zeros((4, 4), np.int32), {"sigma": 0.0}, "sigma=0.0"),
        (np.zeros((4, 4), np.int32), {"w0": -1.0}, "w0=-1.0"),
    ],
)
def test_rejects_bad_input_quoting_the_value(instances, kwargs, message):
    with pytest.raises(ValueError, match=message):
        border_weight_map(instances, **kwargs)


def test_full_size_map_with_700_nuclei_is_fast():
    rng = np.random.default_rng(0)
    labels = np.zeros((1000, 1000), np.int32)
    centres = rng.uniform(0, 1000, (700, 2))
    radii = rng.uniform(5, 9, 700)
    for label, ((row, col), radius) in enumerate(zip(centres, radii), start=1):
        r0, c0 = int(max(row - radius, 0)), int(max(col - radius, 0))
        yy, xx = np.ogrid[r0 : int(row + radius) + 1, c0 : int(col + radius) + 1]
        patch = labels[r0 : int(row + radius) + 1, c0 : int(col + radius) + 1]
        inside = (yy - row) ** 2 + (xx - col) ** 2 <= radius**2
        patch[inside[: patch.shape[0], : patch.shape[1]]] = label
    start = time.perf_counter()
    border_weight_map(labels)
    assert time.perf_counter() - start < 5.0  # one full-image EDT per nucleus takes ~30 s
