"""Pixel conversions shared by the slide backends (pure functions).

Every backend hands back whatever its library decodes (grey, grey + alpha,
RGB, RGBA, 16-bit, float); :func:`to_rgb_uint8` turns that into the one
format the rest of wsinuc reads: ``(h, w, 3)`` uint8 RGB with transparent
pixels composited on white. :func:`read_window` cuts a window out of any
array-like level that may be partly outside the image, filling the outside
with white.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

WHITE = 255


def composite_on_white(rgba: np.ndarray, *, premultiplied: bool = False) -> np.ndarray:
    """Composite an ``(h, w, 4)`` uint8 RGBA array on a white background.

    Parameters
    ----------
    rgba : np.ndarray
        ``(h, w, 4)`` uint8 array; the last channel is alpha (0 transparent).
    premultiplied : bool
        True when the colour channels are already multiplied by alpha
        (TIFF "associated alpha").

    Returns
    -------
    np.ndarray
        ``(h, w, 3)`` uint8 RGB.
    """
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected an (h, w, 4) RGBA array, got shape {rgba.shape}")
    if rgba.dtype == np.uint8 and is_opaque(rgba):
        return np.ascontiguousarray(rgba[..., :3])
    colour = rgba[..., :3].astype(np.float32)
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    if premultiplied:
        out = colour + WHITE * (1.0 - alpha)
    else:
        out = colour * alpha + WHITE * (1.0 - alpha)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def is_opaque(rgba: np.ndarray) -> bool:
    """True when every pixel of an ``(h, w, 4)`` uint8 RGBA array has alpha 255.

    Compositing an opaque array on white leaves its colours unchanged (with
    or without premultiplication), so readers can skip it.
    """
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"expected an (h, w, 4) uint8 RGBA array, got shape {rgba.shape} dtype {rgba.dtype}")
    return rgba.size == 0 or int(rgba[..., 3].min()) == WHITE


def scale_to_uint8(array: np.ndarray) -> np.ndarray:
    """Map an integer, boolean or float ([0, 1]) array to uint8, keeping its shape."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.integer):
        top = float(np.iinfo(array.dtype).max)
        return np.rint(np.clip(array, 0, None) * (255.0 / top)).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        return np.rint(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise ValueError(f"cannot convert pixels of dtype {array.dtype} to uint8")


def to_rgb_uint8(pixels: np.ndarray, *, premultiplied: bool = False) -> np.ndarray:
    """Convert ``(h, w)`` or ``(h, w, c)`` pixels to ``(h, w, 3)`` uint8 RGB.

    Parameters
    ----------
    pixels : np.ndarray
        Grey ``(h, w)`` / ``(h, w, 1)``, grey + alpha ``(h, w, 2)``, RGB
        ``(h, w, 3)``, RGBA ``(h, w, 4)``; more than 4 channels keep the
        first 3. Any integer, boolean or [0, 1] float dtype.
    premultiplied : bool
        True when the alpha channel is associated (colours premultiplied).

    Returns
    -------
    np.ndarray
        ``(h, w, 3)`` uint8, transparent pixels composited on white.
    """
    if pixels.ndim == 2:
        pixels = pixels[..., np.newaxis]
    if pixels.ndim != 3 or pixels.shape[2] == 0:
        raise ValueError(f"expected (h, w) or (h, w, c) pixels, got shape {pixels.shape}")
    pixels = scale_to_uint8(pixels)
    channels = pixels.shape[2]
    if channels == 1:
        return np.repeat(pixels, 3, axis=2)
    if channels == 2:
        grey, alpha = pixels[..., :1], pixels[..., 1:2]
        pixels = np.concatenate([grey, grey, grey, alpha], axis=2)
        channels = 4
    if channels == 4:
        return composite_on_white(pixels, premultiplied=premultiplied)
    return np.ascontiguousarray(pixels[..., :3])


def clip_window(
    x: int, y: int, width: int, height: int, level_size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """Intersect a window with ``[0, level_w) x [0, level_h)``.

    Returns
    -------
    tuple of int or None
        ``(x0, y0, x1, y1)`` of the inside part in level pixels, or None when
        the window lies entirely outside.
    """
    level_w, level_h = level_size
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + width, level_w), min(y + height, level_h)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1


def read_window(
    read_inside: Callable[[int, int, int, int], np.ndarray],
    x: int,
    y: int,
    width: int,
    height: int,
    level_size: tuple[int, int],
) -> np.ndarray:
    """Read a window that may reach outside the level, filling the outside white.

    Parameters
    ----------
    read_inside : callable
        ``read_inside(x0, y0, x1, y1)`` returns the pixels of that window,
        which is always inside the level, as ``(y1 - y0, x1 - x0, 3)`` uint8.
    x, y : int
        Top-left corner of the window in level pixels (may be negative).
    width, height : int
        Window size in level pixels.
    level_size : tuple of int
        ``(level_w, level_h)``.

    Returns
    -------
    np.ndarray
        ``(height, width, 3)`` uint8.
    """
    canvas = np.full((height, width, 3), WHITE, dtype=np.uint8)
    inside = clip_window(x, y, width, height, level_size)
    if inside is None:
        return canvas
    x0, y0, x1, y1 = inside
    canvas[y0 - y : y1 - y, x0 - x : x1 - x] = read_inside(x0, y0, x1, y1)
    return canvas
