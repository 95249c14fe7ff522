"""Tests for wsinuc.stitching.paint: label-image blocks painted from the owners' masks."""

from __future__ import annotations

import numpy as np

from wsinuc.stitching import OwnerMasks, paint_block
from wsinuc.tiling import Box


def test_only_the_part_of_an_owner_inside_the_block_is_painted():
    labels = np.zeros((6, 6), np.int32)
    labels[1:3, 3:6] = 1
    owner = OwnerMasks(Box(10, 10, 16, 16), np.array([0, 42], np.uint32), labels)
    block = paint_block(Box(10, 14, 16, 20), [owner])
    assert block.shape == (6, 6) and block.dtype == np.uint32
    assert (block[1:3, 0:2] == 42).all()
    assert block.sum() == 42 * 4


def test_the_first_painter_keeps_a_pixel_claimed_twice():
    first = OwnerMasks(Box(0, 0, 4, 4), np.array([0, 7], np.uint32), np.ones((4, 4), np.int32))
    second_labels = np.zeros((4, 4), np.int32)
    second_labels[2:, 2:] = 1
    second_labels[0, 3] = 2
    second = OwnerMasks(Box(2, 2, 6, 6), np.array([0, 9, 11], np.uint32), second_labels)
    block = paint_block(Box(0, 0, 6, 6), [first, second])
    assert (block[:4, :4] == 7).all()
    assert (block[4:, 4:] == 9).all()
    assert block[2, 5] == 11
    assert (block[4:, :2] == 0).all()


def test_owners_outside_the_block_paint_nothing():
    owner = OwnerMasks(Box(100, 100, 104, 104), np.array([0, 5], np.uint32), np.ones((4, 4), np.int32))
    assert not paint_block(Box(0, 0, 8, 8), [owner]).any()


def test_wide_ids_keep_their_dtype():
    owner = OwnerMasks(Box(0, 0, 2, 2), np.array([0, 2**40], np.int64), np.ones((2, 2), np.int32))
    block = paint_block(Box(0, 0, 2, 2), [owner], dtype=np.int64)
    assert (block == 2**40).all()
