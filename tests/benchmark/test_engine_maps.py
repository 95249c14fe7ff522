"""The wsinuc engine's probability map rebuilt chunk by chunk, and the untiled oracle."""

from __future__ import annotations

import numpy as np

from wsinuc.benchmark.engine_maps import engine_probabilities, whole_image_probabilities
from wsinuc.tiling import Box, plan_tiles


class _ArraySlide:
    """An in-memory slide (level 0 only)."""

    def __init__(self, pixels: np.ndarray) -> None:
        self.pixels = pixels

    def read_region(self, x, y, w, h, level=0):
        return self.pixels[y : y + h, x : x + w]


class _PixelPredictor:
    """Probability from each pixel alone (no context): tiled and whole predictions must be equal."""

    def __init__(self, maps: int) -> None:
        self.maps = maps
        self.shapes = []

    def predict_image(self, image):
        self.shapes.append(image.shape[:2])
        grey = image.mean(axis=-1, dtype=np.float32) / 255
        return grey if self.maps == 1 else np.stack([grey / 2, grey], axis=-1)


def test_tiled_map_equals_the_whole_image_for_a_context_free_network():
    pixels = np.random.default_rng(0).integers(0, 256, (100, 130, 3), dtype=np.uint8)
    slide, predictor = _ArraySlide(pixels), _PixelPredictor(maps=2)
    plan = plan_tiles((100, 130), 32, 16, stride_multiple=32)
    tiled = engine_probabilities(slide, plan, predictor, (100, 130))
    whole = whole_image_probabilities(slide, Box(0, 0, 100, 130), predictor)
    assert tiled.shape == whole.shape == (100, 130, 2)
    np.testing.assert_array_equal(tiled, whole)
    # each chunk was predicted on its valid box (core + halo, clipped), as the engine does
    assert predictor.shapes[0] == (48, 48) and max(predictor.shapes[:-1]) == (64, 64)


def test_one_map_models_get_a_channel_axis_and_missing_chunks_stay_zero():
    pixels = np.full((64, 64, 3), 255, np.uint8)
    plan = plan_tiles((64, 64), 32, 0, stride_multiple=32)
    tiled = engine_probabilities(_ArraySlide(pixels), plan.tiles[:1], _PixelPredictor(maps=1), (64, 64))
    assert tiled.shape == (64, 64, 1)
    assert tiled[:32, :32].min() == 1.0 and tiled[32:].max() == 0.0
