"""Resampling between level-0 pixels and the working resolution on one slide-wide grid.

The working grid is anchored to the slide, not to a chunk: working pixel
``k`` has its centre at level-0 pixel coordinate ``(k + 0.5) / s - 0.5``
(pixel-centre alignment, as scikit-image and PIL use), where
``s = grid_scale(scale)`` and ``scale`` is working pixels per level-0 pixel
(``level0_mpp / working_mpp``). A level-0 box ``[x0, x0 + w)`` owns the
working pixels whose centres fall inside it,
``[ceil(x0 * s - 0.5), ceil((x0 + w) * s - 0.5))`` (computed in integers),
so the working boxes of adjacent level-0 boxes tile the working grid without
gap or overlap, and two overlapping reads give the same working pixels on
their overlap (away from the block edges, where the filter runs out of
pixels).

:func:`grid_scale` rounds ``1 / scale`` to a multiple of ``1 / 1024``
(within 0.05 % of the requested scale for scales up to 1, 0.1 % up to 2;
exact for 0.25, 0.5, 1, 2, 4...). Then every sub-pixel position is a short
dyadic fraction, exact in the single-precision box coordinates PIL takes,
and overlapping reads give bit-identical working pixels (for blocks
narrower than 16384 level-0 px).

Both directions use PIL's C resampler with a sub-pixel source box:
bilinear, with a triangle (tent) anti-aliasing filter whose support grows
with the reduction factor when downsampling. The edge pixels of a block are
replicated where a filter reaches past it.

>>> working_box(1000, 2000, 1024, 1024, 2.0)
(2000, 4000, 2048, 2048)
>>> working = to_working(block, (1000, 2000), 2.0)   # doctest: +SKIP
>>> prob0 = to_level0(prob, (2000, 4000), 2.0, (1000, 2000, 1024, 1024))   # doctest: +SKIP
>>> labels0 = labels_to_level0(labels, (2000, 4000), 2.0, (1000, 2000, 1024, 1024))   # doctest: +SKIP
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]
GRID_DENOMINATOR = 1024
"""``1 / scale`` is rounded to a multiple of ``1 / GRID_DENOMINATOR``."""
SCALE_RANGE = (1 / 64, 64.0)


def grid_scale(scale: float) -> float:
    """The working-pixels-per-level-0-pixel ratio the grid really uses for ``scale``.

    ``GRID_DENOMINATOR / round(GRID_DENOMINATOR / scale)``: ``1 / scale``
    rounded to a multiple of ``1 / 1024``, a relative change of at most
    ``scale / 2048``. Report ``level0_mpp / grid_scale(scale)`` as the
    working pixel size.

    Raises
    ------
    ValueError
        When ``scale`` is not a finite number in ``[1/64, 64]``.
    """
    return GRID_DENOMINATOR / _inverse_numerator(scale)


def _inverse_numerator(scale: float) -> int:
    """``n`` such that the grid's level-0 pixels per working pixel are ``n / 1024``."""
    _check_scale(scale)
    return max(1, round(GRID_DENOMINATOR / float(scale)))


def working_span(start: int, stop: int, scale: float) -> tuple[int, int]:
    """Working pixels ``[k0, k1)`` whose centres lie in level-0 ``[start, stop)`` (one axis)."""
    numerator = _inverse_numerator(scale)
    return _first_centre_at_or_after(start, numerator), _first_centre_at_or_after(stop, numerator)


