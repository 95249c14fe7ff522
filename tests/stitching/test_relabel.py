"""Tests for wsinuc.stitching.relabel: key lookup and face-graph merging."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from wsinuc.stitching import (
    apply_key_lookup,
    build_key_lookup,
    face_pairs,
    merge_lookup,
    offset_labels,
    tile_offsets,
)


def test_tile_offsets_are_exclusive_cumulative_counts():
    assert tile_offsets([3, 0, 2, 5]).tolist() == [0, 3, 3, 5]
    assert tile_offsets([]).tolist() == []


def test_key_lookup_numbers_keys_in_the_order_given():
    lookup = build_key_lookup([np.array([10, 50]), np.array([], dtype=np.int64), np.array([7])])
    block = np.array([[0, 50], [7, 10]])
    np.testing.assert_array_equal(apply_key_lookup(block, lookup), [[0, 2], [3, 1]])
    assert len(lookup) == 3


def test_a_key_owned_twice_is_refused():
    with pytest.raises(ValueError, match="more than one tile"):
        build_key_lookup([np.array([4, 9]), np.array([9])])


def test_unknown_key_in_a_block_is_refused():
    lookup = build_key_lookup([np.array([4, 9])])
    with pytest.raises(ValueError, match="5"):
        apply_key_lookup(np.array([[4, 5]]), lookup)
    with pytest.raises(ValueError, match="owns"):
        apply_key_lookup(np.array([[3]]), build_key_lookup([]))


def test_face_pairs_find_labels_touching_across_seams():
    labels = np.array(
        [
            [1, 1, 2, 0],
            [0, 0, 0, 0],
            [3, 0, 4, 4],
            [3, 0, 0, 5],
        ]
    )
    # row seam at 2 (rows 1 | 2) touches nothing; column seam at 2: 1|2 on row 0
    pairs = face_pairs(labels, row_seams=[2], col_seams=[2])
    assert pairs.T.tolist() == [[1, 2]]
    # row seam at 3: 3|3 is one object, 4|5 touch; column seam at 3: 4|4 is one object
    pairs = face_pairs(labels, row_seams=[3], col_seams=[3])
    assert pairs.T.tolist() == [[4, 5]]


def test_merge_lookup_joins_connected_pairs_and_numbers_groups():
    lookup = merge_lookup(np.array([[1, 5], [2, 3]]), max_label=6)
    # groups by smallest member: {0}, {1, 2}, {3, 5}, {4}, {6}
    assert lookup.tolist() == [0, 1, 1, 2, 3, 2, 4]


def test_chunkwise_labelling_merged_by_face_graph_equals_global_labelling():
    rng = np.random.default_rng(0)
    mask = ndimage.gaussian_filter(rng.random((60, 70)), 2.0) > 0.5
    seams_y, seams_x = [20, 40], [25, 50]
    bounds_y, bounds_x = [0, *seams_y, 60], [0, *seams_x, 70]
    chunked = np.zeros(mask.shape, dtype=np.int64)
    offset = 0
    for y0, y1 in zip(bounds_y[:-1], bounds_y[1:], strict=True):
        for x0, x1 in zip(bounds_x[:-1], bounds_x[1:], strict=True):
            block, count = ndimage.label(mask[y0:y1, x0:x1])
            chunked[y0:y1, x0:x1] = offset_labels(block, offset)
            offset += count
    lookup = merge_lookup(face_pairs(chunked, seams_y, seams_x), max_label=offset)
    merged = lookup[chunked]
    expected, count = ndimage.label(mask)
    assert count > 3
    pairs = np.unique(np.stack([expected[mask], merged[mask]]), axis=1)
    assert pairs.shape[1] == count == np.unique(merged[mask]).size
    assert (merged[~mask] == 0).all()
