"""Tests for wsinuc.instances.polygons: outlines trace pixel edges in slide coordinates.

The packed rings are compared with ``reference_polygons`` (the per-object
``find_contours`` + shapely code they replace) object by object.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from scipy import ndimage
from reference_instances import reference_polygons
from skimage.draw import polygon as draw_polygon

from wsinuc.instances import PackedRings, label_polygons, label_rings, rings_to_polygons


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


# --- packed rings: exact agreement with the per-object reference -------------------------------

def _grid(text):
    """Label image from lines of digits ('.' = background)."""
    return np.array([[0 if ch == "." else int(ch) for ch in line] for line in text.split()], dtype=np.int32)


SYNTHETIC = {
    "touching": _grid("""
        ......
        .1122.
        .1122.
        .3333.
        ......"""),
    "hole_and_pocket": _grid("""
        1111111
        1.....1
        1.111.1
        1.1.1.1
        1.111.1
        1.....1
        1111111"""),
    "diagonal_pieces": _grid("""
        11..
        11..
        ..11
        ..1.
        1..."""),
    "same_piece_pinch_pocket": _grid("""
        .....
        .111.
        .1.1.
        ..11.
        ....."""),
    "diagonal_ring_closes_a_hole": _grid("""
        ......
        ..11..
        .1..1.
        .1..1.
        ..11..
        ......"""),
    "checkerboard": _grid("""
        1.1.
        .1.1
        1.1.
        .1.1"""),
    "at_the_border": _grid("""
        12
        34"""),
    "single_pixels_and_lines": _grid("""
        5........
        ..66666..
        .......7.
        .......7.
        8.8.8.8.."""),
    "island_in_a_hole": _grid("""
        11111
        1...1
        1.1.1
        1...1
        11111"""),
    "equal_pieces_tie": _grid("""
        11.11
        .....
        11.11"""),
}


def random_labels(seed, shape=(24, 24)):
    rng = np.random.default_rng(seed)
    if seed % 3 == 0:
        return rng.integers(0, 4, shape).astype(np.int32)
    if seed % 3 == 1:
        return ((rng.random(shape) < 0.6) * rng.integers(1, 3, shape)).astype(np.int32)
    blobs = ndimage.gaussian_filter(rng.random(shape), 1.2)
    return ndimage.label(blobs > np.quantile(blobs, 0.5))[0]


def assert_rings_match_reference(labels, offset=(0.0, 0.0), scale=1.0):
    rings = label_rings(labels, offset=offset, scale=scale)
    reference = reference_polygons(labels, offset=offset, scale=scale)
    assert rings.ids.tolist() == [label_id for label_id, _ in reference]
    polygons = rings_to_polygons(rings)
    assert shapely.is_valid(polygons).all()
    assert shapely.is_ccw(shapely.get_exterior_ring(polygons)).all()
    for index, (_, expected) in enumerate(reference):
        assert polygons[index].equals(expected), index
        assert rings.counts[index] == len(expected.exterior.coords) - 1  # same corners, none collinear
    return rings


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_rings_equal_the_reference_on_awkward_shapes(name):
    assert_rings_match_reference(SYNTHETIC[name])


@pytest.mark.parametrize("seed", range(24))
def test_rings_equal_the_reference_on_random_labels(seed):
    assert_rings_match_reference(random_labels(seed), offset=(3, -2), scale=2.0)


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_each_ring_rasterises_to_a_largest_hole_filled_piece(name):
    labels = SYNTHETIC[name]
    rings = label_rings(labels)
    for index, label_id in enumerate(rings.ids):
        filled = ndimage.binary_fill_holes(labels == label_id)
        pieces, count = ndimage.label(filled)
        sizes = np.bincount(pieces.ravel())[1:]
        inside = rasterise_centres(shapely.Polygon(rings.ring(index)), labels.shape)
        matches = [piece for piece in range(1, count + 1) if np.array_equal(inside, pieces == piece)]
        assert len(matches) == 1 and sizes[matches[0] - 1] == sizes.max()


def test_hole_and_pinch_cases_are_filled_or_split_as_before():
    rings = label_rings(SYNTHETIC["same_piece_pinch_pocket"])
    assert shapely.area(shapely.Polygon(rings.ring(0))) == 8.0  # the diagonal pocket is filled
    rings = label_rings(SYNTHETIC["diagonal_ring_closes_a_hole"])
    assert shapely.area(shapely.Polygon(rings.ring(0))) == 12.0  # the closed hole merges four pieces
    rings = label_rings(SYNTHETIC["diagonal_pieces"])
    np.testing.assert_array_equal(rings.ring(0), [[0, 0], [2, 0], [2, 2], [0, 2]])  # largest piece only


def test_packed_rings_layout():
    rings = label_rings(SYNTHETIC["touching"], offset=(10, 20), scale=0.5)
    assert isinstance(rings, PackedRings)
    assert rings.ids.dtype == np.int64 and rings.starts.dtype == np.int64
    assert rings.coords.dtype == np.float64 and rings.coords.shape[1] == 2
    assert rings.ids.tolist() == [1, 2, 3]
    assert rings.starts[0] == 0 and rings.starts[-1] == rings.coords.shape[0]
    np.testing.assert_array_equal(rings.ring(0), [[5.5, 10.5], [6.5, 10.5], [6.5, 11.5], [5.5, 11.5]])
    for index in range(len(rings)):
        ring = rings.ring(index)
        assert not np.array_equal(ring[0], ring[-1])
        step, back = np.roll(ring, -1, axis=0) - ring, ring - np.roll(ring, 1, axis=0)
        assert np.all(step[:, 0] * back[:, 1] - step[:, 1] * back[:, 0] != 0)  # no collinear vertex


def test_empty_labels_give_empty_rings():
    rings = label_rings(np.zeros((4, 6), dtype=np.uint8))
    assert len(rings) == 0 and rings.starts.tolist() == [0] and rings.coords.shape == (0, 2)
    assert len(label_rings(np.zeros((0, 0), dtype=np.int32))) == 0


def test_label_polygons_wraps_the_rings():
    labels = random_labels(5)
    rings = label_rings(labels)
    result = label_polygons(labels)
    assert [label_id for label_id, _ in result] == rings.ids.tolist()
    assert all(polygon.equals(shapely.Polygon(rings.ring(i))) for i, (_, polygon) in enumerate(result))


def test_simplified_rings_stay_valid_counter_clockwise_and_shrink():
    labels = random_labels(2, shape=(60, 60))
    exact = label_rings(labels)
    simple = label_rings(labels, simplify_tolerance=1.0)
    polygons = rings_to_polygons(simple)
    assert simple.ids.tolist() == exact.ids.tolist()
    assert shapely.is_valid(polygons).all()
    assert shapely.is_ccw(shapely.get_exterior_ring(polygons)).all()
    assert simple.coords.shape[0] < exact.coords.shape[0]
    assert np.all(simple.counts >= 3)


@pytest.mark.data
def test_rings_equal_the_reference_on_monuseg_nuclei(monuseg_root):
    from wsinuc.datasets.monuseg import list_monuseg_ids, load_monuseg_image

    image_id = list_monuseg_ids(monuseg_root, "test")[0]
    labels = load_monuseg_image(monuseg_root, "test", image_id).instances[:300, :300]
    rings = assert_rings_match_reference(labels, offset=(100, 200))
    assert len(rings) > 30
