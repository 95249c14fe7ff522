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


def _reference_paint(box, owners, dtype=np.uint32):
    """The original implementation (masked assignment for every owner): the oracle."""
    block = np.zeros(box.shape, dtype=dtype)
    for owner in owners:
        valid = owner.valid_box
        y0, x0 = max(box.y0, valid.y0), max(box.x0, valid.x0)
        y1, x1 = min(box.y1, valid.y1), min(box.x1, valid.x1)
        if y0 >= y1 or x0 >= x1:
            continue
        source = owner.global_ids[owner.labels[y0 - valid.y0 : y1 - valid.y0, x0 - valid.x0 : x1 - valid.x0]]
        target = block[y0 - box.y0 : y1 - box.y0, x0 - box.x0 : x1 - box.x0]
        free = target == 0
        target[free] = source[free]
    return block


def test_painting_matches_the_reference_on_random_overlapping_owners():
    rng = np.random.default_rng(3)
    for _ in range(30):
        owners = []
        for _ in range(rng.integers(1, 6)):
            y0, x0 = (int(v) for v in rng.integers(-20, 40, 2))
            h, w = (int(v) for v in rng.integers(1, 50, 2))
            count = int(rng.integers(1, 9))
            labels = rng.integers(0, count + 1, (h, w)) * (rng.random((h, w)) < 0.6)
            ids = np.concatenate([[0], rng.choice(10_000, count, replace=False) + 1]).astype(np.uint32)
            owners.append(OwnerMasks(Box(y0, x0, y0 + h, x0 + w), ids, labels.astype(np.uint16)))
        box = Box(0, 0, 32, 40)
        np.testing.assert_array_equal(paint_block(box, owners), _reference_paint(box, owners))


def test_a_first_owner_outside_the_block_does_not_block_the_next():
    outside = OwnerMasks(Box(100, 100, 104, 104), np.array([0, 5], np.uint32), np.ones((4, 4), np.int32))
    inside = OwnerMasks(Box(0, 0, 2, 2), np.array([0, 3], np.uint32), np.ones((2, 2), np.int32))
    block = paint_block(Box(0, 0, 4, 4), [outside, inside])
    assert (block[:2, :2] == 3).all() and block.sum() == 12
