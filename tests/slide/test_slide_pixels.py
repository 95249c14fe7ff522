"""Pixel conversions: alpha compositing, dtype scaling, windows reaching outside a level."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.slide.pixels import clip_window, composite_on_white, is_opaque, read_window, to_rgb_uint8


def test_composite_unassociated_alpha() -> None:
    rgba = np.array([[[100, 0, 200, 255], [100, 0, 200, 0], [100, 0, 200, 102]]], np.uint8)
    out = composite_on_white(rgba)
    # 102 / 255 = 0.4 opaque: 0.4 * c + 0.6 * 255
    np.testing.assert_array_equal(out[0], [[100, 0, 200], [255, 255, 255], [193, 153, 233]])


def test_composite_associated_alpha() -> None:
    rgba = np.array([[[40, 0, 80, 102]]], np.uint8)  # colours already multiplied by 0.4
    np.testing.assert_array_equal(composite_on_white(rgba, premultiplied=True)[0, 0], [193, 153, 233])


def test_grey_and_grey_alpha_become_rgb() -> None:
    np.testing.assert_array_equal(to_rgb_uint8(np.array([[7, 9]], np.uint8)), [[[7, 7, 7], [9, 9, 9]]])
    grey_alpha = np.array([[[0, 0], [0, 255]]], np.uint8)
    np.testing.assert_array_equal(to_rgb_uint8(grey_alpha), [[[255, 255, 255], [0, 0, 0]]])


def test_sixteen_bit_and_float_are_scaled() -> None:
    np.testing.assert_array_equal(to_rgb_uint8(np.array([[0, 65535]], np.uint16))[0, :, 0], [0, 255])
    np.testing.assert_array_equal(to_rgb_uint8(np.array([[0.0, 0.5, 2.0]]))[0, :, 0], [0, 128, 255])


def test_bad_shapes_raise_value_error() -> None:
    with pytest.raises(ValueError, match="shape"):
        to_rgb_uint8(np.zeros((2, 2, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="RGBA"):
        composite_on_white(np.zeros((2, 2, 3), np.uint8))


def test_clip_window() -> None:
    assert clip_window(-5, 2, 10, 4, (8, 8)) == (0, 2, 5, 6)
    assert clip_window(8, 0, 3, 3, (8, 8)) is None


def test_read_window_fills_outside_with_white_and_asks_only_inside() -> None:
    level = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    asked = []

    def read_inside(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        asked.append((x0, y0, x1, y1))
        return level[y0:y1, x0:x1]

    window = read_window(read_inside, -2, 3, 4, 3, (5, 4))
    assert asked == [(0, 3, 2, 4)]
    assert window.shape == (3, 4, 3)
    np.testing.assert_array_equal(window[0, 2:], level[3, 0:2])
    assert (window[:, :2] == 255).all() and (window[1:] == 255).all()


def float_composite_oracle(rgba: np.ndarray, premultiplied: bool) -> np.ndarray:
    """The compositing every pixel went through before the opaque fast path."""
    colour = rgba[..., :3].astype(np.float32)
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    out = colour + 255 * (1.0 - alpha) if premultiplied else colour * alpha + 255 * (1.0 - alpha)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("premultiplied", [False, True])
@pytest.mark.parametrize("transparent", [False, True])
def test_composite_fast_path_equals_float_compositing(premultiplied: bool, transparent: bool) -> None:
    rng = np.random.default_rng(5)
    rgba = rng.integers(0, 256, (37, 41, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    if transparent:
        rgba[3, 4, 3] = 17
    assert is_opaque(rgba) is not transparent
    out = composite_on_white(rgba, premultiplied=premultiplied)
    np.testing.assert_array_equal(out, float_composite_oracle(rgba, premultiplied))
    assert out.flags.c_contiguous and out.flags.writeable


def test_is_opaque_rejects_non_rgba() -> None:
    assert is_opaque(np.zeros((0, 3, 4), np.uint8))
    with pytest.raises(ValueError, match="RGBA"):
        is_opaque(np.zeros((2, 2, 3), np.uint8))
