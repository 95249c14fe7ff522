"""tissue_mask: True on stained tissue, False on glass, robust to blank images and dust."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wsinuc.slide import TissueMaskConfig, open_slide, tissue_mask, write_synthetic_slide
from wsinuc.slide.synthetic_scene import make_scene, tissue_at

PINK = (225, 160, 200)
GLASS = (242, 242, 244)


def glass_with_square(size: int = 100, square: slice = slice(30, 70)) -> np.ndarray:
    image = np.empty((size, size, 3), np.uint8)
    image[:] = GLASS
    image[square, square] = PINK
    return image


def test_all_white_image_has_no_tissue() -> None:
    assert not tissue_mask(np.full((64, 80, 3), 255, np.uint8)).any()


def test_uniform_glass_with_noise_has_no_tissue() -> None:
    rng = np.random.default_rng(0)
    glass = np.clip(np.asarray(GLASS) + rng.normal(0, 2, (64, 64, 3)), 0, 255).astype(np.uint8)
    assert not tissue_mask(glass).any()


def test_pink_square_on_glass_is_found_exactly() -> None:
    mask = tissue_mask(glass_with_square())
    expected = np.zeros((100, 100), bool)
    expected[30:70, 30:70] = True
    np.testing.assert_array_equal(mask, expected)


def test_tissue_touching_the_border_is_kept() -> None:
    image = np.empty((50, 50, 3), np.uint8)
    image[:] = GLASS
    image[:, :20] = PINK
    mask = tissue_mask(image)
    assert mask[:, :20].all() and not mask[:, 20:].any()


def test_dust_speck_is_removed_and_small_hole_filled() -> None:
    image = glass_with_square(200, slice(50, 150))
    image[10, 10] = PINK  # one-pixel speck on glass
    image[100:102, 100:102] = GLASS  # 4-pixel hole in tissue
    mask = tissue_mask(image, config=TissueMaskConfig(min_object_fraction=0.001))
    assert not mask[10, 10]
    assert mask[100:102, 100:102].all()


def test_faint_tint_below_min_saturation_is_not_tissue() -> None:
    image = glass_with_square()
    image[30:70, 30:70] = (240, 232, 236)  # saturation ~0.03
    assert not tissue_mask(image, min_saturation=0.07).any()
    assert tissue_mask(image, min_saturation=0.01)[50, 50]


def test_synthetic_slide_thumbnail_mask_matches_drawn_tissue(tmp_path: Path) -> None:
    path = write_synthetic_slide(tmp_path / "slide.svs", 1024, 768, mpp=0.5, seed=4)
    with open_slide(path) as slide:
        thumbnail = slide.thumbnail(256)
    mask = tissue_mask(thumbnail)
    scale = 1024 / thumbnail.shape[1]
    xs = (np.arange(thumbnail.shape[1]) + 0.5) * scale
    ys = (np.arange(thumbnail.shape[0]) + 0.5) * scale
    drawn = tissue_at(make_scene(1024, 768, 0.5, 4), xs[None, :], ys[:, None])
    intersection = (mask & drawn).sum()
    union = (mask | drawn).sum()
    assert intersection / union > 0.95


@pytest.mark.parametrize(
    "bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32)]
)
def test_wrong_input_raises_value_error(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="thumbnail"):
        tissue_mask(bad)


def test_min_saturation_out_of_range_raises() -> None:
    with pytest.raises(ValueError, match="min_saturation"):
        tissue_mask(glass_with_square(), min_saturation=1.5)


def test_saturation_and_value_match_skimage_hsv():
    from skimage.color import rgb2hsv

    from wsinuc.slide.tissue import saturation_value

    rgb = np.random.default_rng(1).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    rgb[0, :3] = 0
    saturation, value = saturation_value(rgb)
    hsv = rgb2hsv(rgb)
    np.testing.assert_allclose(saturation, hsv[..., 1], atol=1e-6)
    np.testing.assert_allclose(value, hsv[..., 2], atol=1e-6)
