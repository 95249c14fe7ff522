"""Tests for the private fast paths of the watershed: filters, mosaic packing, h-maxima from basins."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import h_maxima

from wsinuc.instances._dynamics import basin_edges, h_maxima_nodes, steepest_ascent_roots
from wsinuc.instances._fastmorph import exact_values, has_cv2, maximum3, squared_edt
from wsinuc.instances._mosaic import build_mosaic, object_boxes, object_pixels
from wsinuc.instances._split import _spans_an_axis

EIGHT = ndimage.generate_binary_structure(2, 2)
ROUTES = [False, True] if has_cv2() else [False]


def bordered_blobs(seed, shape=(60, 80)):
    rng = np.random.default_rng(seed)
    mask = ndimage.uniform_filter(rng.random(shape), 7) > 0.5
    mask[0], mask[-1], mask[:, 0], mask[:, -1] = False, False, False, False
    return mask


@pytest.mark.parametrize("use_cv2", ROUTES)
def test_edt_routes_give_scipy_distances(use_cv2):
    for seed in range(3):
        mask = bordered_blobs(seed)
        squared = squared_edt(mask, use_cv2)
        assert squared.dtype == np.float32
        np.testing.assert_array_equal(squared, np.round(squared))
        np.testing.assert_array_equal(exact_values(squared), ndimage.distance_transform_edt(mask))


@pytest.mark.parametrize("use_cv2", ROUTES)
def test_maximum3_routes_agree_with_scipy(use_cv2):
    image = np.random.default_rng(0).random((30, 41)).astype(np.float32)
    expected = ndimage.maximum_filter(image, size=3, mode="constant", cval=0.0)
    np.testing.assert_array_equal(maximum3(image, use_cv2), expected)


def test_mosaic_round_trips_and_keeps_objects_two_pixels_apart():
    labels, count = ndimage.label(bordered_blobs(5))
    boxes = object_boxes(labels, count)
    rows, cols, ids = object_pixels(labels)
    mosaic = build_mosaic(rows, cols, ids, boxes + np.array([-1, 1, -1, 1]))
    canvas = mosaic.scatter(ids, 0)
    assert canvas.size <= labels.size * 2
    np.testing.assert_array_equal(mosaic.gather(canvas), ids)
    grown = ndimage.grey_dilation(canvas, size=(3, 3))
    np.testing.assert_array_equal(grown[canvas > 0], canvas[canvas > 0])  # no object touches another


def graph_h_maxima(image, h):
    """h-maxima of ``image`` (values > 0) from the basin graph of :mod:`wsinuc.instances._dynamics`."""
    padded = np.pad(image.astype(np.float32), 1)
    flat = padded.reshape(-1)
    groups, count = ndimage.label((maximum3(padded, False) == padded) & (padded > 0), structure=EIGHT)
    heights = np.zeros(count + 1)
    heights[groups[groups > 0]] = padded[groups > 0]
    index = np.flatnonzero(flat > 0)
    roots = steepest_ascent_roots(index, flat, padded.shape[1])
    basins = np.zeros(flat.size, dtype=np.int64)
    basins[index] = groups.reshape(-1)[roots]
    first, second, weight = basin_edges(index, basins, flat, padded.shape[1])
    keep = h_maxima_nodes(heights, first, second, weight.astype(np.float64), h)
    return keep[groups][1:-1, 1:-1]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("h", [0.5, 1.0, 2.0])
def test_basin_graph_h_maxima_equal_skimage_h_maxima(seed, h):
    rng = np.random.default_rng(seed)
    image = ndimage.gaussian_filter(rng.random((40, 50)), 2) * 40
    image = np.round(image * 4) / 4 + 3.0  # plateaus; every value above h
    expected = h_maxima(image, h).astype(bool)
    np.testing.assert_array_equal(graph_h_maxima(image, h), expected)


def test_a_part_touching_two_opposite_edges_is_detected():
    boxes = np.array([[0, 16, 4, 66], [3, 9, 0, 5]])
    assert _spans_an_axis(boxes, (16, 70))
    assert not _spans_an_axis(boxes, (17, 70))
    assert _spans_an_axis(np.array([[2, 5, 0, 70]]), (16, 70))
