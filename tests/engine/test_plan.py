"""Planning a run: chunk sizes in working pixels, and batches of chunks of one working shape."""

from __future__ import annotations

import pytest

from wsinuc.engine.chunk_task import working_shape
from wsinuc.engine.plan import batches, level0_chunking
from wsinuc.tiling import plan_tiles


@pytest.mark.parametrize(("scale", "expected"), [(1.0, (1024, 128)), (2.0, (512, 64)), (0.5, (2048, 256)),
                                                 (2.0108, (512, 64))])
def test_chunk_size_and_halo_are_working_pixels(scale, expected):
    assert level0_chunking(1024, 128, scale) == expected


def test_a_tiny_chunk_stays_a_multiple_of_the_stride_and_the_halo_fits_in_it():
    core, halo = level0_chunking(64, 64, 4.0)
    assert core == 32 and core % 32 == 0
    assert 8 <= halo <= core


@pytest.mark.parametrize("scale", [1.0, 2.0, 2.0108])
def test_batches_hold_chunks_of_one_working_shape_in_plan_order(scale):
    plan = plan_tiles((1000, 1300), 256, 32)
    groups = batches(list(plan), 3, scale)
    assert sorted(t.index for group in groups for t in group) == sorted(t.index for t in plan)
    assert all(1 <= len(group) <= 3 for group in groups)
    for group in groups:
        assert len({working_shape(tile, scale) for tile in group}) == 1
    firsts = [min(t.index for t in group) for group in groups]
    assert firsts == sorted(firsts)


def test_interior_chunks_fill_whole_batches():
    plan = plan_tiles((2048, 2048), 256, 32)
    interior = [t for t in plan if 0 < t.index[0] < 7 and 0 < t.index[1] < 7]
    groups = batches(interior, 4, 1.0)
    assert [len(g) for g in groups] == [4] * 9


def test_the_tissue_mask_thumbnail_is_reduced_to_about_four_micrometres_per_pixel():
    import numpy as np

    from wsinuc.engine.plan import mask_thumbnail

    thumbnail = np.random.default_rng(0).integers(0, 256, (1000, 800, 3), dtype=np.uint8)
    assert mask_thumbnail(thumbnail, 0.25).shape == (63, 50, 3)      # 16x smaller: 4 um/px
    assert mask_thumbnail(thumbnail, 5.0) is thumbnail               # already coarser
    assert mask_thumbnail(thumbnail[:40, :40], 0.25).shape == (40, 40, 3)  # too small to reduce


def test_a_slide_within_the_tolerance_of_the_model_pixel_size_is_read_on_its_own_grid():
    from wsinuc.engine.plan import MPP_TOLERANCE, working_scale

    assert working_scale(0.499, 0.5) == 1.0  # Aperio "20x" for a 0.5 um/px model
    assert working_scale(0.2527, 0.25) == 1.0
    assert working_scale(0.5 * (1 + MPP_TOLERANCE) + 1e-3, 0.5) != 1.0
    assert working_scale(0.499, 0.25) == pytest.approx(1.996, abs=0.01)  # 20x for a 0.25 um/px model