def _first_centre_at_or_after(edge: int, numerator: int) -> int:
    """Smallest ``k`` with ``(k + 0.5) * numerator / 1024 >= edge``, in exact integer arithmetic."""
    return -((numerator - 2 * GRID_DENOMINATOR * int(edge)) // (2 * numerator))


def working_box(x0: int, y0: int, w: int, h: int, scale: float) -> Box:
    """Working-resolution pixels that belong to a level-0 box, on the slide-wide grid.

    Parameters
    ----------
    x0, y0 : int
        Top-left corner of the box in level-0 pixels (may be negative).
    w, h : int
        Box size in level-0 pixels (both > 0).
    scale : float
        Working pixels per level-0 pixel, in ``[1/64, 64]`` (the grid uses
        :func:`grid_scale` of it).

    Returns
    -------
    tuple of int
        ``(wx0, wy0, ww, wh)``: the working pixels whose centres,
        ``(k + 0.5) / s - 0.5`` in level-0 pixel coordinates with
        ``s = grid_scale(scale)``, lie in the
        box. Adjacent boxes give adjacent working boxes (no gap, no overlap);
        ``ww`` or ``wh`` is 0 when the box is narrower than one working pixel.

    Raises
    ------
    ValueError
        When a coordinate is not an integer, the size is not positive or the
        scale is outside ``[1/64, 64]``.
    """
    _check_box("level-0 box", (x0, y0, w, h))
    wx0, wx1 = working_span(int(x0), int(x0) + int(w), scale)
    wy0, wy1 = working_span(int(y0), int(y0) + int(h), scale)
    return wx0, wy0, wx1 - wx0, wy1 - wy0


def to_working(
    block: np.ndarray, origin: tuple[int, int], scale: float, box: Box | None = None
) -> np.ndarray:
    """Resample a level-0 RGB block to the working resolution on the slide-wide grid.

    Parameters
    ----------
    block : np.ndarray
        ``(h, w, 3)`` uint8 RGB pixels read at level 0.
    origin : tuple of int
        Level-0 ``(x0, y0)`` of ``block[0, 0]``.
    scale : float
        Working pixels per level-0 pixel, in ``[1/64, 64]`` (the grid uses
        :func:`grid_scale` of it); below 1 the block is anti-aliased (tent
        filter of support ``1 / scale`` level-0 pixels).
    box : tuple of int, optional
        Working box ``(wx0, wy0, ww, wh)`` to produce; by default
        ``working_box(x0, y0, w, h, scale)``. It must lie inside that default.

    Returns
    -------
    np.ndarray
        ``(wh, ww, 3)`` uint8 working pixels, read-only. When
        ``grid_scale(scale) == 1`` the block itself (or a view of it), not a
        copy. Interior pixels match
        ``skimage.transform.resize(order=1, preserve_range=True)`` rounded
        to within 1 grey level when upsampling; downsampling uses a tent
        instead of a Gaussian anti-aliasing filter (see the tests for the
        tolerance).

    Raises
    ------
    ValueError
        When the block is not ``(h, w, 3)`` uint8, the scale is outside
        ``[1/64, 64]`` or the box is empty or not inside the block's working box.
    """
    if not (isinstance(block, np.ndarray) and block.ndim == 3 and block.shape[2] == 3
            and block.dtype == np.uint8):
        raise ValueError(f"block must be an (h, w, 3) uint8 array, got {_describe(block)}")
    height, width = block.shape[:2]
    target = _inner_box(box, (*origin, width, height), scale)
    wx0, wy0, ww, wh = target
    x0, y0 = origin
    numerator = _inverse_numerator(scale)
    if numerator == GRID_DENOMINATOR:
        if target == (x0, y0, width, height):
            return block
        return block[wy0 - y0 : wy0 - y0 + wh, wx0 - x0 : wx0 - x0 + ww]
    step = numerator / GRID_DENOMINATOR  # level-0 pixels per working pixel, exact
    source = (wx0 * step - x0, wy0 * step - y0, (wx0 + ww) * step - x0, (wy0 + wh) * step - y0)
    return np.asarray(_resize(block, source, (ww, wh)))


def to_level0(
    prob: np.ndarray, working_origin: tuple[int, int], scale: float, level0_box: Box
) -> np.ndarray:
    """Resample a working-resolution float map back to a level-0 box (bilinear, same grid).

    Parameters
    ----------
    prob : np.ndarray
        ``(wh, ww)`` float map (probabilities) at the working resolution.
    working_origin : tuple of int
        Working ``(wx0, wy0)`` of ``prob[0, 0]``.
    scale : float
        Working pixels per level-0 pixel, in ``[1/64, 64]`` (the grid uses
        :func:`grid_scale` of it); above 1 the map is anti-aliased (tent
        filter of support ``scale`` working pixels).
    level0_box : tuple of int
        ``(x0, y0, w, h)`` level-0 box to produce. Its working box
        (:func:`working_box`) must lie inside the map.

    Returns
    -------
    np.ndarray
        ``(h, w)`` float32, read-only. When ``grid_scale(scale) == 1`` the
        map itself (or a view) if it is float32 already. PIL takes the source
        box in single precision: overlapping calls agree to about 1e-4
        working pixel in position (not bit for bit, unlike :func:`to_working`).

    Raises
    ------
    ValueError
        When ``prob`` is not a 2-D float array, the scale is outside
        ``[1/64, 64]`` or the box reaches beyond the map.
    """
    (x0, y0, w, h), (wx0, wy0), numerator = _level0_target(prob, "prob", np.floating, working_origin, scale,
                                                           level0_box)
    prob = prob.astype(np.float32, copy=False)
    if numerator == GRID_DENOMINATOR:
        if (x0, y0, w, h) == (wx0, wy0, prob.shape[1], prob.shape[0]):
            return prob
        return prob[y0 - wy0 : y0 - wy0 + h, x0 - wx0 : x0 - wx0 + w]
    source = (_working_edge(x0, wx0, numerator), _working_edge(y0, wy0, numerator),
              _working_edge(x0 + w, wx0, numerator), _working_edge(y0 + h, wy0, numerator))
    return np.asarray(_resize(prob, source, (w, h)))


def labels_to_level0(
    labels: np.ndarray, working_origin: tuple[int, int], scale: float, level0_box: Box
) -> np.ndarray:
    """Nearest-neighbour resampling of a working-resolution label image to a level-0 box (same grid).

    Level-0 pixel ``x`` takes the label of the working pixel whose centre is
    nearest to its centre, ``floor((x + 0.5) * s)`` with ``s = grid_scale(scale)``
    (computed in integers), so overlapping calls agree exactly. Working pixels
    at the edge of ``labels`` stand in for the one beyond it when a level-0
    edge pixel's nearest centre lies just outside.

    Parameters
    ----------
    labels : np.ndarray
        ``(wh, ww)`` integer labels at the working resolution.
    working_origin : tuple of int
        Working ``(wx0, wy0)`` of ``labels[0, 0]``.
    scale : float
        Working pixels per level-0 pixel, in ``[1/64, 64]``.
    level0_box : tuple of int
        ``(x0, y0, w, h)`` level-0 box to produce; its working box
        (:func:`working_box`) must lie inside ``labels``.

    Returns
    -------
    np.ndarray
        ``(h, w)`` labels, same dtype. An object narrower than a level-0
        pixel may vanish, and a thin one fall into pieces.

    Raises
    ------
    ValueError
        When ``labels`` is not a 2-D integer array, the scale is outside
        ``[1/64, 64]`` or the box reaches beyond the labels.
    """
    (x0, y0, w, h), (wx0, wy0), numerator = _level0_target(labels, "labels", np.integer, working_origin, scale,
                                                           level0_box)
    columns = _nearest_working(np.arange(x0, x0 + w), numerator) - wx0
    rows = _nearest_working(np.arange(y0, y0 + h), numerator) - wy0
    columns = np.clip(columns, 0, labels.shape[1] - 1)
    rows = np.clip(rows, 0, labels.shape[0] - 1)
    return labels[np.ix_(rows, columns)]


def _level0_target(
    array: object, name: str, kind: type, working_origin: object, scale: float, level0_box: Box
) -> tuple[Box, tuple[int, int], int]:
    """Check a working-resolution map and the level-0 box to make of it.

    Returns the box and origin as integers and the grid's numerator; raises
    ``ValueError`` when ``array`` is not 2-D of ``kind`` (``np.floating`` or
    ``np.integer``) or the box needs working pixels outside it.
    """
    if not (isinstance(array, np.ndarray) and array.ndim == 2 and np.issubdtype(array.dtype, kind)):
        word = "float" if kind is np.floating else "integer"
        raise ValueError(f"{name} must be a 2-D {word} array, got {_describe(array)}")
    _check_origin("working_origin", working_origin)
    inner = working_box(*level0_box, scale)
    _require_inside("level0_box", level0_box, inner, (*working_origin, array.shape[1], array.shape[0]))
    box = tuple(int(value) for value in level0_box)
    origin = tuple(int(value) for value in working_origin)
    return box, origin, _inverse_numerator(scale)


def _nearest_working(level0: np.ndarray, numerator: int) -> np.ndarray:
    """Working pixel whose centre is nearest each level-0 pixel centre: ``floor((x + 0.5) * 1024 / n)``."""
    return ((2 * level0.astype(np.int64) + 1) * GRID_DENOMINATOR) // (2 * numerator)


def _working_edge(level0_edge: int, working_origin: int, numerator: int) -> float:
    """Working coordinate, relative to ``working_origin``, of a level-0 pixel edge."""
    return (GRID_DENOMINATOR * level0_edge - numerator * working_origin) / numerator


def _resize(
    image: np.ndarray, source: tuple[float, float, float, float], size: tuple[int, int]
) -> Image.Image:
    """PIL bilinear resize of ``source`` (pixel edges, may reach 1-2 px outside) to ``size``.

    Where the source box reaches past the image, the edge rows and columns
    are replicated first (PIL refuses boxes outside the image).
    """
    height, width = image.shape[:2]
    left, top, right, bottom = source
    pads = (
        (math.ceil(max(0.0, -top)), math.ceil(max(0.0, bottom - height))),
        (math.ceil(max(0.0, -left)), math.ceil(max(0.0, right - width))),
    )
    if any(any(pair) for pair in pads):
        image = np.pad(image, pads + ((0, 0),) * (image.ndim - 2), mode="edge")
        left, right = left + pads[1][0], right + pads[1][0]
        top, bottom = top + pads[0][0], bottom + pads[0][0]
    return Image.fromarray(image).resize(size, Image.Resampling.BILINEAR, box=(left, top, right, bottom))


def _inner_box(box: Box | None, level0_box: Box, scale: float) -> Box:
    """The validated working box to produce from a block covering ``level0_box``."""
    _check_origin("origin", level0_box[:2])
    outer = working_box(*level0_box, scale)
    if box is None:
        _require_inside("block of level-0 box", level0_box, outer, outer)
        return outer
    _check_box("box", box)
    _require_inside("box", box, box, outer)
    return tuple(int(value) for value in box)


def _require_inside(name: str, given: Box, inner: Box, outer: Box) -> None:
    """Raise when working box ``inner`` (derived from ``given``) is empty or not inside ``outer``."""
    ix, iy, iw, ih = inner
    ox, oy, ow, oh = outer
    if iw <= 0 or ih <= 0:
        raise ValueError(f"{name} {tuple(given)} holds no working pixel (working box {tuple(inner)})")
    if ix < ox or iy < oy or ix + iw > ox + ow or iy + ih > oy + oh:
        raise ValueError(f"{name} {tuple(given)} needs working pixels {tuple(inner)}, "
                         f"outside the available {tuple(outer)}")


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_origin(name: str, origin: object) -> None:
    if not (isinstance(origin, (tuple, list)) and len(origin) == 2 and all(_is_int(v) for v in origin)):
        raise ValueError(f"{name} must be two integers (x, y), got {origin!r}")


def _check_box(name: str, box: object) -> None:
    if not (isinstance(box, (tuple, list)) and len(box) == 4 and all(_is_int(v) for v in box)):
        raise ValueError(f"{name} must be four integers (x, y, w, h), got {box!r}")
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"{name} size must be positive, got {tuple(box)}")


def _check_scale(scale: object) -> None:
    low, high = SCALE_RANGE
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.floating, np.integer)) \
            or not low <= scale <= high:
        raise ValueError(f"scale must be a number in [1/64, 64], got {scale!r}")


def _describe(array: object) -> str:
    if isinstance(array, np.ndarray):
        return f"shape {array.shape} dtype {array.dtype}"
    return type(array).__name__
