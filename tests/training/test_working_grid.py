"""Training images and instance masks resampled to the working pixel size."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from wsinuc.training.working_grid import (
    downsample_image,
    downsample_labels,
    scale_factor,
    to_working_grid,
)


def test_integer_factors_average_exact_blocks():
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    out = downsample_image(image, 2.0)
    assert out.shape == (2, 3, 3)
    assert out[1, 2, 0] == round(image[2:4, 4:6, 0].mean())


def test_non_integer_factors_keep_the_mean_colour():
    image = np.random.default_rng(0).integers(0, 256, (30, 45, 3)).astype(np.uint8)
    out = downsample_image(image, 1.5)
    assert out.shape == (20, 30, 3)
    assert np.abs(out.mean(axis=(0, 1)) - image.mean(axis=(0, 1))).max() < 1.0


def test_labels_take_the_block_mode_and_invent_nothing():
    labels = np.array([[1, 1, 0, 2], [1, 3, 2, 2]], np.int32)
    assert downsample_labels(labels, 2.0).tolist() == [[1, 2]]
    random = np.random.default_rng(1).integers(0, 5, (31, 29)).astype(np.int64)
    for factor in (2.0, 3.0, 1.7):
        out = downsample_labels(random, factor)
        assert out.shape == downsample_image(np.zeros((31, 29, 3), np.uint8), factor).shape[:2]
        assert set(np.unique(out)) <= set(np.unique(random))


def test_a_nucleus_keeps_its_id_and_a_quarter_of_its_area_at_half_resolution():
    labels = np.zeros((40, 40), np.int32)
    labels[8:20, 8:20], labels[20:30, 24:34] = 7, 9
    out = downsample_labels(labels, 2.0)
    assert (out == 7).sum() == 36 and (out == 9).sum() == 25


def test_to_working_grid_downsamples_both_and_refuses_upsampling():
    sample = SimpleNamespace(image_id="x", image=np.zeros((8, 8, 3), np.uint8),
                             instances=np.ones((8, 8), np.int32))
    half = to_working_grid(sample, 0.25, 0.5)
    assert half.image.shape == (4, 4, 3) and half.instances.shape == (4, 4) and half.image_id == "x"
    assert to_working_grid(sample, 0.25, 0.252) is sample
    with pytest.raises(ValueError, match="finer"):
        to_working_grid(sample, 0.5, 0.25)
    assert scale_factor(0.25, 0.5) == 2.0
