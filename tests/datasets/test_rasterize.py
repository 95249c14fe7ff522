"""rasterize_polygons: the MoNuSeg (MATLAB poly2mask) pixel rule, overlaps, ids, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from wsinuc.datasets import rasterize_polygons


def rectangle(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)


def snapped(v: float) -> float:
    """Vertex coordinate snapped to the 1/5-pixel grid (round(5v - 1.5), halves away from 0)."""
    scaled = 5 * v - 1.5
    return (np.sign(scaled) * np.floor(abs(scaled) + 0.5) + 1.5) / 5


def test_integer_rectangle_covers_columns_x0_to_x1_minus_1():
    labels = rasterize_polygons([rectangle(10, 10, 20, 15)], (30, 30))
    expected = np.zeros((30, 30), dtype=np.int32)
    expected[10:15, 10:20] = 1
    np.testing.assert_array_equal(labels, expected)
    assert (labels == 1).sum() == 10 * 5


def test_half_integer_rectangle_covers_pixels_whose_one_based_centres_are_inside():
    # 1-based centres 3, 4, 5 lie strictly inside [2.5, 5.5] -> 0-based 2..4.
    labels = rasterize_polygons([rectangle(2.5, 2.5, 5.5, 5.5)], (8, 8))
    expected = np.zeros((8, 8), dtype=np.int32)
    expected[2:5, 2:5] = 1
    np.testing.assert_array_equal(labels, expected)


def test_coordinates_are_one_based_so_a_square_around_1_1_marks_pixel_0_0():
    labels = rasterize_polygons([rectangle(0.6, 0.6, 1.4, 1.4)], (4, 4))
    assert labels[0, 0] == 1
    assert (labels > 0).sum() == 1


@pytest.mark.parametrize(
    "box", [(3.3, 2.05, 11.7, 9.9), (0.9, 1.1, 6.2, 4.8), (4.4, 4.6, 9.35, 12.15)]
)
def test_axis_aligned_rectangle_follows_centre_rule_with_snapped_vertices(box):
    x0, y0, x1, y1 = box
    labels = rasterize_polygons([rectangle(*box)], (16, 16))
    centres = np.arange(16) + 1  # 1-based pixel centres
    cols = (centres > snapped(x0)) & (centres < snapped(x1))
    rows = (centres > snapped(y0)) & (centres < snapped(y1))
    np.testing.assert_array_equal(labels > 0, rows[:, None] & cols[None, :])


def test_overlapping_polygons_first_one_keeps_shared_pixels():
    first = rectangle(0, 0, 6, 4)  # columns 0..5, rows 0..3
    second = rectangle(3, 2, 9, 7)  # columns 3..8, rows 2..6; shares 3x2 pixels
    labels = rasterize_polygons([first, second], (10, 10))
    assert (labels == 1).sum() == 6 * 4
    assert (labels == 2).sum() == 6 * 5 - 3 * 2
    assert np.all(labels[2:4, 3:6] == 1)


def test_ids_are_consecutive_skipping_polygons_that_draw_nothing():
    big = rectangle(0, 0, 10, 10)
    hidden = rectangle(2, 2, 4, 4)  # entirely under the first polygon
    line = np.array([[1.0, 1.0], [8.0, 8.0]])  # fewer than 3 vertices
    sliver = rectangle(12.2, 1, 12.8, 9)  # no pixel centre column inside
    last = rectangle(14, 0, 16, 2)
    labels = rasterize_polygons([big, hidden, line, sliver, last], (20, 20))
    assert sorted(np.unique(labels)) == [0, 1, 2]
    assert (labels == 2).sum() == 4
    assert labels.dtype == np.int32


def test_polygon_partly_outside_is_clipped():
    labels = rasterize_polygons([rectangle(-3, -3, 2, 2), rectangle(7, 7, 20, 20)], (9, 9))
    assert (labels == 1).sum() == 2 * 2
    assert (labels == 2).sum() == 2 * 2


def test_polygon_fully_outside_draws_nothing():
    labels = rasterize_polygons([rectangle(30, 30, 40, 40)], (10, 10))
    assert not labels.any()


def test_vertex_order_and_explicit_closing_do_not_matter():
    rng = np.random.default_rng(1)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
    radius = rng.uniform(3, 8, 9)
    ring = np.stack([15 + radius * np.cos(angles), 15 + radius * np.sin(angles)], axis=1)
    reference = rasterize_polygons([ring], (30, 30))
    reversed_ring = rasterize_polygons([ring[::-1]], (30, 30))
    closed_ring = rasterize_polygons([np.vstack([ring, ring[:1]])], (30, 30))
    assert reference.sum() > 0
    np.testing.assert_array_equal(reference, reversed_ring)
    np.testing.assert_array_equal(reference, closed_ring)


def test_no_polygons_gives_background():
    labels = rasterize_polygons([], (5, 7))
    assert labels.shape == (5, 7) and labels.dtype == np.int32 and not labels.any()


@pytest.mark.parametrize("shape", [(0, 5), (5,), (4.5, 3), (-1, 3)])
def test_bad_shape_is_rejected(shape):
    with pytest.raises(ValueError, match="shape"):
        rasterize_polygons([rectangle(0, 0, 2, 2)], shape)


@pytest.mark.parametrize(
    "vertices", [np.zeros((4, 3)), np.array([[0.0, 0.0], [np.nan, 1.0], [2.0, 2.0]])]
)
def test_bad_vertices_are_rejected(vertices):
    with pytest.raises(ValueError, match="polygon 0"):
        rasterize_polygons([vertices], (10, 10))


def test_seven_hundred_polygons_rasterise_in_well_under_a_second():
    rng = np.random.default_rng(0)
    angles = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    centres = rng.uniform(10, 990, (700, 2))
    radii = rng.uniform(4, 12, (700, 1))
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    polygons = [c + r * circle for c, r in zip(centres, radii, strict=True)]
    rasterize_polygons(polygons[:10], (1000, 1000))
    start = time.perf_counter()
    labels = rasterize_polygons(polygons, (1000, 1000))
    elapsed = time.perf_counter() - start
    assert labels.max() > 600
    assert elapsed < 1.0, f"took {elapsed:.2f} s"
