"""Tests for wsinuc.tiling.select: keep tiles whose core touches tissue."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.tiling import plan_tiles, select_tiles


def test_single_tissue_pixel_selects_the_tile_whose_core_it_covers():
    plan = plan_tiles((100, 173), 64, 16)
    mask = np.zeros((4, 6), dtype=bool)
    mask[0, 5] = True  # working rows 0..32, cols 160..192 -> core of tile (0, 2)
    selected = select_tiles(plan, mask, 32)
    assert [tile.index for tile in selected] == [(0, 2)]


def test_empty_mask_selects_nothing_and_full_mask_selects_all():
    plan = plan_tiles((100, 173), 64, 16)
    assert select_tiles(plan, np.zeros((10, 18), dtype=bool), 10.0) == []
    assert len(select_tiles(plan, np.ones((10, 18), dtype=np.uint8), 10.0)) == len(plan)


def test_fractional_downsample_maps_mask_pixels_to_working_pixels():
    plan = plan_tiles((128, 128), 64, 0)
    mask = np.zeros((52, 52), dtype=bool)
    mask[26, 25] = True  # rows 65..67.5, cols 62.5..65: cores (1, 0) and (1, 1)
    selected = select_tiles(plan, mask, 2.5)
    assert [tile.index for tile in selected] == [(1, 0), (1, 1)]


@pytest.mark.parametrize("downsample", [0, -2.0, float("nan"), "32"])
def test_bad_downsample_raises(downsample):
    plan = plan_tiles((64, 64), 64, 0)
    with pytest.raises(ValueError, match="mask_downsample"):
        select_tiles(plan, np.ones((2, 2), dtype=bool), downsample)


def test_mask_must_be_2d():
    plan = plan_tiles((64, 64), 64, 0)
    with pytest.raises(ValueError, match="2-D"):
        select_tiles(plan, np.ones((2, 2, 3), dtype=bool), 32)


def test_crop_to_region_keeps_only_tiles_meeting_it_with_cores_cut_down():
    from wsinuc.tiling import Box, crop_to_region, grid_cell

    plan = plan_tiles((1000, 1500), 256, 32, stride_multiple=32)
    region = Box(300, 600, 600, 900)
    tiles = crop_to_region(plan, region, stride_multiple=32)
    assert [t.index for t in tiles] == [(1, 2), (1, 3), (2, 2), (2, 3)]
    covered = np.zeros((1000, 1500), int)
    for tile in tiles:
        covered[tile.core_box.slices] += 1
        assert tile.halo == 32
        assert tile.read_shape[0] % 32 == 0 and tile.read_shape[1] % 32 == 0
        assert tile.read_box.y0 == tile.core_box.y0 - 32 and tile.read_box.x0 == tile.core_box.x0 - 32
        cell = grid_cell(tile.index, 256, (1000, 1500))
        assert cell.y0 <= tile.core_box.y0 and tile.core_box.y1 <= cell.y1
    expected = np.zeros_like(covered)
    expected[region.slices] = 1
    np.testing.assert_array_equal(covered, expected)


def test_crop_to_region_outside_the_image_keeps_nothing():
    from wsinuc.tiling import Box, crop_to_region

    plan = plan_tiles((100, 100), 64, 8)
    assert crop_to_region(plan, Box(200, 200, 300, 300)) == []
