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
