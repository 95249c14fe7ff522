"""One chunk's maps → nuclei: the post-processing rules, including seeded for interior/boundary maps."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.engine.nuclei import drop_larger_than, labels_on_level0, opening_kernel
from wsinuc.errors import OptionError
from wsinuc.instances import InstanceRule


class _Context:
    def __init__(self, postprocess, scale=1.0):
        self.rule, self.scale, self.model = InstanceRule(method=postprocess), scale, "toy"
        self.simplify = 0.0


def _two_touching_nuclei():
    """Interior and nucleus maps of two 15 x 15 squares that touch along one side."""
    nucleus = np.zeros((40, 60), np.float32)
    nucleus[10:25, 10:25] = nucleus[10:25, 25:40] = 1.0
    interior = np.zeros_like(nucleus)
    interior[12:23, 12:23] = interior[12:23, 27:38] = 1.0
    return np.stack([interior, nucleus], axis=-1)


def instances(context, prob):
    """The run's rule on maps already on level 0 (scale 1: no resampling)."""
    return labels_on_level0(context.rule, prob, (0, 0), 1.0, (0, 0, prob.shape[1], prob.shape[0]), context.model)


def test_seeded_separates_touching_nuclei_and_fills_their_masks():
    labels = instances(_Context("seeded"), _two_touching_nuclei())
    assert labels.max() == 2
    assert (labels > 0).sum() == 2 * 15 * 15
    assert len(np.unique(labels[10:25, 10:25])) == 1 and len(np.unique(labels[10:25, 25:40])) == 1


def test_opening_on_interior_boundary_maps_uses_the_nucleus_probability():
    labels = instances(_Context("opening"), _two_touching_nuclei())
    assert labels.max() == 1 and (labels > 0).sum() == 2 * 15 * 15


def test_seeded_on_a_single_map_is_a_one_line_option_error():
    with pytest.raises(OptionError, match="--postprocess: seeded needs .*; toy predicts nucleus probability only"):
        instances(_Context("seeded"), np.zeros((8, 8), np.float32))


@pytest.mark.parametrize(("scale", "kernel"), [(1.0, 5), (2.0, 3), (0.5, 11)])
def test_the_paper_kernel_is_five_working_pixels(scale, kernel):
    assert opening_kernel(scale) == kernel


def test_objects_wider_than_the_halo_are_dropped():
    labels = np.zeros((20, 40), np.int32)
    labels[2:5, 2:30] = 1
    labels[10:14, 10:14] = 2
    kept, dropped = drop_larger_than(labels, 10)
    assert dropped == 1 and set(np.unique(kept)) == {0, 2}


def test_chunk_nuclei_renders_the_features_pass_2_writes(tmp_path):
    from wsinuc.engine.nuclei import chunk_nuclei
    from wsinuc.tiling import plan_tiles
    from wsinuc.writers.geojson import GeoJSONWriter

    tile = plan_tiles((96, 96), 64, 16).tiles[0]
    context = _Context("opening")
    context.level0_mpp = 0.25
    prob = np.zeros(tile.valid_box.shape, np.float32)
    for y, x in ((8, 8), (8, 30), (30, 12), (40, 40)):
        prob[y : y + 9, x : x + 11] = 1.0
    block = np.full((*prob.shape, 3), 128, np.uint8)
    result, summary = chunk_nuclei(context, tile, block, prob)
    assert len(result) >= 3 and "features" in summary["seconds"]
    ids = np.arange(1, len(result) + 1) * 11
    with GeoJSONWriter(tmp_path / "rings.geojson") as rings, GeoJSONWriter(tmp_path / "rendered.geojson") as done:
        keep = rings.write_rings(ids, result.ring_coords, result.ring_starts, result.columns)
        done.write_rendered(result.features, ids[result.features.keep])
    np.testing.assert_array_equal(result.features.keep, keep)
    assert (tmp_path / "rendered.geojson").read_bytes() == (tmp_path / "rings.geojson").read_bytes()


def test_at_a_finer_working_grid_nuclei_are_labelled_there_and_brought_to_level0():
    """Two nuclei one working pixel apart stay two: a 20x chunk is labelled at 0.25 um/px."""
    from wsinuc.engine.nuclei import chunk_labels
    from wsinuc.tiling import plan_tiles

    tile = plan_tiles((32, 48), 32, 8).tiles[0]
    height, width = tile.valid_box.shape
    nucleus = np.zeros((2 * height, 2 * width), np.float32)
    nucleus[10:30, 10:30] = nucleus[10:30, 31:51] = 0.9       # a one-pixel gap at the working resolution
    prob = np.stack([nucleus, nucleus], axis=-1)
    context = _Context("seeded", scale=2.0)
    context.rule = InstanceRule(method="seeded", min_seed_size=0, max_expansion=0)
    labels = chunk_labels(context, tile, prob)
    assert labels.shape == (height, width) and labels.max() == 2
    assert set(np.unique(labels[5:15, 5:15])) == {1} and set(np.unique(labels[5:15, 16:25])) == {2}
    # level 0 is coarser: resampling the probabilities first closes the gap
    coarse = context.rule(np.stack([nucleus[1::2, 1::2]] * 2, axis=-1))
    assert coarse.max() == 1
