"""Whole-image maps of a coarser model come back on the image's grid, as the engine resamples them."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.benchmark.level0_maps import image_scale, level0_probabilities


class RedChannel:
    """Maps = red / 255 (and 1 - red / 255 with two channels); records the shapes it was given."""

    def __init__(self, channels: int = 1) -> None:
        self.channels, self.seen = channels, []

    def predict_image(self, image: np.ndarray) -> np.ndarray:
        self.seen.append(image.shape)
        red = image[..., 0].astype(np.float32) / 255
        return red if self.channels == 1 else np.stack([red, 1 - red], axis=-1)


def smooth_image(height: int = 120, width: int = 90) -> np.ndarray:
    rows, cols = np.mgrid[:height, :width]
    red = (127 + 100 * np.sin(rows / 15) * np.cos(cols / 11)).astype(np.uint8)
    return np.stack([red, red, red], axis=-1)


def test_the_card_pixel_size_sets_the_scale():
    assert image_scale({"mpp": 0.5}, 0.25) == 0.5
    assert image_scale({}, 0.25) == 1.0


@pytest.mark.parametrize("channels", [1, 2])
def test_a_half_resolution_model_sees_half_the_pixels_and_answers_on_the_image_grid(channels):
    image, predictor = smooth_image(), RedChannel(channels)
    maps = level0_probabilities(predictor, image, 0.5)
    assert predictor.seen == [(60, 45, 3)]
    assert maps.shape == image.shape[:2] + (() if channels == 1 else (2,)) and maps.dtype == np.float32
    inner = (slice(4, -4), slice(4, -4))
    red = image[..., 0].astype(np.float32) / 255
    first = maps if channels == 1 else maps[..., 0]
    assert np.abs(first[inner] - red[inner]).max() < 0.03


def test_at_scale_one_the_image_is_predicted_as_it_is():
    image, predictor = smooth_image(), RedChannel()
    np.testing.assert_array_equal(level0_probabilities(predictor, image, 1.0), image[..., 0] / np.float32(255))
    assert predictor.seen == [image.shape]
