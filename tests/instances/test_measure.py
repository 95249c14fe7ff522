"""Tests for wsinuc.instances.measure: hand-computed expectations and skimage's regionprops.

``reference_measurements`` is the regionprops_table code the vectorised
table replaces; every column must agree with it (tolerances in TOLERANCE).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from reference_instances import reference_measurements
from scipy import ndimage

from wsinuc.instances import MEASUREMENT_COLUMNS, label_rings, measure_nuclei


def square_labels():
    labels = np.zeros((20, 20), dtype=np.int32)
    labels[2:12, 3:13] = 7
    return labels


def white(shape):
    return np.full((*shape, 3), 255, dtype=np.uint8)


def test_square_area_and_perimeter_in_microns():
    table = measure_nuclei(square_labels(), white((20, 20)), mpp=0.5)
    assert table["id"].tolist() == [7]
    # 100 px * 0.25 um2/px
    assert table["area_um2"][0] == pytest.approx(25.0)
    # pixel-edge perimeter 40 px = 20 um; a boundary-pixel estimate is a bit shorter
    assert 15.0 <= table["perimeter_um"][0] <= 20.0
    assert table["solidity"][0] == pytest.approx(1.0)
    assert table["eccentricity"][0] == pytest.approx(0.0, abs=1e-9)


def test_white_image_has_zero_stain_density():
    table = measure_nuclei(square_labels(), white((20, 20)), mpp=0.5)
    assert table["mean_hematoxylin_od"][0] == pytest.approx(0.0, abs=1e-9)
    assert table["mean_eosin_od"][0] == pytest.approx(0.0, abs=1e-9)
    assert table["mean_red"][0] == pytest.approx(255.0)


def test_pure_hematoxylin_colour_reads_as_unit_optical_density():
    # OD vector of hematoxylin (Ruifrok): (0.65, 0.70, 0.29); I = 255 * 10 ** -OD
    colour = np.round(255 * 10 ** -np.array([0.65, 0.70, 0.29])).astype(np.uint8)
    image = np.broadcast_to(colour, (20, 20, 3)).copy()
    table = measure_nuclei(square_labels(), image, mpp=0.5)
    assert table["mean_hematoxylin_od"][0] == pytest.approx(1.0, abs=0.05)
    assert table["mean_eosin_od"][0] == pytest.approx(0.0, abs=0.05)
    assert table["mean_blue"][0] == pytest.approx(float(colour[2]))


def test_centroid_uses_pixel_centres_offset_and_scale():
    table = measure_nuclei(square_labels(), white((20, 20)), mpp=0.5, offset=(100, 40), scale=4.0)
    # columns 3..12 -> mean 7.5, centre 8.0; rows 2..11 -> mean 6.5, centre 7.0
    assert table["centroid_x"][0] == pytest.approx((8.0 + 100) * 4.0)
    assert table["centroid_y"][0] == pytest.approx((7.0 + 40) * 4.0)


def test_orientation_and_axes_of_bars():
    labels = np.zeros((30, 30), dtype=np.int32)
    labels[2:22, 2:5] = 1  # vertical bar: major axis along rows
    labels[25:28, 5:25] = 2  # horizontal bar
    table = measure_nuclei(labels, white((30, 30)), mpp=1.0)
    assert table["orientation"][0] == pytest.approx(0.0, abs=1e-6)
    assert abs(table["orientation"][1]) == pytest.approx(math.pi / 2, abs=1e-6)
    assert table["eccentricity"][0] > 0.9
    assert table["major_axis_length_um"][0] > 3 * table["minor_axis_length_um"][0]


def test_every_column_is_present_and_empty_labels_give_empty_columns():
    table = measure_nuclei(np.zeros((8, 8), dtype=np.int32), white((8, 8)), mpp=0.25)
    assert tuple(table) == MEASUREMENT_COLUMNS
    assert all(column.size == 0 for column in table.values())
    assert table["id"].dtype == np.int64


@pytest.mark.parametrize(
    ("image", "kwargs", "needle"),
    [
        (np.zeros((20, 20, 3), dtype=float), {"mpp": 0.5}, "uint8"),
        (np.zeros((20, 21, 3), dtype=np.uint8), {"mpp": 0.5}, "shape"),
        (np.zeros((20, 20, 3), dtype=np.uint8), {"mpp": 0.0}, "mpp"),
        (np.zeros((20, 20, 3), dtype=np.uint8), {"mpp": 0.5, "scale": -1}, "scale"),
    ],
)
def test_invalid_inputs_raise(image, kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        measure_nuclei(square_labels(), image, **kwargs)


# --- vectorised table against skimage's regionprops (the old code) -----------------------------

# absolute tolerance per column against the float64 regionprops oracle
TOLERANCE = {name: 1e-9 for name in MEASUREMENT_COLUMNS if name != "id"}


def random_case(seed, shape=(40, 44)):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    if seed % 2:
        labels = rng.integers(0, 6, shape)  # ragged objects in many pieces
    else:
        blobs = ndimage.gaussian_filter(rng.random(shape), 1.5)
        labels = ndimage.label(blobs > np.quantile(blobs, 0.5))[0]
    return labels, image


def assert_matches_regionprops(table, expected):
    np.testing.assert_array_equal(table["id"], expected["id"])
    for name, tolerance in TOLERANCE.items():
        if name == "orientation":
            # +pi/2 and -pi/2 name the same axis; skimage's sign there follows float noise
            difference = np.abs(table[name] - expected[name])
            assert np.all(np.minimum(difference, np.abs(difference - math.pi)) <= tolerance), name
        else:
            np.testing.assert_allclose(table[name], expected[name], rtol=0, atol=tolerance, err_msg=name)


@pytest.mark.parametrize("seed", range(12))
def test_random_labels_match_regionprops(seed):
    labels, image = random_case(seed)
    kwargs = {"mpp": 0.3, "offset": (5, -7), "scale": 2.0}
    assert_matches_regionprops(measure_nuclei(labels, image, **kwargs), reference_measurements(labels, image, **kwargs))


@pytest.mark.parametrize("seed", range(6))
def test_precomputed_rings_give_the_same_table(seed):
    labels, image = random_case(seed)
    rings = label_rings(labels, offset=(5, -7), scale=2.0)
    with_rings = measure_nuclei(labels, image, mpp=0.3, offset=(5, -7), scale=2.0, rings=rings)
    without = measure_nuclei(labels, image, mpp=0.3, offset=(5, -7), scale=2.0)
    for name in MEASUREMENT_COLUMNS:
        np.testing.assert_array_equal(with_rings[name], without[name], err_msg=name)


def test_old_float32_table_agrees_to_float32_rounding():
    labels, image = random_case(4)
    table = measure_nuclei(labels, image, mpp=0.5)
    old = reference_measurements(labels, image, mpp=0.5, dtype=np.float32)
    for name in ("mean_hematoxylin_od", "mean_eosin_od", "mean_red", "mean_green", "mean_blue"):
        np.testing.assert_allclose(table[name], old[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_hull_counts_pixel_centres_like_skimage_on_a_diamond_and_an_l_shape():
    labels = np.zeros((12, 12), dtype=np.int32)
    rows, cols = np.mgrid[:12, :12]
    labels[np.abs(rows - 5) + np.abs(cols - 5) <= 3] = 1
    labels[8:11, 0:2] = 2
    labels[10, 2:6] = 2
    table = measure_nuclei(labels, white((12, 12)), mpp=1.0)
    np.testing.assert_allclose(table["solidity"], reference_measurements(labels, white((12, 12)), mpp=1.0)["solidity"])
    assert table["solidity"][0] == pytest.approx(1.0)
    assert table["solidity"][1] < 1.0


def test_rings_from_another_transform_are_refused():
    labels = square_labels()
    rings = label_rings(labels, offset=(1.5, 0))
    with pytest.raises(ValueError, match="offset and scale"):
        measure_nuclei(labels, white((20, 20)), mpp=0.5, rings=rings)
    with pytest.raises(ValueError, match="same ids"):
        measure_nuclei(labels, white((20, 20)), mpp=0.5, rings=label_rings(labels * 2))


@pytest.mark.data
def test_monuseg_nuclei_match_regionprops(monuseg_root):
    from wsinuc.datasets.monuseg import list_monuseg_ids, load_monuseg_image

    sample = load_monuseg_image(monuseg_root, "test", list_monuseg_ids(monuseg_root, "test")[1])
    labels, image = sample.instances[:400, :400], sample.image[:400, :400]
    table = measure_nuclei(labels, image, mpp=0.25, offset=(1000, 2000))
    assert table["id"].size > 50
    assert_matches_regionprops(table, reference_measurements(labels, image, mpp=0.25, offset=(1000, 2000)))
