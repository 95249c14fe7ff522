"""Round-trip and oracle tests: tiling then stitching must change nothing.

(a) Ground-truth labels cut into tiles and stitched back are the same
    objects, pixel for pixel, each owned by exactly one tile, whatever the
    tile size, halo and image size.
(b) A local "model" (a blur) run tile by tile, post-processed and stitched
    equals the same model run on the whole image.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from wsinuc.instances import probability_to_instances, watershed_instances
from wsinuc.stitching import (
    OwnerMasks,
    anchor_keys,
    apply_key_lookup,
    build_key_lookup,
    own_objects,
    paint_block,
)
from wsinuc.tiling import plan_tiles

AWKWARD_SHAPES = [(100, 173), (257, 31), (40, 50)]


def paint_disks(shape, centres, radii):
    """Label image with one disk per centre; a later disk never overwrites an earlier one."""
    labels = np.zeros(shape, dtype=np.int32)
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    for label, ((cy, cx), radius) in enumerate(zip(centres, radii, strict=True), start=1):
        disk = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2
        labels[disk & (labels == 0)] = label
    return labels


def random_disk_labels(shape, seed, max_radius=7, count=40):
    """Disks (bounding box at most 2 * max_radius + 1 px) on seams, borders and at random."""
    rng = np.random.default_rng(seed)
    on_seams = [(y, x) for y in (0, 32, 64, 96, 128) for x in (0, 32, 64, 96, 128)]
    random_centres = [tuple(c) for c in rng.integers(0, shape, size=(count, 2))]
    centres = [c for c in on_seams if c[0] < shape[0] and c[1] < shape[1]] + random_centres
    radii = rng.integers(1, max_radius + 1, size=len(centres))
    return paint_disks(shape, centres, radii)


def tile_and_stitch(labels_of_tile, plan):
    """Run ownership on every tile, paint every core from the owners' masks (own tile first).

    Returns the stitched key image and the owned objects of each tile.
    """
    owned_per_tile = [(tile, own_objects(labels_of_tile(tile), tile)) for tile in plan]
    out = np.zeros(plan.image_shape, dtype=np.int64)
    for tile, _ in owned_per_tile:
        ordered = sorted(owned_per_tile, key=lambda pair: pair[0] is not tile)
        owners = [OwnerMasks(t.valid_box, np.concatenate([[0], o.keys]), o.labels) for t, o in ordered]
        out[tile.write] = paint_block(tile.core_box, owners, dtype=np.int64)
    return out, owned_per_tile


def assert_same_objects(actual, expected):
    """Equal foregrounds and a one-to-one map between ids."""
    np.testing.assert_array_equal(actual > 0, expected > 0)
    pairs = np.unique(np.stack([expected[expected > 0], actual[actual > 0]]), axis=1)
    assert pairs.shape[1] == np.unique(expected[expected > 0]).size
    assert pairs.shape[1] == np.unique(actual[actual > 0]).size


def first_pixel_keys(labels):
    """Hand-rolled anchors: the first raster pixel of every object."""
    flat = labels.ravel()
    ids, first = np.unique(flat, return_index=True)
    first = first[ids > 0]
    anchors = np.stack(np.divmod(first, labels.shape[1]), axis=1)
    return np.sort(anchor_keys(anchors, labels.shape[1]))


@pytest.mark.parametrize("shape", AWKWARD_SHAPES)
@pytest.mark.parametrize("tile_size", [64, 96, 128])
@pytest.mark.parametrize("halo", [16, 32])
def test_tiling_then_stitching_ground_truth_is_identity(shape, tile_size, halo):
    truth = random_disk_labels(shape, seed=tile_size + halo)
    plan = plan_tiles(shape, tile_size, halo, stride_multiple=32)
    stitched, owned_per_tile = tile_and_stitch(lambda tile: truth[tile.valid_box.slices], plan)

    assert_same_objects(stitched, truth)
    keys = np.concatenate([owned.keys for _, owned in owned_per_tile])
    assert keys.size == np.unique(keys).size, "an object was kept by two tiles"
    np.testing.assert_array_equal(np.sort(keys), first_pixel_keys(truth))
    np.testing.assert_array_equal(np.unique(stitched[stitched > 0]), np.sort(keys))


@pytest.mark.parametrize("tile_size", [64, 96])
def test_owned_masks_are_pixel_identical_to_the_truth(tile_size):
    truth = random_disk_labels((100, 173), seed=3)
    plan = plan_tiles(truth.shape, tile_size, 16, stride_multiple=32)
    _, owned_per_tile = tile_and_stitch(lambda tile: truth[tile.valid_box.slices], plan)
    for tile, owned in owned_per_tile:
        for index, (y0, x0, y1, x1) in enumerate(owned.bboxes, start=1):
            box = tile.valid_box
            mask = owned.labels[y0 - box.y0 : y1 - box.y0, x0 - box.x0 : x1 - box.x0] == index
            truth_ids = np.unique(truth[y0:y1, x0:x1][mask])
            assert truth_ids.size == 1
            np.testing.assert_array_equal(mask, truth[y0:y1, x0:x1] == truth_ids[0])
            assert mask.sum() == (truth == truth_ids[0]).sum()


def test_keys_relabel_to_sequential_ids_matching_the_truth():
    truth = random_disk_labels((100, 173), seed=5)
    plan = plan_tiles(truth.shape, 64, 16, stride_multiple=32)
    stitched, owned_per_tile = tile_and_stitch(lambda tile: truth[tile.valid_box.slices], plan)
    lookup = build_key_lookup([owned.keys for _, owned in owned_per_tile])
    sequential = apply_key_lookup(stitched, lookup)
    count = np.unique(truth[truth > 0]).size
    np.testing.assert_array_equal(np.unique(sequential[sequential > 0]), np.arange(1, count + 1))
    assert_same_objects(sequential, truth)


@pytest.mark.parametrize(("tile_size", "halo"), [(64, 8), (64, 0), (32, 12)])
def test_object_wider_than_the_halo_on_a_seam_raises_naming_halo(tile_size, halo):
    truth = paint_disks((128, 128), [(64, 64)], [12])  # 25 px wide
    plan = plan_tiles(truth.shape, tile_size, halo, stride_multiple=32)
    with pytest.raises(ValueError, match="halo"):
        tile_and_stitch(lambda tile: truth[tile.valid_box.slices], plan)


def test_halo_zero_works_when_no_object_crosses_a_seam():
    truth = paint_disks((64, 128), [(20, 20), (40, 90)], [5, 6])
    plan = plan_tiles(truth.shape, 64, 0, stride_multiple=32)
    stitched, _ = tile_and_stitch(lambda tile: truth[tile.valid_box.slices], plan)
    assert_same_objects(stitched, truth)


def blur_model(image):
    """A 'network' with a 7 px receptive field: dark blobs on white -> probability."""
    return 1.0 - ndimage.gaussian_filter(image, sigma=1.0, truncate=3.0, mode="constant", cval=1.0)


def synthetic_image(shape, seed):
    """White background, dark disks (some touching), mild noise; float in [0, 1]."""
    rng = np.random.default_rng(seed)
    centres = [(50, 60), (50, 70), (64, 64), (20, 96), (96, 128)]
    centres += [tuple(c) for c in rng.integers(0, shape, size=(25, 2))]
    labels = paint_disks(shape, centres, rng.integers(3, 7, size=len(centres)))
    image = np.where(labels > 0, 0.15, 0.95) + rng.normal(0.0, 0.04, size=shape)
    return np.clip(image, 0.0, 1.0)


def read_block(image, tile):
    """What the slide reader returns: the read box, white outside the image."""
    margin = tile.read_shape[0]
    padded = np.pad(image, margin, constant_values=1.0)
    box = tile.read_box
    return padded[box.y0 + margin : box.y1 + margin, box.x0 + margin : box.x1 + margin]


@pytest.mark.parametrize("postprocess", [probability_to_instances, watershed_instances])
@pytest.mark.parametrize("tile_size", [64, 96])
def test_tiled_prediction_equals_whole_image_prediction(postprocess, tile_size):
    image = synthetic_image((150, 170), seed=tile_size)
    expected = postprocess(blur_model(image))
    plan = plan_tiles(image.shape, tile_size, 32, stride_multiple=32)

    def tile_labels(tile):
        probability = blur_model(read_block(image, tile))
        return postprocess(probability[tile.valid_crop])

    stitched, owned_per_tile = tile_and_stitch(tile_labels, plan)
    assert expected.max() > 10
    assert_same_objects(stitched, expected)
    keys = np.concatenate([owned.keys for _, owned in owned_per_tile])
    np.testing.assert_array_equal(np.sort(keys), first_pixel_keys(expected))
