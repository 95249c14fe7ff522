"""Tests for wsinuc.instances.seeded: interior seeds grown into the nucleus mask."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from wsinuc.instances.seeded import grow_labels, seeded_instances

FOUR = ndimage.generate_binary_structure(2, 1)


def two_touching_nuclei():
    """Two disks touching along a line, each with its own interior."""
    rows, cols = np.mgrid[:40, :60]
    left = (rows - 20) ** 2 + (cols - 20) ** 2 <= 100
    right = (rows - 20) ** 2 + (cols - 38) ** 2 <= 100
    interior = ((rows - 20) ** 2 + (cols - 20) ** 2 <= 49) | ((rows - 20) ** 2 + (cols - 38) ** 2 <= 49)
    return interior * 0.9, (left | right) * 0.95


def random_maps(seed, shape=(80, 100), count=16):
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    nucleus, interior = np.zeros(shape), np.zeros(shape)
    for _ in range(count):
        r, c, radius = rng.uniform(0, shape[0]), rng.uniform(0, shape[1]), rng.uniform(4, 10)
        distance = np.hypot(rows - r, cols - c)
        nucleus = np.maximum(nucleus, np.clip(radius + 0.5 - distance, 0, 1))
        interior = np.maximum(interior, np.clip(radius - 2.5 - distance, 0, 1))
    return interior, nucleus


def test_touching_nuclei_with_separate_interiors_stay_apart():
    interior, nucleus = two_touching_nuclei()
    labels = seeded_instances(interior, nucleus, max_expansion=5)  # 3 px band, 4-neighbour rings
    assert labels.dtype == np.int32
    assert labels.max() == 2
    assert labels[20, 12] != labels[20, 44]
    np.testing.assert_array_equal(labels > 0, nucleus > 0.5)


def test_growth_stops_after_max_expansion_rings():
    interior = np.zeros((30, 30))
    interior[14:16, 14:16] = 0.9
    nucleus = np.full((30, 30), 0.9)
    labels = seeded_instances(interior, nucleus, min_seed_size=0, max_expansion=4)
    rows, cols = np.nonzero(labels)
    manhattan = np.minimum(abs(rows - 14), abs(rows - 15)) + np.minimum(abs(cols - 14), abs(cols - 15))
    assert manhattan.max() == 4
    assert labels.sum() == 4 + 4 * 4 + 4 * (1 + 2 + 3 + 4)  # a 2x2 seed grown 4 diamond rings


@pytest.mark.parametrize("rings", [0, 1, 2, 5])
def test_grown_pixels_are_the_geodesic_dilation_of_the_seeds_inside_the_mask(rings):
    interior, nucleus = random_maps(7)
    seeds, _ = ndimage.label(interior > 0.5, structure=FOUR)
    mask = nucleus > 0.5
    grown = grow_labels(seeds, mask, rings)
    expected = seeds > 0
    if rings:
        expected = ndimage.binary_dilation(seeds > 0, structure=FOUR, iterations=rings, mask=mask | (seeds > 0))
    np.testing.assert_array_equal(grown > 0, expected)
    np.testing.assert_array_equal(grown[seeds > 0], seeds[seeds > 0])


def test_small_seeds_are_dropped_and_objects_are_edge_connected():
    interior, nucleus = random_maps(3)
    interior[2:4, 2:4] = 0.9  # a 4 px seed
    nucleus[1:5, 1:5] = 0.9
    labels = seeded_instances(interior, nucleus, min_seed_size=5)
    assert labels[2, 2] == 0
    for index in range(1, labels.max() + 1):
        assert ndimage.label(labels == index, structure=FOUR)[1] == 1


@pytest.mark.parametrize(("dr", "dc"), [(1, 0), (0, 1), (1, 1)])
def test_shifting_the_input_by_one_pixel_shifts_the_objects(dr, dc):
    interior, nucleus = random_maps(11, shape=(90, 110), count=24)
    labels = seeded_instances(interior, nucleus, kernel_size=3)
    shifted = seeded_instances(interior[dr:, dc:], nucleus[dr:, dc:], kernel_size=3)
    margin = 3 + 3 + 1  # opening half-width + max_expansion + 1
    core = (slice(dr + margin, -margin), slice(dc + margin, -margin))
    a = labels[core]
    b = shifted[margin:-margin or None, margin:-margin or None][: a.shape[0], : a.shape[1]]
    np.testing.assert_array_equal(a > 0, b > 0)
    pairs = np.unique(np.stack([a[a > 0], b[b > 0]]), axis=1)
    assert pairs.shape[1] == np.unique(pairs[0]).size == np.unique(pairs[1]).size


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"threshold": 1.0}, "threshold"), ({"min_seed_size": -1}, "min_seed_size"),
     ({"max_expansion": 1.5}, "max_expansion"), ({"kernel_size": 0}, "kernel_size")],
)
def test_invalid_options_raise(kwargs, needle):
    interior, nucleus = two_touching_nuclei()
    with pytest.raises(ValueError, match=needle):
        seeded_instances(interior, nucleus, **kwargs)


def test_maps_must_share_a_finite_2d_shape():
    with pytest.raises(ValueError, match="nucleus_prob must have shape"):
        seeded_instances(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="interior_prob must be a 2-D"):
        seeded_instances(np.zeros((4, 4, 2)), np.zeros((4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        seeded_instances(np.zeros((4, 4)), np.full((4, 4), np.inf))
