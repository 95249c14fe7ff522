"""Tests for wsinuc.instances.polygons: outlines trace pixel edges in slide coordinates."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy import ndimage
from skimage.draw import polygon as draw_polygon

from wsinuc.instances import label_polygons


def rasterise_centres(polygon, shape, offset=(0.0, 0.0), scale=1.0):
    """Pixels whose centre (c + 0.5, r + 0.5), mapped like the polygon, lies inside it."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    x = (cols + 0.5 + offset[0]) * scale
    y = (rows + 0.5 + offset[1]) * scale
    return shapely.contains_xy(polygon, x, y)


def disk_labels(shape=(20, 20), centre=(10, 10), radius=6, label=1):
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    disk = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2
    return np.where(disk, label, 0).astype(np.int32)


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def test_disk_polygon_rasterises_back_to_the_mask():
    labels = disk_labels()
    [(label_id, polygon)] = label_polygons(labels)
    assert label_id == 1
    assert polygon.is_valid
    assert polygon.exterior.is_closed
    recovered = rasterise_centres(polygon, labels.shape)
    assert iou(recovered, labels > 0) > 0.9
    np.testing.assert_array_equal(recovered, labels > 0)
    assert polygon.area == pytest.approx((labels > 0).sum())


def test_skimage_draw_on_half_pixel_shifted_vertices_recovers_the_mask():
    labels = disk_labels(radius=5)
    [(_, polygon)] = label_polygons(labels)
    x, y = np.asarray(polygon.exterior.coords).T
    rows, cols = draw_polygon(y - 0.5, x - 0.5, shape=labels.shape)
    drawn = np.zeros(labels.shape, dtype=bool)
    drawn[rows, cols] = True
    assert iou(drawn, labels > 0) > 0.9


def test_single_pixel_with_offset_and_scale():
    labels = np.zeros((5, 5), dtype=np.int32)
    labels[2, 3] = 4
    [(label_id, polygon)] = label_polygons(labels, offset=(10, 20), scale=2.0)
    assert label_id == 4
    # pixel-edge x in [3, 4], y in [2, 3]; +offset, *2
    assert polygon.bounds == (26.0, 44.0, 28.0, 46.0)
    assert polygon.area == pytest.approx(4.0)


def test_polygons_come_in_id_order_and_keep_large_sparse_ids():
    labels = np.zeros((10, 10), dtype=np.int64)
    labels[1:4, 1:4] = 10**12
    labels[6:9, 6:9] = 5
    result = label_polygons(labels)
    assert [label_id for label_id, _ in result] == [5, 10**12]


def test_holes_are_filled_and_exterior_is_counter_clockwise():
    labels = np.zeros((9, 9), dtype=np.int32)
    labels[1:8, 1:8] = 1
    labels[4, 4] = 0
    [(_, polygon)] = label_polygons(labels)
    assert len(polygon.interiors) == 0
    assert polygon.area == pytest.approx(49.0)
    assert polygon.exterior.is_ccw


def test_object_in_two_pieces_keeps_the_larger_piece():
    labels = np.zeros((10, 12), dtype=np.int32)
    labels[1:3, 1:3] = 1
    labels[5:9, 5:10] = 1
    [(_, polygon)] = label_polygons(labels)
    assert polygon.area == pytest.approx(20.0)
    assert polygon.bounds == (5.0, 5.0, 10.0, 9.0)


def test_random_shapes_rasterise_back_exactly():
    rng = np.random.default_rng(1)
    blobs = ndimage.gaussian_filter(rng.random((40, 40)), 1.5)
    labels, count = ndimage.label(blobs > np.quantile(blobs, 0.6))
    polygons = label_polygons(labels)
    assert len(polygons) == count
    for label_id, polygon in polygons:
        assert polygon.is_valid
        expected = ndimage.binary_fill_holes(labels == label_id)
        np.testing.assert_array_equal(rasterise_centres(polygon, labels.shape), expected)


def test_simplification_reduces_vertices_and_stays_valid():
    labels = disk_labels(shape=(40, 40), centre=(20, 20), radius=15)
    [(_, exact)] = label_polygons(labels)
    [(_, simple)] = label_polygons(labels, simplify_tolerance=1.0)
    assert len(simple.exterior.coords) < len(exact.exterior.coords)
    assert simple.is_valid
    assert simple.area == pytest.approx(exact.area, rel=0.05)


def test_empty_labels_give_no_polygons():
    assert label_polygons(np.zeros((5, 5), dtype=np.int32)) == []


@pytest.mark.parametrize(
    ("labels", "kwargs", "needle"),
    [
        (np.zeros((5, 5), dtype=float), {}, "integer"),
        (np.zeros((5, 5, 2), dtype=int), {}, "2-D"),
        (np.zeros((5, 5), dtype=int), {"scale": 0}, "scale"),
        (np.zeros((5, 5), dtype=int), {"offset": (1,)}, "offset"),
        (np.zeros((5, 5), dtype=int), {"simplify_tolerance": -1}, "simplify_tolerance"),
    ],
)
def test_invalid_inputs_raise(labels, kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        label_polygons(labels, **kwargs)
