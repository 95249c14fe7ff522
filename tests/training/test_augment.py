"""Augmentation keeps image and targets aligned and colour changes the image only."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.color import hed2rgb, rgb2hed

from wsinuc.training.augment import (
    NO_AUGMENTATION,
    AugmentConfig,
    augment_sample,
    brightness_contrast_jitter,
    dihedral,
    hed_jitter,
)

SIZE = 8


def _marked_sample() -> tuple[np.ndarray, np.ndarray]:
    """Image whose red channel and mask both mark pixel (1, 2) only."""
    image = np.zeros((SIZE, SIZE, 3), np.uint8)
    image[1, 2, 0] = 255
    mask = np.zeros((SIZE, SIZE), np.int32)
    mask[1, 2] = 5
    return image, mask


@pytest.mark.parametrize(
    ("rotations", "flip", "expected"),
    [
        (0, False, (1, 2)),
        (0, True, (1, SIZE - 1 - 2)),
        # one counter-clockwise quarter turn: (r, c) -> (W - 1 - c, r)
        (1, False, (SIZE - 1 - 2, 1)),
        (2, False, (SIZE - 1 - 1, SIZE - 1 - 2)),
        (3, False, (2, SIZE - 1 - 1)),
        (1, True, (SIZE - 1 - 2, SIZE - 1 - 1)),
    ],
)
def test_dihedral_moves_a_marker_pixel_where_expected(rotations, flip, expected):
    _, mask = _marked_sample()
    out = dihedral(mask, rotations, flip)
    assert tuple(np.argwhere(out)[0]) == expected


def test_random_geometry_keeps_image_and_all_targets_aligned():
    image, mask = _marked_sample()
    weights = (mask > 0).astype(np.float32) * 0.5
    geometry_only = AugmentConfig(hed_sigma=0, hed_bias=0, brightness=0, contrast=0)
    seen = set()
    for seed in range(64):
        out_image, (out_mask, out_weights) = augment_sample(
            image, [mask, weights], np.random.default_rng(seed), geometry_only
        )
        marker = tuple(np.argwhere(out_image[..., 0])[0])
        assert tuple(np.argwhere(out_mask)[0]) == marker
        assert tuple(np.argwhere(out_weights)[0]) == marker
        assert out_mask[marker] == 5 and out_weights[marker] == 0.5
        seen.add(marker)
    assert len(seen) == 8  # all 8 symmetries of the square are drawn


def test_colour_jitter_changes_the_image_but_not_the_mask():
    rng = np.random.default_rng(1)
    image = rng.integers(60, 200, size=(16, 16, 3), dtype=np.uint8)
    mask = rng.integers(0, 3, size=(16, 16)).astype(np.int32)
    colour_only = AugmentConfig(flip_rotate=False, hed_sigma=0.2, hed_bias=0.02)
    out_image, (out_mask,) = augment_sample(image, [mask], np.random.default_rng(2), colour_only)
    np.testing.assert_array_equal(out_mask, mask)
    assert out_image.dtype == np.uint8 and out_image.shape == image.shape
    assert np.abs(out_image.astype(int) - image).mean() > 1.0


def test_same_generator_state_gives_the_same_result():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    first = augment_sample(image, [], np.random.default_rng(7))[0]
    second = augment_sample(image, [], np.random.default_rng(7))[0]
    np.testing.assert_array_equal(first, second)


def test_no_augmentation_returns_the_input_values():
    image, mask = _marked_sample()
    rng = np.random.default_rng(0)
    out_image, (out_mask,) = augment_sample(image, [mask], rng, NO_AUGMENTATION)
    np.testing.assert_array_equal(out_image, image)
    np.testing.assert_array_equal(out_mask, mask)


def test_hed_jitter_with_zero_strength_is_identity():
    image = np.random.default_rng(4).integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    np.testing.assert_array_equal(hed_jitter(image, np.random.default_rng(0), 0.0, 0.0), image)


def test_brightness_shift_moves_a_flat_image_by_the_drawn_amount():
    image = np.full((4, 4, 3), 100, np.uint8)
    rng = np.random.default_rng(5)
    out = brightness_contrast_jitter(image, rng, brightness=0.1, contrast=0.0)
    expected_rng = np.random.default_rng(5)
    expected_rng.uniform(1.0, 1.0)
    shift = expected_rng.uniform(-0.1, 0.1) * 255.0
    assert (out == np.uint8(np.rint(100 + shift))).all()


def test_non_rgb_image_is_refused():
    with pytest.raises(ValueError, match="uint8 RGB"):
        augment_sample(np.zeros((4, 4), np.uint8), [], np.random.default_rng(0))


def test_targets_of_another_size_are_refused():
    with pytest.raises(ValueError, match="share"):
        augment_sample(np.zeros((4, 4, 3), np.uint8), [np.zeros((3, 3))], np.random.default_rng(0))


def test_out_of_range_strength_is_refused():
    with pytest.raises(ValueError, match="hed_sigma"):
        AugmentConfig(hed_sigma=1.5)


def test_hed_jitter_matches_skimage_colour_deconvolution():
    image = np.random.default_rng(6).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    out = hed_jitter(image, np.random.default_rng(8), sigma=0.1, bias=0.01)
    rng = np.random.default_rng(8)
    scale, shift = rng.uniform(0.9, 1.1, size=3), rng.uniform(-0.01, 0.01, size=3)
    expected = np.rint(hed2rgb(rgb2hed(image) * scale + shift) * 255.0)
    assert np.abs(out.astype(int) - expected).max() <= 1
