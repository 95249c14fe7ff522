"""Convex-hull pixel counts of many objects at once, as skimage counts them (pure).

:func:`skimage.morphology.convex_hull_image` takes the convex hull of the
midpoints of every object pixel's edges (pixel centre +- 0.5 along one
axis) and keeps the pixels whose centre lies inside or on it; skimage's
``area_convex`` is that pixel count. The same hull is spanned by the edge
midpoints next to the *convex* corners of the object's outer rings, so
:func:`hull_pixel_counts`:

1. builds those points from packed integer rings (pixel centres moved to
   integer positions);
2. keeps, per object and column, the highest and lowest point, and prunes
   each chain to the upper / lower hull by repeatedly dropping every
   point that does not turn the right way (all objects in each pass);
3. counts the integer points between the two hull chains, column by
   column (``floor(y_high) - ceil(y_low) + 1``).
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-9


def hull_pixel_counts(corners: np.ndarray, starts: np.ndarray, owner: np.ndarray, count: int) -> np.ndarray:
    """Number of pixel centres inside or on each object's convex hull.

    Parameters
    ----------
    corners : np.ndarray
        ``(n, 2)`` integer-valued ``(x, y)`` pixel-edge corners of packed
        rings with positive shoelace area (see
        :class:`wsinuc.instances.rings.PackedRings`).
    starts : np.ndarray
        ``(m + 1,)`` ring offsets into ``corners``.
    owner : np.ndarray
        ``(m,)`` object index ``0..count-1`` of each ring, non-decreasing
        (an object may own several rings: its pieces).
    count : int
        Number of objects.

    Returns
    -------
    np.ndarray
        float64 ``(count,)`` pixel counts (skimage's ``area_convex``).
    """
    if count == 0 or corners.shape[0] == 0:
        return np.zeros(count)
    ring = np.repeat(np.arange(starts.size - 1), np.diff(starts))
    following = np.arange(corners.shape[0]) + 1
    following[starts[1:] - 1] = starts[:-1]
    preceding = np.empty_like(following)
    preceding[following] = np.arange(corners.shape[0])
    ahead, behind = corners[following] - corners, corners - corners[preceding]
    convex = behind[:, 0] * ahead[:, 1] - behind[:, 1] * ahead[:, 0] > 0
    centre = corners[convex] - 0.5
    step_ahead, step_behind = np.sign(ahead[convex]), np.sign(behind[convex])
    points = np.concatenate([centre + 0.5 * step_ahead, centre - 0.5 * step_behind])
    along_x = np.concatenate([step_ahead[:, 0], step_behind[:, 0]])
    objects = np.tile(owner[ring[convex]], 2)
    total = np.zeros(count)
    for sign in (1.0, -1.0):
        # rings run -x along their high-y side: +x edges cannot reach the high-y chain
        side = along_x != sign
        obj, x, y = _chain(objects[side], points[side, 0], sign * points[side, 1])
        total += _column_sums(obj, x, sign * y, count, upper=sign > 0)
    return total


def _chain(obj: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Upper convex chain (largest ``y``) of each object's points, sorted by ``x``."""
    # x, y are multiples of 1/2: one integer key orders by (obj, x, -y)
    x2, y2 = np.round(2 * x).astype(np.int64), np.round(2 * y).astype(np.int64)
    x2 -= x2.min()
    y2 = y2.max() - y2
    order = np.argsort((obj * (x2.max() + 1) + x2) * (y2.max() + 1) + y2)
    obj, x, y = obj[order], x[order], y[order]
    first = np.ones(obj.size, dtype=bool)
    first[1:] = (obj[1:] != obj[:-1]) | (x[1:] != x[:-1])
    obj, x, y = obj[first], x[first], y[first]
    while obj.size > 2:
        inner = np.zeros(obj.size, dtype=bool)
        inner[1:-1] = (obj[:-2] == obj[1:-1]) & (obj[2:] == obj[1:-1])
        index = np.flatnonzero(inner)
        cross = (x[index] - x[index - 1]) * (y[index + 1] - y[index - 1]) - (y[index] - y[index - 1]) * (
            x[index + 1] - x[index - 1]
        )
        drop = index[cross >= 0]  # not strictly above the chord of its neighbours
        if drop.size == 0:
            break
        keep = np.ones(obj.size, dtype=bool)
        keep[drop] = False
        obj, x, y = obj[keep], x[keep], y[keep]
    return obj, x, y


def _column_sums(obj: np.ndarray, x: np.ndarray, y: np.ndarray, count: int, *, upper: bool) -> np.ndarray:
    """Sum over integer columns of ``floor(y) + 1`` (upper chain) or ``-ceil(y)`` (lower).

    Each chain segment covers the half-open columns ``[ceil(x_a), ceil(x_b))``;
    the last column of an object (``x = x_max`` when integral) is added
    from the chain's last point.
    """
    same = obj[1:] == obj[:-1]
    x0, x1, y0, y1, owner = x[:-1][same], x[1:][same], y[:-1][same], y[1:][same], obj[:-1][same]
    first = np.ceil(x0 - _EPS)
    span = (np.ceil(x1 - _EPS) - first).astype(np.int64)
    segment = np.repeat(np.arange(x0.size), span)
    column = first[segment] + (np.arange(segment.size) - np.repeat(np.cumsum(span) - span, span))
    height = y0[segment] + (column - x0[segment]) * (y1[segment] - y0[segment]) / (x1[segment] - x0[segment])
    last = np.append(obj[1:] != obj[:-1], True)
    integral = np.abs(x[last] - np.round(x[last])) < _EPS
    if upper:
        values, end_values = np.floor(height + _EPS) + 1, np.floor(y[last] + _EPS) + 1
    else:
        values, end_values = -np.ceil(height - _EPS), -np.ceil(y[last] - _EPS)
    total = np.bincount(owner[segment], values, count)
    return total + np.bincount(obj[last], np.where(integral, end_values, 0.0), count)
