"""Level-0 <-> working-resolution resampling on one slide-wide grid."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.transform import resize

from wsinuc.slide.resample import grid_scale, labels_to_level0, to_level0, to_working, working_box

SCALES = (2.0, 2.0108, 0.5, 1.37)
EDGE = 4
"""Pixels next to a block edge (> 3) excluded where the filters run out of pixels."""


def smooth_rgb(height: int, width: int, seed: int = 0, sigma: float = 1.5) -> np.ndarray:
    """Blurred noise with H&E-like detail (a few level-0 pixels), full 0-255 range."""
    noise = np.random.default_rng(seed).random((height, width, 3))
    blurred = ndimage.gaussian_filter(noise, (sigma, sigma, 0))
    blurred = (blurred - blurred.min()) / (blurred.max() - blurred.min())
    return np.rint(blurred * 255).astype(np.uint8)


def bilinear_oracle(image: np.ndarray, origin: tuple[int, int], scale: float, box: tuple) -> np.ndarray:
    """Slow exact bilinear sampling of the global grid (edge pixels replicated)."""
    scale = grid_scale(scale)
    wx0, wy0, ww, wh = box
    cols = (np.arange(wx0, wx0 + ww) + 0.5) / scale - 0.5 - origin[0]
    rows = (np.arange(wy0, wy0 + wh) + 0.5) / scale - 0.5 - origin[1]
    grid_r, grid_c = np.meshgrid(rows, cols, indexing="ij")
    image = image if image.ndim == 3 else image[..., np.newaxis]
    channels = [ndimage.map_coordinates(image[..., c].astype(np.float64), [grid_r, grid_c], order=1,
                                        mode="nearest") for c in range(image.shape[2])]
    return np.stack(channels, axis=2)


def test_working_box_at_scale_1_is_the_box() -> None:
    assert working_box(-3, 17, 100, 50, 1.0) == (-3, 17, 100, 50)


@pytest.mark.parametrize("scale", [*SCALES, 0.25, 3.7, 1.0])
def test_working_boxes_of_adjacent_boxes_tile_the_grid(scale: float) -> None:
    cuts = [-37, 0, 1, 255, 256, 1000, 1023, 4096, 100_003]
    boxes = [working_box(a, a, b - a, b - a, scale) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    for (x0, y0, w, h), (nx0, ny0, _, _) in zip(boxes[:-1], boxes[1:], strict=True):
        assert (x0 + w, y0 + h) == (nx0, ny0)
    # Every working pixel centre lies inside the level-0 box that owns it.
    scale = grid_scale(scale)
    for (a, b), (x0, _, w, _) in zip(zip(cuts[:-1], cuts[1:], strict=True), boxes, strict=True):
        centres = (np.arange(x0, x0 + w) + 0.5) / scale
        assert (centres >= a).all() and (centres < b).all()


def test_identity_at_scale_1_returns_the_block_itself() -> None:
    block = smooth_rgb(40, 30)
    out = to_working(block, (5, 9), 1.0)
    assert out is block
    view = to_working(block, (5, 9), 1.0, (7, 10, 4, 3))
    assert np.shares_memory(view, block)
    np.testing.assert_array_equal(view, block[1:4, 2:6])
    prob = np.random.default_rng(0).random((40, 30)).astype(np.float32)
    assert to_level0(prob, (5, 9), 1.0, (5, 9, 30, 40)) is prob


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("shift", [1, 7, 300])
def test_overlapping_reads_give_the_same_working_pixels(scale: float, shift: int) -> None:
    slide = smooth_rgb(700, 760, seed=shift)
    first, second = (13, 21), (13 + shift, 21 + shift // 2)
    size = 400
    outs, boxes = [], []
    for x0, y0 in (first, second):
        block = slide[y0 : y0 + size, x0 : x0 + size]
        boxes.append(working_box(x0, y0, size, size, scale))
        outs.append(to_working(block, (x0, y0), scale))
    margin = EDGE * max(1, int(np.ceil(scale)))
    (ax, ay, aw, ah), (bx, by, bw, bh) = boxes
    x_lo, x_hi = max(ax, bx) + margin, min(ax + aw, bx + bw) - margin
    y_lo, y_hi = max(ay, by) + margin, min(ay + ah, by + bh) - margin
    assert x_hi - x_lo > 10 and y_hi - y_lo > 10
    np.testing.assert_array_equal(outs[0][y_lo - ay : y_hi - ay, x_lo - ax : x_hi - ax],
                                  outs[1][y_lo - by : y_hi - by, x_lo - bx : x_hi - bx])


@pytest.mark.parametrize("scale", SCALES)
def test_adjacent_blocks_stitch_to_the_whole_image(scale: float) -> None:
    slide = smooth_rgb(300, 300)
    whole = to_working(slide, (0, 0), scale)
    halo, cut = 8, 150
    left = to_working(slide[:, : cut + halo], (0, 0), scale, working_box(0, 0, cut, 300, scale))
    start = cut - halo
    right = to_working(slide[:, start:], (start, 0), scale, working_box(cut, 0, 300 - cut, 300, scale))
    stitched = np.concatenate([left, right], axis=1)
    assert stitched.shape == whole.shape
    np.testing.assert_array_equal(stitched[EDGE:-EDGE, EDGE:-EDGE], whole[EDGE:-EDGE, EDGE:-EDGE])


@pytest.mark.parametrize("scale", [2.0, 2.0108, 1.37])
@pytest.mark.parametrize("origin", [(0, 0), (1003, 17)])
def test_upsampling_is_exact_bilinear_within_one_grey_level(scale: float, origin: tuple[int, int]) -> None:
    block = np.random.default_rng(1).integers(0, 256, (61, 77, 3), dtype=np.uint8)
    box = working_box(*origin, 77, 61, scale)
    out = to_working(block, origin, scale)
    assert out.shape == (box[3], box[2], 3) and out.dtype == np.uint8
    # Everywhere, edges included (edge pixels are replicated like mode="nearest").
    assert np.abs(out.astype(int) - bilinear_oracle(block, origin, scale, box)).max() <= 1


def test_grid_scale_rounds_the_inverse_to_1024ths() -> None:
    assert grid_scale(2.0) == 2.0 and grid_scale(0.5) == 0.5 and grid_scale(1.0) == 1.0
    for scale in (2.0108, 1.37, 1.996, 0.3):
        assert abs(grid_scale(scale) / scale - 1) <= scale / 2048
        assert abs(1024 / grid_scale(scale) - round(1024 / grid_scale(scale))) < 1e-9


@pytest.mark.parametrize(("scale", "size", "mean_tol", "max_tol"),
                         [(2.0, 64, 0.6, 1), (1.28, 100, 0.6, 1), (0.5, 128, 1.5, 8)])
def test_matches_skimage_resize_away_from_edges(
    scale: float, size: int, mean_tol: float, max_tol: int
) -> None:
    """skimage's grid equals the global one when the block starts at 0 and size * scale is whole.

    (1.28 = 1024 / 800 is its own grid scale.)

    Upsampling: within 1 grey level. Downsampling: PIL's tent anti-aliasing
    filter is not skimage's Gaussian; on H&E-like detail they differ by
    < 1.5 grey levels on average and at most 8.
    """
    block = smooth_rgb(size, size, seed=3)
    out = to_working(block, (0, 0), scale)
    side = round(size * scale)
    reference = resize(block, (side, side), order=1, anti_aliasing=scale < 1, preserve_range=True)
    diff = np.abs(out.astype(float) - np.rint(reference))[EDGE:-EDGE, EDGE:-EDGE]
    assert diff.mean() <= mean_tol and diff.max() <= max_tol


@pytest.mark.parametrize("scale", [0.906, 0.75, 0.5, 0.3])
def test_downsampling_is_close_to_gaussian_anti_aliasing_on_the_global_grid(scale: float) -> None:
    """skimage's downsampling (Gaussian, sigma (1/s - 1)/2, then bilinear) at any origin.

    PIL's tent filter (support 1/s) differs from that Gaussian: on H&E-like
    detail by <= 1.6 grey levels on average and <= 10 at most (on real
    tissue: mean <= 2, 99th percentile <= 12).
    """
    block, origin = smooth_rgb(400, 400, seed=6), (13, 17)
    box = working_box(*origin, 400, 400, scale)
    sigma = (1 / grid_scale(scale) - 1) / 2
    blurred = ndimage.gaussian_filter(block.astype(float), (sigma, sigma, 0), mode="mirror")
    reference = np.rint(bilinear_oracle(blurred, origin, scale, box))
    diff = np.abs(to_working(block, origin, scale).astype(float) - reference)[EDGE:-EDGE, EDGE:-EDGE]
    assert diff.mean() <= 1.6 and diff.max() <= 10


@pytest.mark.parametrize("scale", SCALES)
def test_to_level0_overlapping_maps_agree_and_round_trip(scale: float) -> None:
    level0 = ndimage.gaussian_filter(np.random.default_rng(2).random((300, 320)), 3).astype(np.float32)
    outs = []
    for x0, y0 in ((10, 20), (47, 20)):
        box = (x0, y0, 200, 180)
        wx0, wy0, ww, wh = working_box(*box, scale)
        prob = bilinear_oracle(level0, (0, 0), scale, (wx0, wy0, ww, wh))[..., 0].astype(np.float32)
        back = to_level0(prob, (wx0, wy0), scale, box)
        assert back.shape == (180, 200) and back.dtype == np.float32
        outs.append(back)
        inner = back[EDGE * 2 : -EDGE * 2, EDGE * 2 : -EDGE * 2]
        truth = level0[y0 + EDGE * 2 : y0 + 180 - EDGE * 2, x0 + EDGE * 2 : x0 + 200 - EDGE * 2]
        assert np.abs(inner - truth).max() < 0.1 * np.ptp(level0)
    shift = 47 - 10
    np.testing.assert_allclose(outs[0][EDGE:-EDGE, shift + EDGE : -EDGE],
                               outs[1][EDGE:-EDGE, EDGE : 200 - shift - EDGE], atol=1e-4)


@pytest.mark.parametrize("scale", [2.0, 0.5])
def test_to_level0_matches_skimage_resize(scale: float) -> None:
    """Smooth probability maps: within 0.01 of skimage's (Gaussian anti-aliased when downsampling)."""
    prob = ndimage.gaussian_filter(np.random.default_rng(4).random((128, 128)), 4)
    prob = ((prob - prob.min()) / np.ptp(prob)).astype(np.float32)
    side = round(128 / scale)
    out = to_level0(prob, (0, 0), scale, (0, 0, side, side))
    reference = resize(prob, (side, side), order=1, preserve_range=True)
    assert np.abs(out - reference)[EDGE:-EDGE, EDGE:-EDGE].max() < 0.01


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: working_box(0, 0, 0, 5, 2.0), "size must be positive"),
        (lambda: working_box(0.5, 0, 5, 5, 2.0), "four integers"),
        (lambda: working_box(0, 0, 5, 5, -1.0), "scale"),
        (lambda: working_box(0, 0, 5, 5, 100.0), "scale"),
        (lambda: working_box(0, 0, 5, 5, float("nan")), "scale"),
        (lambda: to_working(np.zeros((4, 4), np.uint8), (0, 0), 2.0), "uint8"),
        (lambda: to_working(np.zeros((4, 4, 3), np.float32), (0, 0), 2.0), "uint8"),
        (lambda: to_working(np.zeros((4, 4, 3), np.uint8), (0, 0), 2.0, (0, 0, 9, 8)), "outside"),
        (lambda: to_working(np.zeros((1, 1, 3), np.uint8), (0, 0), 0.25), "no working pixel"),
        (lambda: to_working(np.zeros((4, 4, 3), np.uint8), (0.0, 0), 2.0), "origin"),
        (lambda: to_level0(np.zeros((4, 4), np.uint8), (0, 0), 2.0, (0, 0, 2, 2)), "float"),
        (lambda: to_level0(np.zeros((4, 4), np.float32), (0, 0), 2.0, (0, 0, 3, 2)), "outside"),
    ],
)
def test_bad_arguments_raise_value_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_labels_to_level0_at_scale_one_is_the_box_itself() -> None:
    labels = np.arange(30 * 40, dtype=np.int32).reshape(30, 40)
    np.testing.assert_array_equal(labels_to_level0(labels, (5, 9), 1.0, (7, 10, 20, 15)), labels[1:16, 2:22])


