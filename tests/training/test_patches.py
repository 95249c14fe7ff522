"""Padding to a multiple and cutting into non-overlapping patches."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.training.patches import (
    cut_patches,
    pad_to_multiple,
    padded_shape,
    reassemble_patches,
    valid_mask,
)


def test_monuseg_sized_image_gives_16_patches_that_reassemble_to_the_padded_image():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(1000, 1000, 3), dtype=np.uint8)
    padded = pad_to_multiple(image, 1024)
    patches = cut_patches(padded, 256)
    assert padded.shape == (1024, 1024, 3)
    assert patches.shape == (16, 256, 256, 3)
    np.testing.assert_array_equal(reassemble_patches(patches, padded.shape[:2]), padded)


def test_tnbc_sized_image_gives_4_patches():
    assert cut_patches(np.zeros((512, 512), np.int32), 256).shape == (4, 256, 256)


def test_patches_are_ordered_row_by_row():
    array = np.arange(4 * 6).reshape(4, 6)
    patches = cut_patches(array, 2)
    # 2 rows x 3 columns of patches; patch 4 is row 1, column 1 -> rows 2:4, cols 2:4
    np.testing.assert_array_equal(patches[4], [[14, 15], [20, 21]])
    np.testing.assert_array_equal(patches[2], [[4, 5], [10, 11]])


def test_padding_keeps_the_original_pixels_in_place():
    image = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
    padded = pad_to_multiple(image, 4)
    assert padded.shape == (8, 8, 3)
    np.testing.assert_array_equal(padded[:5, :6], image)


def test_reflect_padding_mirrors_the_border_without_repeating_it():
    row = np.array([[1, 2, 3]], dtype=np.uint8).repeat(3, axis=0)
    padded = pad_to_multiple(row, 5, mode="reflect")
    np.testing.assert_array_equal(padded[0], [1, 2, 3, 2, 1])


def test_constant_padding_of_an_instance_map_adds_background():
    instances = np.full((3, 3), 7, dtype=np.int32)
    padded = pad_to_multiple(instances, 4, mode="constant")
    assert padded.dtype == np.int32
    assert padded[3].tolist() == [0, 0, 0, 0] and padded[:, 3].tolist() == [0, 0, 0, 0]
    assert (padded[:3, :3] == 7).all()


def test_no_padding_needed_returns_the_same_values():
    image = np.ones((256, 512, 3), np.uint8)
    assert pad_to_multiple(image, 256).shape == (256, 512, 3)


def test_valid_mask_marks_the_original_pixels():
    mask = valid_mask((1000, 1000, 3), 256)
    assert mask.shape == (1024, 1024)
    assert mask.sum() == 1000 * 1000
    assert mask[999, 999] and not mask[1000, 0] and not mask[0, 1000]


def test_padded_shape_rounds_up_each_side():
    assert padded_shape((1000, 513), 256) == (1024, 768)


def test_cut_rejects_arrays_that_are_not_a_multiple_of_the_size():
    with pytest.raises(ValueError, match="1000"):
        cut_patches(np.zeros((1000, 1000)), 256)


def test_reassemble_rejects_a_wrong_patch_count():
    with pytest.raises(ValueError, match="3 patches"):
        reassemble_patches(np.zeros((3, 2, 2)), (4, 4))


def test_reflect_padding_larger_than_the_image_is_refused():
    with pytest.raises(ValueError, match="constant"):
        pad_to_multiple(np.zeros((10, 10)), 64, mode="reflect")


def test_unknown_pad_mode_is_refused():
    with pytest.raises(ValueError, match="wrap"):
        pad_to_multiple(np.zeros((10, 10)), 16, mode="wrap")
