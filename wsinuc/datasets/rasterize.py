"""Polygons to an instance label map, the way MoNuSeg's published masks were made.

The MoNuSeg masks (the organisers' and the FullNet/huiqu18 instance PNGs in
the shared data folder) were drawn with MATLAB's ``poly2mask`` on the XML
vertices exactly as written, which MATLAB reads as 1-based pixel
coordinates. :func:`rasterize_polygons` follows the same rule, so masks made
here from XML match the published PNGs pixel for pixel (checked on the 13
training images that have both; see ``tests/datasets/test_monuseg.py``).
The rule for one polygon:

1. Coordinates are 1-based: the centre of array pixel ``(row r, col c)`` is
   at ``(x, y) = (c + 1, r + 1)``.
2. Vertices snap to a grid 5 times finer than the pixels
   (``round(5 * v - 1.5)``, halves away from zero).
3. Each edge becomes a digital line on that grid (one point per step along
   its longer axis, the other coordinate rounded), so the outline is a
   staircase of unit steps.
4. Each horizontal step that crosses the centre column of pixel column ``c``
   toggles inside/outside for that column from its pixel row downwards;
   pixels toggled an odd number of times are inside.

For integer vertices this means: a rectangle with corners ``(x0, y0)`` and
``(x1, y1)`` covers columns ``x0 .. x1-1`` and rows ``y0 .. y1-1``.

Why this rule: against the 13 training PNGs (mean over nuclei of the best
IoU with any rasterised nucleus), this rule with "first polygon keeps
overlaps" scores 1.000 (identical pixels); the same with "last polygon
wins" 0.980; ``skimage.draw.polygon`` on the vertices as written 0.832,
shifted by -0.5 px 0.909, by -1 px 0.961; PIL ``ImageDraw.polygon`` 0.874;
``cv2.fillPoly`` 0.82-0.87.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

SUBPIXELS = 5
"""Grid refinement of the scan conversion (MATLAB's ``poly2mask`` uses 5)."""

_CENTRE_STEP = (SUBPIXELS + 1) // 2
"""Fine-grid column index (mod 5) of the step that crosses a pixel-centre column."""


class PolygonMask(NamedTuple):
    """One polygon drawn inside its bounding box.

    Attributes
    ----------
    mask : np.ndarray
        bool ``(h, w)``: True inside the polygon.
    top, left : int
        Row and column of ``mask[0, 0]`` in the full image.
    """

    mask: np.ndarray
    top: int
    left: int


def rasterize_polygons(polygons: Sequence[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Draw polygons into an int32 instance map.

    Parameters
    ----------
    polygons : sequence of np.ndarray
        Each ``(n, 2)`` float vertices ``(x, y)`` in MoNuSeg XML coordinates
        (see the module docstring). Polygons with fewer than 3 vertices, or
        that cover no pixel centre, get no id.
    shape : tuple of int
        ``(height, width)`` of the output.

    Returns
    -------
    np.ndarray
        int32 ``(height, width)``: 0 background, ids ``1..N`` in polygon order
        (skipping polygons that drew nothing). Where polygons overlap, the
        first polygon keeps the pixel, as in the published MoNuSeg masks.

    Examples
    --------
    >>> square = np.array([[2, 1], [6, 1], [6, 4], [2, 4]], dtype=float)
    >>> labels = rasterize_polygons([square], (6, 8))
    >>> int((labels == 1).sum())  # columns 2..5, rows 1..3
    12
    """
    height, width = _validate_shape(shape)
    drawable = [_validate_vertices(v, i) for i, v in enumerate(polygons)]
    drawable = [v for v in drawable if len(v) >= 3]
    labels = np.zeros((height, width), dtype=np.int32)
    next_id = 1
    for rows, cols in _parity_toggles(drawable):
        drawn = _fill_between_toggles(rows, cols, (height, width))
        if drawn is None:
            continue
        box_rows, box_cols = drawn.mask.shape
        window = labels[drawn.top : drawn.top + box_rows, drawn.left : drawn.left + box_cols]
        free = drawn.mask & (window == 0)
        if free.any():
            window[free] = next_id
            next_id += 1
    return labels


def _fill_between_toggles(
    rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]
) -> PolygonMask | None:
    """Parity fill of one polygon's toggles inside its bounding box (None if empty)."""
    if rows.size == 0:
        return None
    height, width = shape
    bottom = min(int(rows.max()), height)
    inside = (cols >= 0) & (cols < width) & (rows < bottom)
    if not inside.any():
        return None
    rows, cols = rows[inside], cols[inside]
    top, left = int(rows.min()), int(cols.min())
    box = (bottom - top, int(cols.max()) - left + 1)
    flat = (rows - top) * box[1] + (cols - left)
    toggles = np.bincount(flat, minlength=box[0] * box[1]).reshape(box)
    mask = (np.cumsum(toggles, axis=0) & 1).astype(bool)
    return PolygonMask(mask, top, left) if mask.any() else None


def _parity_toggles(polygons: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per polygon, the pixel ``(rows, cols)`` where its outline toggles inside/outside.

    All polygons are traced in one vectorised pass. Rows above the image
    move to row 0 (as in ``poly2mask``); nothing else is clipped here.
    """
    if not polygons:
        return []
    sizes = np.array([len(p) for p in polygons])
    fine = _snap_to_fine_grid(np.concatenate(polygons))
    following = np.arange(len(fine)) + 1
    last = np.cumsum(sizes) - 1
    following[last] = last - sizes + 1
    x_step, y_step, segment = _staircase_steps(fine, fine[following])
    x_left = x_step.min(axis=1)
    crosses_centre = (x_step[:, 0] != x_step[:, 1]) & (x_left % SUBPIXELS == _CENTRE_STEP)
    x_left, segment = x_left[crosses_centre], segment[crosses_centre]
    y_upper = y_step[crosses_centre].min(axis=1)
    cols = (x_left - _CENTRE_STEP) // SUBPIXELS
    rows = np.maximum(-((-(y_upper + SUBPIXELS // 2)) // SUBPIXELS) - 1, 0)
    owner = np.repeat(np.arange(len(polygons)), sizes)[segment]
    bounds = np.searchsorted(owner, np.arange(len(polygons) + 1))
    return [(rows[a:b], cols[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _snap_to_fine_grid(vertices: np.ndarray) -> np.ndarray:
    """1-based pixel coordinates to integer fine-grid coordinates, ``(n, 2)`` int64."""
    scaled = np.round(SUBPIXELS * vertices - (SUBPIXELS - 2) / 2, 6)
    return (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int64)


def _staircase_steps(
    start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every unit step of the digital lines from ``start[i]`` to ``end[i]``.

    Returns ``(x, y, segment)``: ``x`` and ``y`` are ``(steps, 2)``, the
    fine-grid coordinates before and after each step, and ``segment`` the
    line ``i`` each step belongs to (ascending). A line runs along its
    longer axis (x on ties) from its lower end, rounding the other
    coordinate exactly (halves away from zero), so an edge gives the same
    steps whichever way it is traced.
    """
    delta = end - start
    along_x = np.abs(delta[:, 0]) >= np.abs(delta[:, 1])
    major = np.where(along_x, 0, 1)
    every = np.arange(len(delta))
    length = np.abs(delta[every, major])
    backwards = delta[every, major] < 0
    origin = np.where(backwards[:, None], end, start)
    rise = np.where(backwards, -1, 1) * delta[every, 1 - major]
    segment = np.repeat(every, length)
    first_step = np.repeat(np.cumsum(length) - length, length)
    step = np.arange(len(segment)) - first_step
    step = np.stack([step, step + 1], axis=1)
    run = length[segment][:, None]
    along = origin[segment, major[segment]][:, None] + step
    across_start = origin[segment, 1 - major[segment]][:, None]
    across = _divide_round(across_start * run + rise[segment][:, None] * step, run)
    horizontal = along_x[segment][:, None]
    return np.where(horizontal, along, across), np.where(horizontal, across, along), segment


def _divide_round(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Exact ``numerator / denominator`` (denominator > 0), halves away from zero."""
    magnitude = (2 * np.abs(numerator) + denominator) // (2 * denominator)
    return np.sign(numerator) * magnitude


def _validate_shape(shape: tuple[int, int]) -> tuple[int, int]:
    if len(shape) != 2 or any(int(s) != s or s <= 0 for s in shape):
        raise ValueError(f"shape must be (height, width) positive integers, got {shape!r}")
    return int(shape[0]), int(shape[1])


def _validate_vertices(vertices: np.ndarray, index: int) -> np.ndarray:
    array = np.asarray(vertices, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(
            f"polygon {index} must be an (n, 2) array of (x, y), got shape {array.shape}"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"polygon {index} has non-finite vertices")
    return array
