"""Tests for wsinuc.tiling.plan: cores partition the image, read boxes fit the stride."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.tiling import Box, plan_tiles

AWKWARD_SHAPES = [(100, 173), (257, 31), (20, 50), (64, 64), (65, 129)]


@pytest.mark.parametrize("shape", AWKWARD_SHAPES)
@pytest.mark.parametrize("tile_size", [32, 64, 96])
@pytest.mark.parametrize("halo", [0, 10, 16])
def test_cores_cover_every_pixel_exactly_once(shape, tile_size, halo):
    plan = plan_tiles(shape, tile_size, halo, stride_multiple=32)
    coverage = np.zeros(shape, dtype=int)
    for tile in plan:
        coverage[tile.write] += 1
    assert (coverage == 1).all()
    assert len(plan) == plan.grid_shape[0] * plan.grid_shape[1]


@pytest.mark.parametrize("shape", AWKWARD_SHAPES)
@pytest.mark.parametrize("halo", [0, 7, 16, 33])
def test_every_read_box_has_the_same_stride_multiple_shape(shape, halo):
    plan = plan_tiles(shape, 64, halo, stride_multiple=32)
    for tile in plan:
        assert tile.read_shape == (plan.read_size, plan.read_size)
        assert plan.read_size % 32 == 0
        assert plan.read_size >= 64 + 2 * halo


def test_read_box_grows_core_by_halo_and_pads_bottom_right():
    plan = plan_tiles((100, 173), 64, 10, stride_multiple=32)
    last = plan[len(plan) - 1]
    # 64 + 2 * 10 = 84 -> 96: 10 px before the core, 96 - 74 = 22 after it
    assert plan.read_size == 96
    assert last.index == (1, 2)
    assert last.core_box == Box(64, 128, 100, 173)
    assert last.read_box == Box(54, 118, 150, 214)
    assert last.valid_box == Box(54, 118, 100, 173)
    assert last.halo == 10


def test_slices_move_between_read_valid_core_and_output_frames():
    image = np.arange(100 * 173).reshape(100, 173)
    plan = plan_tiles(image.shape, 64, 16, stride_multiple=32)
    padded = np.pad(image, 200, constant_values=-1)
    for tile in plan:
        read = tile.read_box
        read_block = padded[read.y0 + 200 : read.y1 + 200, read.x0 + 200 : read.x1 + 200]
        valid_block = read_block[tile.valid_crop]
        assert (valid_block >= 0).all()
        np.testing.assert_array_equal(valid_block, image[tile.valid_box.slices])
        np.testing.assert_array_equal(read_block[tile.crop], image[tile.write])
        np.testing.assert_array_equal(valid_block[tile.core_in_valid], image[tile.write])


def test_image_smaller_than_one_tile_gives_one_tile():
    plan = plan_tiles((20, 30), 64, 16)
    assert len(plan) == 1
    tile = plan[0]
    assert tile.core_box == Box(0, 0, 20, 30)
    assert tile.valid_box == Box(0, 0, 20, 30)
    assert tile.read_box == Box(-16, -16, 80, 80)


def test_tiles_are_row_major_and_frozen():
    plan = plan_tiles((100, 173), 64, 16)
    assert [tile.index for tile in plan] == [(r, c) for r in range(2) for c in range(3)]
    with pytest.raises(AttributeError):
        plan[0].core_box = Box(0, 0, 1, 1)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("args", "kwargs", "needle"),
    [
        (((100, 100), 50, 8), {}, "tile_size"),
        (((100, 100), 0, 8), {}, "tile_size"),
        (((100, 100), 64, -1), {}, "halo"),
        (((100, 100), 64, 8), {"stride_multiple": 0}, "stride_multiple"),
        (((0, 100), 64, 8), {}, "shape"),
        (((100,), 64, 8), {}, "shape"),
        (((100.5, 100), 64, 8), {}, "shape"),
    ],
)
def test_invalid_arguments_raise_value_error_naming_the_parameter(args, kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        plan_tiles(*args, **kwargs)
