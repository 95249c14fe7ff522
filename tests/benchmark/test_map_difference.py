"""Pixel-wise difference of two probability maps, placed against the chunk grid."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.benchmark.map_difference import border_distance, map_difference


def test_border_distance_is_zero_on_the_grid_lines_and_box_edges():
    distance = border_distance((8, 8), chunk_size=4)
    assert distance[0].tolist() == [0] * 8
    assert distance[1].tolist() == [0, 1, 1, 0, 0, 1, 1, 0]
    assert distance.max() == 1


def test_differences_are_counted_by_distance_to_a_chunk_border():
    first = np.zeros((64, 64, 2), np.float32)
    second = first.copy()
    second[32, 10, 1] = 0.75   # on the chunk line at row 32: class differs
    second[16, 16, 0] = 0.01   # 15 px from any border: above tolerance, same class
    diff = map_difference(first, second, chunk_size=32)
    assert diff["pixels"] == 64 * 64 and diff["max_abs_difference"] == 0.75
    assert diff["class_differs_pixels"] == 1 and diff["class_differs_fraction"] == pytest.approx(1 / 4096)
    bands = diff["differs_by_border_distance"]
    assert bands["0-2px"]["differing"] == 1 and bands["0-2px"]["class_differs"] == 1
    assert bands["8-32px"]["differing"] == 1 and bands["8-32px"]["max_abs_difference"] == pytest.approx(0.01)
    assert sum(band["pixels"] for band in bands.values()) == 64 * 64


def test_only_computed_pixels_are_compared():
    first, second = np.zeros((32, 32, 1), np.float32), np.ones((32, 32, 1), np.float32)
    computed = np.zeros((32, 32), bool)
    computed[:4] = True
    diff = map_difference(first, second, 32, computed)
    assert diff["pixels"] == 128 and diff["class_differs_pixels"] == 128


def test_maps_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match="one \\(H, W, C\\) shape"):
        map_difference(np.zeros((8, 8, 1)), np.zeros((8, 8, 2)), 4)
