"""Tests for wsinuc.instances.measure with hand-computed expectations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wsinuc.instances import MEASUREMENT_COLUMNS, measure_nuclei


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
