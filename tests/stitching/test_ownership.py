"""Tests for wsinuc.stitching.ownership on small hand-made blocks."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from wsinuc.stitching import anchor_keys, key_anchors, own_objects
from wsinuc.tiling import plan_tiles


@pytest.fixture
def two_tile_image():
    """4 x 8 image, seam between columns 3 and 4; one object across the seam."""
    labels = np.zeros((4, 8), dtype=np.int32)
    labels[1:3, 3:5] = 9  # first pixel (1, 3) -> key 1 * 8 + 3 + 1 = 12
    labels[0, 6] = 4  # inside tile (0, 1) only -> key 0 * 8 + 6 + 1 = 7
    plan = plan_tiles((4, 8), 4, 2, stride_multiple=1)
    return labels, plan


def test_object_across_a_seam_is_owned_by_the_tile_holding_its_first_pixel(two_tile_image):
    labels, plan = two_tile_image
    left, right = plan[0], plan[1]
    owned_left = own_objects(labels[left.valid_box.slices], left)
    owned_right = own_objects(labels[right.valid_box.slices], right)
    assert owned_left.keys.tolist() == [12]
    assert owned_right.keys.tolist() == [7]
    assert owned_left.bboxes.tolist() == [[1, 3, 3, 5]]
    assert owned_right.bboxes.tolist() == [[0, 6, 1, 7]]


def test_owned_labels_keep_the_full_mask_beyond_the_core(two_tile_image):
    labels, plan = two_tile_image
    left = plan[0]  # valid columns 0..6, core columns 0..4
    owned = own_objects(labels[left.valid_box.slices], left)
    expected = np.zeros((4, 6), dtype=np.int32)
    expected[1:3, 3:5] = 1
    np.testing.assert_array_equal(owned.labels, expected)
    assert owned.labels.dtype == np.int32


def test_kept_objects_are_numbered_in_key_order():
    labels = np.zeros((6, 6), dtype=np.int64)
    labels[4, 0] = 3  # key 4 * 6 + 0 + 1 = 25
    labels[0, 5] = 50  # key 6
    labels[2, 2] = 7  # key 15
    tile = plan_tiles((6, 6), 8, 0, stride_multiple=1)[0]
    owned = own_objects(labels, tile)
    assert owned.keys.tolist() == [6, 15, 25]
    assert owned.labels[0, 5] == 1 and owned.labels[2, 2] == 2 and owned.labels[4, 0] == 3
    assert len(owned) == 3


def test_keys_and_anchors_are_inverse():
    anchors = np.array([[0, 0], [3, 7], [1000, 99999]])
    keys = anchor_keys(anchors, 100000)
    assert keys.tolist() == [1, 3 * 100000 + 8, 1000 * 100000 + 100000]
    np.testing.assert_array_equal(key_anchors(keys, 100000), anchors)


def test_read_shaped_labels_are_refused_with_a_hint():
    plan = plan_tiles((40, 40), 32, 8, stride_multiple=32)
    tile = plan[0]
    with pytest.raises(ValueError, match="valid_crop"):
        own_objects(np.zeros(tile.read_shape, dtype=np.int32), tile)


@pytest.mark.parametrize(
    ("labels", "needle"),
    [(np.zeros((4, 6), dtype=float), "integer"), (-np.ones((4, 6), dtype=int), ">= 0")],
)
def test_bad_labels_raise(two_tile_image, labels, needle):
    _, plan = two_tile_image
    with pytest.raises(ValueError, match=needle):
        own_objects(labels, plan[0])


def test_unknown_on_cut_raises(two_tile_image):
    labels, plan = two_tile_image
    with pytest.raises(ValueError, match="on_cut"):
        own_objects(labels[plan[0].valid_box.slices], plan[0], on_cut="keep")


def test_drop_mode_discards_cut_objects_and_logs(caplog):
    labels = np.zeros((4, 8), dtype=np.int32)
    labels[1, 1:8] = 1  # 7 px wide, halo 2: cut in the left tile's block
    plan = plan_tiles((4, 8), 4, 2, stride_multiple=1)
    left = plan[0]
    with caplog.at_level(logging.WARNING, logger="wsinuc.stitching.ownership"):
        owned = own_objects(labels[left.valid_box.slices], left, on_cut="drop")
    assert len(owned) == 0
    assert "halo" in caplog.text
