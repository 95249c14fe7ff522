"""QC overlay: nucleus outlines on a thumbnail, saved as PNG."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from shapely.geometry import box

from wsinuc.writers.overlay import draw_overlay, inner_boundaries, resize_nearest, save_png

GREY = 200
RED = (255, 0, 0)


@pytest.fixture
def thumbnail():
    return np.full((40, 60, 3), GREY, dtype=np.uint8)


def test_label_outlines_mark_the_border_and_nothing_else(thumbnail):
    labels = np.zeros((40, 60), dtype=np.uint32)
    labels[10:20, 30:45] = 3
    out = draw_overlay(thumbnail, labels, color=RED)
    outlined = np.all(out == RED, axis=-1)
    expected = np.zeros((40, 60), dtype=bool)
    expected[10:20, 30:45] = True
    expected[11:19, 31:44] = False  # inner border of a 10 x 15 rectangle
    np.testing.assert_array_equal(outlined, expected)
    assert np.all(out[~outlined] == GREY)


def test_label_image_of_another_size_is_resampled(thumbnail):
    labels = np.zeros((80, 120), dtype=np.uint32)
    labels[20:40, 60:90] = 1  # the same rectangle as above at twice the size
    outlined = np.all(draw_overlay(thumbnail, labels, color=RED) == RED, axis=-1)
    assert outlined[10, 30] and outlined[19, 44] and not outlined[15, 37]
    assert outlined.sum() == 2 * (10 + 15) - 4


def test_polygon_outlines_are_scaled_to_the_thumbnail(thumbnail):
    # level-0 square from (20, 20) to (60, 60); at scale 0.5 its corners map to
    # 20 * 0.5 - 0.5 = 9.5 -> pixel 10 and 60 * 0.5 - 0.5 = 29.5 -> pixel 30.
    out = draw_overlay(thumbnail, [box(20, 20, 60, 60)], scale=0.5, color=RED)
    outlined = np.all(out == RED, axis=-1)
    expected = np.zeros((40, 60), dtype=bool)
    expected[10:31, 10:31] = True
    expected[11:30, 11:30] = False
    np.testing.assert_array_equal(outlined, expected)


def test_drawing_does_not_modify_the_input(thumbnail):
    labels = np.zeros((40, 60), dtype=np.uint32)
    labels[5:15, 5:15] = 1
    draw_overlay(thumbnail, labels)
    assert np.all(thumbnail == GREY)


def test_thick_outlines_grow_outwards(thumbnail):
    labels = np.zeros((40, 60), dtype=np.uint32)
    labels[10:20, 10:20] = 1
    thin = np.all(draw_overlay(thumbnail, labels, color=RED) == RED, axis=-1).sum()
    thick = np.all(draw_overlay(thumbnail, labels, color=RED, thickness=2) == RED, axis=-1).sum()
    assert thick > thin


def test_thumbnail_must_be_rgb_uint8():
    with pytest.raises(ValueError, match="float64"):
        draw_overlay(np.zeros((4, 4, 3)), np.zeros((4, 4), dtype=np.uint32))


def test_a_float_array_is_not_taken_for_a_label_image(thumbnail):
    with pytest.raises(ValueError, match="list"):
        draw_overlay(thumbnail, np.zeros((5, 2)))


@pytest.mark.parametrize("seed", range(5))
def test_inner_boundaries_equal_scikit_image_find_boundaries(seed):
    from skimage.segmentation import find_boundaries

    rng = np.random.default_rng(seed)
    for _ in range(40):
        labels = rng.integers(0, 4, size=(int(rng.integers(1, 12)), int(rng.integers(1, 12))))
        np.testing.assert_array_equal(inner_boundaries(labels), find_boundaries(labels, mode="inner"))


def test_inner_boundaries_refuse_a_stack():
    with pytest.raises(ValueError, match="2-D"):
        inner_boundaries(np.zeros((2, 3, 3), dtype=int))


def test_resize_nearest_to_the_same_shape_is_the_array_itself():
    labels = np.arange(12).reshape(3, 4)
    assert resize_nearest(labels, (3, 4)) is labels


def test_resize_nearest_repeats_pixels():
    np.testing.assert_array_equal(
        resize_nearest(np.array([[1, 2], [3, 4]]), (2, 4)), [[1, 1, 2, 2], [3, 3, 4, 4]]
    )


def test_save_png_round_trips(tmp_path, thumbnail):
    image = thumbnail.copy()
    image[0, 0] = RED
    path = save_png(tmp_path / "overlay.png", image)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), image)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overlay.png"]


def test_save_png_refuses_non_uint8_without_leaving_a_file(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        save_png(tmp_path / "overlay.png", np.zeros((4, 4, 3), dtype=np.float32))
    assert list(tmp_path.iterdir()) == []


def test_save_image_writes_jpeg_by_its_suffix_and_refuses_other_names(tmp_path, thumbnail):
    from PIL import Image

    from wsinuc.writers.overlay import save_image

    path = save_image(tmp_path / "overlay.jpg", thumbnail)
    with Image.open(path) as image:
        assert image.format == "JPEG" and image.size == thumbnail.shape[1::-1]
        assert np.abs(np.asarray(image).astype(int) - thumbnail).mean() < 8
    with pytest.raises(ValueError, match="png"):
        save_image(tmp_path / "overlay.tif", thumbnail)