def test_labels_to_level0_takes_the_working_pixel_nearest_each_level0_centre() -> None:
    labels = np.arange(40 * 60, dtype=np.int32).reshape(40, 60)     # working pixels (0, 0)-(59, 39)
    out = labels_to_level0(labels, (0, 0), 2.0, (0, 0, 30, 20))
    # level-0 pixel x has its centre at working coordinate 2x + 0.5: the nearest centre is 2x + 1
    np.testing.assert_array_equal(out, labels[1::2, 1::2])
    assert out.dtype == np.int32


@pytest.mark.parametrize("scale", [2.0, 1.996, 3.1])
def test_labels_to_level0_overlapping_calls_agree_exactly(scale: float) -> None:
    rng = np.random.default_rng(4)
    level0_whole = (0, 0, 200, 150)
    wx0, wy0, ww, wh = working_box(*level0_whole, scale)
    labels = rng.integers(0, 50, (wh, ww), dtype=np.int32)
    whole = labels_to_level0(labels, (wx0, wy0), scale, level0_whole)
    for box in ((30, 40, 100, 80), (73, 11, 90, 120)):
        bx, by, bw, bh = working_box(*box, scale)
        part = labels_to_level0(labels[by - wy0 : by - wy0 + bh, bx - wx0 : bx - wx0 + bw], (bx, by), scale, box)
        np.testing.assert_array_equal(part, whole[box[1] : box[1] + box[3], box[0] : box[0] + box[2]])


def test_labels_to_level0_rejects_float_maps_and_boxes_beyond_the_labels() -> None:
    with pytest.raises(ValueError, match="integer"):
        labels_to_level0(np.zeros((8, 8), np.float32), (0, 0), 2.0, (0, 0, 4, 4))
    with pytest.raises(ValueError, match="outside"):
        labels_to_level0(np.zeros((8, 8), np.int32), (0, 0), 2.0, (0, 0, 5, 4))
