"""Exact morphology primitives, with OpenCV when it imports and SciPy otherwise (private).

OpenCV (``opencv-python``, installed with the optional ``tiatoolbox`` extra)
runs these filters several times faster than SciPy on one core. Every
function gives the same result on both routes (checked in
``tests/instances/test_fast_paths.py``); ``use_cv2=False`` forces SciPy.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

try:
    import cv2
except ImportError:  # pragma: no cover - depends on the environment
    cv2 = None

SQUARE3 = np.ones((3, 3), dtype=np.uint8)


def has_cv2() -> bool:
    """Whether the OpenCV route is available."""
    return cv2 is not None


def open_square(mask: np.ndarray, size: int, use_cv2: bool = True) -> np.ndarray:
    """Binary opening of boolean ``mask`` with a ``size`` square, outside the array = background.

    Same pixels as ``ndimage.binary_opening(mask, np.ones((size, size)))``:
    erosion windows ``[i - size // 2, i - size // 2 + size)`` with zeros
    outside the array, then the dilation by the reflected square; each as
    two 1-D passes (NumPy route: logical and / or of shifted slices).
    """
    mask = np.asarray(mask, dtype=bool)
    if use_cv2 and cv2 is not None and size % 2 == 1:
        kernel = np.ones((size, size), dtype=np.uint8)
        return cv2.morphologyEx(np.ascontiguousarray(mask).view(np.uint8), cv2.MORPH_OPEN, kernel,
                                borderType=cv2.BORDER_CONSTANT, borderValue=0).view(bool)
    centre = size // 2
    eroded = mask
    for axis in (1, 0):
        eroded = _window_reduce(eroded, size, axis, np.logical_and)[_along(axis, size - centre, None)]
    opened = eroded
    for axis in (1, 0):
        opened = _window_reduce(opened, size, axis, np.logical_or)[_along(axis, centre + 1, None)]
    return np.ascontiguousarray(opened[: mask.shape[0], : mask.shape[1]])


def _window_reduce(array: np.ndarray, size: int, axis: int, combine: np.ufunc) -> np.ndarray:
    """``out[t] = combine over padded[t : t + size]`` along ``axis``, ``array`` padded with ``size`` False.

    Built by doubling (windows of 1, 2, 4, ... pixels), so it costs about
    ``2 log2(size)`` passes. The result has ``array.shape[axis] + size + 1``
    entries along ``axis``; entry ``t`` covers ``array[t - size : t]``.
    """
    widths = [(0, 0), (0, 0)]
    widths[axis] = (size, size)
    power, power_size = np.pad(array, widths), 1
    total, total_size = None, 0
    remaining = size
    while remaining:
        if remaining & 1:
            total = power if total is None else _shifted(total, power, total_size, axis, combine)
            total_size += power_size
        remaining >>= 1
        if remaining:
            power, power_size = _shifted(power, power, power_size, axis, combine), 2 * power_size
    return total[_along(axis, 0, total.shape[axis] - size + 1)]


def _shifted(first: np.ndarray, second: np.ndarray, shift: int, axis: int, combine: np.ufunc) -> np.ndarray:
    """``combine(first[t], second[t + shift])`` along ``axis`` (the last ``shift`` entries keep ``first``)."""
    out = first.copy()
    length = first.shape[axis] - shift
    combine(first[_along(axis, 0, length)], second[_along(axis, shift, shift + length)],
            out=out[_along(axis, 0, length)])
    return out


def _along(axis: int, start: int | None, stop: int | None) -> tuple[slice, slice]:
    """Index of ``start:stop`` along ``axis`` of a 2-D array."""
    return (slice(None), slice(start, stop)) if axis == 1 else (slice(start, stop), slice(None))


def maximum3(image: np.ndarray, use_cv2: bool = True) -> np.ndarray:
    """3 x 3 maximum filter of a non-negative float32 ``image`` with zeros outside the array."""
    if use_cv2 and cv2 is not None:
        return cv2.dilate(image, SQUARE3, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    rows = image.copy()
    np.maximum(rows[1:], image[:-1], out=rows[1:])
    np.maximum(rows[:-1], image[1:], out=rows[:-1])
    out = rows.copy()
    np.maximum(out[:, 1:], rows[:, :-1], out=out[:, 1:])
    np.maximum(out[:, :-1], rows[:, 1:], out=out[:, :-1])
    return out


def squared_edt(inside: np.ndarray, use_cv2: bool = True) -> np.ndarray:
    """Squared Euclidean distance of each ``inside`` pixel to the nearest outside pixel.

    ``inside`` must be background along its edges (then no route depends on
    how it treats the array edge). Returns float32 integers ``k`` (exact
    below 2**22): they order pixels as the distances do, equal distances
    stay equal whatever the route's rounding, and :func:`exact_values`
    turns them into the float64 values of
    :func:`scipy.ndimage.distance_transform_edt`.
    """
    if use_cv2 and cv2 is not None:
        distances = cv2.distanceTransform(inside.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        return np.rint(np.square(distances))
    nearest = ndimage.distance_transform_edt(inside, return_distances=False, return_indices=True)
    rows = nearest[0] - np.arange(inside.shape[0], dtype=nearest.dtype)[:, None]
    cols = nearest[1] - np.arange(inside.shape[1], dtype=nearest.dtype)[None, :]
    squared = rows * rows
    squared += cols * cols
    return squared.astype(np.float32)


def exact_values(squared: np.ndarray) -> np.ndarray:
    """float64 distances ``sqrt(k)`` of squared distances ``k`` from :func:`squared_edt`."""
    return np.sqrt(np.asarray(squared, dtype=np.float64))
