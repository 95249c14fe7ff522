"""Macenko stain normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.training.stain import REFERENCE, estimate_stains, normalise_stains


def _he_image(h_strength: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, e = rng.gamma(2.0, 0.3 * h_strength, (64, 64)), rng.gamma(2.0, 0.2, (64, 64))
    density = h[..., None] * np.array([0.65, 0.70, 0.29]) + e[..., None] * np.array([0.07, 0.99, 0.11])
    return np.clip(256.0 * np.exp(-density) - 1.0, 0, 255).astype(np.uint8)


def test_normalised_images_have_the_reference_stains():
    out = normalise_stains(_he_image(1.5))
    basis = estimate_stains(out)
    assert np.abs(basis.stains - REFERENCE.stains).max() < 0.1
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8


def test_two_stain_strengths_come_out_closer_than_they_went_in():
    light, dark = _he_image(0.6, seed=1), _he_image(1.6, seed=1)
    before = np.abs(light.astype(float).mean((0, 1)) - dark.astype(float).mean((0, 1))).sum()
    after = np.abs(normalise_stains(light).astype(float).mean((0, 1))
                   - normalise_stains(dark).astype(float).mean((0, 1))).sum()
    assert after < 0.5 * before


def test_a_blank_image_is_returned_unchanged_and_bad_input_refused():
    blank = np.full((16, 16, 3), 250, np.uint8)
    assert np.array_equal(normalise_stains(blank), blank)
    with pytest.raises(ValueError, match="stained pixels"):
        estimate_stains(blank)
    with pytest.raises(ValueError, match="uint8 RGB"):
        normalise_stains(np.zeros((4, 4), np.uint8))
