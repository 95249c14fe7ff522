"""Tests for wsinuc.instances.seeded: interior seeds grown into the nucleus mask."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from wsinuc.instances.seeded import grow_labels, merge_shallow_passes, object_peaks, seeded_instances

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


def test_a_pixel_reached_by_two_labels_in_one_step_takes_the_larger_id():
    seeds = np.zeros((3, 7), dtype=np.int32)
    seeds[1, 1], seeds[1, 5] = 4, 9
    grown = grow_labels(seeds, np.ones_like(seeds, dtype=bool), 2)
    assert grown[1].tolist() == [4, 4, 4, 9, 9, 9, 9]  # (1, 3) is two steps from both
    assert grown[0].tolist() == [4, 4, 4, 0, 9, 9, 9]  # (0, 3) is three steps from both
    assert seeds[1, 3] == 0  # the input is not modified


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
     ({"max_expansion": 1.5}, "max_expansion"), ({"kernel_size": 0}, "kernel_size"),
     ({"seed_peak": 1.0}, "seed_peak"), ({"merge_dip": -0.1}, "merge_dip"), ({"seed_peak": True}, "seed_peak")],
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


def a_nucleus_with_a_shallow_waist_beside_a_touching_one():
    """Interior of one long nucleus that dips just under 0.5 at its waist, touching a second nucleus.

    The long nucleus (columns 5-34) has two interior lobes with peaks 0.9 and
    0.7 joined by a waist of 0.45; the second nucleus (columns 35-49) touches
    it, parted by a boundary band where the interior is 0.05.
    """
    interior = np.zeros((20, 54))
    nucleus = np.zeros((20, 54))
    nucleus[5:15, 5:50] = 0.95
    interior[7:13, 7:18] = 0.9
    interior[7:13, 18:22] = 0.45
    interior[7:13, 22:33] = 0.7
    interior[7:13, 33:37] = 0.05
    interior[7:13, 37:48] = 0.85
    return interior, nucleus


def test_a_shallow_dip_merges_and_a_boundary_band_does_not():
    interior, nucleus = a_nucleus_with_a_shallow_waist_beside_a_touching_one()
    split = seeded_instances(interior, nucleus, min_seed_size=0, max_expansion=3)
    assert split.max() == 3
    merged = seeded_instances(interior, nucleus, min_seed_size=0, max_expansion=3, merge_dip=0.3)
    assert merged.max() == 2
    assert len(np.unique(merged[10, 8:31])) == 1 and merged[10, 40] != merged[10, 10]
    np.testing.assert_array_equal(merged > 0, split > 0)
    # the dip is 0.7 - 0.45 = 0.25: a smaller merge_dip keeps the two lobes apart
    assert seeded_instances(interior, nucleus, min_seed_size=0, max_expansion=3, merge_dip=0.2).max() == 3
    # the band dips 0.8: only an extreme merge_dip would join the two nuclei
    assert seeded_instances(interior, nucleus, min_seed_size=0, max_expansion=3, merge_dip=0.9).max() == 1


def test_seeds_that_never_reach_the_seed_peak_are_dropped_and_their_pixels_taken_by_neighbours():
    interior, nucleus = a_nucleus_with_a_shallow_waist_beside_a_touching_one()
    interior[7:13, 22:33] = 0.55          # the second lobe is weak now
    labels = seeded_instances(interior, nucleus, min_seed_size=0, max_expansion=3, seed_peak=0.6)
    assert labels.max() == 2
    assert labels[10, 20] == labels[10, 10]       # grown into from the strong lobe
    assert labels[10, 30] == 0                    # beyond the rings of any strong seed
    assert seeded_instances(interior, nucleus, min_seed_size=0, max_expansion=3, seed_peak=0.5).max() == 3


def test_merged_ids_keep_raster_order_and_stay_consecutive():
    labels = np.zeros((6, 12), np.int32)
    labels[1:5, 1:3], labels[1:5, 3:5], labels[1:5, 7:9], labels[1:5, 9:11] = 1, 2, 3, 4
    values = np.full(labels.shape, 0.9, np.float32)
    values[:, 3] = 0.1                    # deep valley between 1 and 2; 3 and 4 meet at 0.9
    merged = merge_shallow_passes(labels, values, object_peaks(labels, values), 0.3)
    assert sorted(np.unique(merged)) == [0, 1, 2, 3]
    assert merged[2, 1] == 1 and merged[2, 3] == 2 and merged[2, 7] == merged[2, 9] == 3


def test_merging_is_transitive_along_a_chain():
    labels = np.repeat(np.repeat(np.arange(1, 5, dtype=np.int32)[None], 3, axis=1), 4, axis=0)
    values = np.full(labels.shape, 0.8, np.float32)
    merged = merge_shallow_passes(labels, values, object_peaks(labels, values), 0.1)
    assert set(np.unique(merged)) == {1}


def test_object_peaks_are_the_highest_value_of_each_object():
    labels = np.array([[0, 1, 1], [2, 2, 0]], np.int32)
    values = np.array([[0.9, 0.2, 0.6], [0.3, 0.8, 0.99]], np.float32)
    np.testing.assert_allclose(object_peaks(labels, values), [0.0, 0.6, 0.8])
