"""Round, clean and orient the packed outline rings of a whole chunk at once.

The vectorised counterpart of :func:`wsinuc.writers.polygon_prep.prepare_rings`
for rings given as ``coords[starts[i]:starts[i + 1]]`` (not closed). Every
ring is rounded to ``decimals`` places, consecutive repeated vertices are
dropped, the ring is closed and turned counter-clockwise. A ring left with
fewer than 3 distinct corners is skipped. The few rings that may need a
repair go through :func:`prepare_rings` itself, so the result equals the
per-polygon path ring for ring: rings with no area once rounded, and rings
that rounding moved unless they pass a cheap exact screen (axis-aligned
with every distinct x, and y, more than ``10**-decimals`` apart, as
staircases at any scale are) or shapely finds the rounded ring valid.
Rings are trusted to be valid before rounding (``check_valid=True`` checks
that too, at shapely's cost).

Coordinates are carried as scaled integers ``rint(x * 10**decimals)``:
``scaled / 10**decimals`` is exactly ``np.round(x, decimals)``, and the
integers make the area sign and repeated-vertex tests exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from wsinuc.writers.polygon_prep import prepare_rings

_MAX_SCALED = 2.0**52
_MAX_LOCAL = 2**30


@dataclass(frozen=True)
class PackedPolygons:
    """Polygons ready to print: scaled integer vertices, rings closed and oriented.

    Attributes
    ----------
    rows : ndarray of int64, shape (p,)
        Row (nucleus) of each polygon in the chunk.
    scaled : ndarray of int64, shape (v, 2)
        ``rint(x * 10**decimals)``, ``rint(y * 10**decimals)`` of every vertex.
    ring_lengths : ndarray of int64, shape (r,)
        Vertices per closed ring, in order.
    rings_per_polygon : ndarray of int64, shape (p,)
        Rings per polygon (exterior first, then holes).
    """

    rows: np.ndarray
    scaled: np.ndarray
    ring_lengths: np.ndarray
    rings_per_polygon: np.ndarray


def validate_packed_rings(coords: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``coords`` as float64 (n, 2) and ``starts`` as int64 (k + 1,), checked.

    Raises
    ------
    ValueError
        Wrong shapes, non-finite coordinates, or ``starts`` that do not run
        from 0 to ``n`` without decreasing.
    """
    coords = np.asarray(coords, dtype=np.float64)
    starts = np.asarray(starts)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords must have shape (n, 2), got {coords.shape}")
    if starts.ndim != 1 or len(starts) < 1 or not np.issubdtype(starts.dtype, np.integer):
        raise ValueError(f"starts must be a 1-D int array of k + 1 offsets, got {starts!r}")
    starts = starts.astype(np.int64)
    if starts[0] != 0 or starts[-1] != len(coords) or np.any(np.diff(starts) < 0):
        raise ValueError(
            f"starts must rise from 0 to len(coords)={len(coords)}; got first {starts[0]}, "
            f"last {starts[-1]}, {int(np.sum(np.diff(starts) < 0))} decreasing steps"
        )
    if not np.all(np.isfinite(coords)):
        raise ValueError(f"coords hold {int(np.sum(~np.isfinite(coords)))} non-finite values")
    return coords, starts


def _rows_differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise ``any(a != b)`` of two (n, 2) arrays (faster than ``np.any(axis=1)``)."""
    return (a[:, 0] != b[:, 0]) | (a[:, 1] != b[:, 1])


def _scale(coords: np.ndarray, decimals: int) -> tuple[np.ndarray, np.ndarray]:
    """Return scaled integers and the per-vertex 'rounding moved it' flag."""
    factor = 10.0**decimals
    scaled = np.rint(coords * factor) if decimals else np.rint(coords)
    if scaled.size and np.max(np.abs(scaled)) >= _MAX_SCALED:
        largest = np.max(np.abs(coords))
        raise ValueError(f"coordinates up to {largest} are too large for {decimals=}")
    moved = _rows_differ(scaled / factor if decimals else scaled, coords)
    return scaled.astype(np.int64), moved


def _distinct_vertices(scaled: np.ndarray, starts: np.ndarray, ring_of: np.ndarray) -> np.ndarray:
    """Return the indices of the vertices left once repeated neighbours are dropped (cyclic)."""
    counts = np.diff(starts)
    keep = np.ones(len(scaled), dtype=bool)
    keep[1:] = _rows_differ(scaled[1:], scaled[:-1])
    keep[starts[:-1][counts > 0]] = True
    kept = np.flatnonzero(keep)
    m = np.bincount(ring_of[kept], minlength=len(counts))
    ends = np.cumsum(m)[m > 1] - 1
    firsts = kept[ends - m[m > 1] + 1]
    closes = ~_rows_differ(scaled[kept[ends]], scaled[firsts])
    keep[kept[ends[closes]]] = False
    return np.flatnonzero(keep)


def _twice_area(local: np.ndarray, kept_starts: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Exact shoelace sums (twice the signed area) of rings of integer vertices."""
    nxt = np.arange(1, len(local) + 1)
    nonempty = m > 0
    nxt[kept_starts[1:][nonempty] - 1] = kept_starts[:-1][nonempty]
    cross = local[:, 0] * local[nxt, 1] - local[nxt, 0] * local[:, 1]
    area = np.zeros(len(m), dtype=np.int64)
    if nonempty.any():
        area[nonempty] = np.add.reduceat(cross, kept_starts[:-1][nonempty])
    return area


@dataclass(frozen=True)
class _Distinct:
    """Rings without repeated neighbours: vertex ``kept[starts[i]:starts[i + 1]]`` of ring ``i``."""

    kept: np.ndarray
    starts: np.ndarray
    area: np.ndarray


def _distinct_rings(scaled: np.ndarray, starts: np.ndarray, ring_of: np.ndarray) -> _Distinct:
    """Drop repeated neighbours; twice the exact area (0 for rings too wide to sum exactly)."""
    kept = _distinct_vertices(scaled, starts, ring_of)
    kept_ring = ring_of[kept] if len(kept) < len(scaled) else ring_of
    m = np.bincount(kept_ring, minlength=len(starts) - 1)
    kept_starts = np.concatenate([[0], np.cumsum(m)])
    if not len(kept):
        return _Distinct(kept, kept_starts, np.zeros(len(m), dtype=np.int64))
    points = scaled[kept] if len(kept) < len(scaled) else scaled
    local = points - points[np.minimum(kept_starts[:-1], len(kept) - 1)][kept_ring]
    area = _twice_area(local, kept_starts, m)
    wide = np.maximum(np.abs(local[:, 0]), np.abs(local[:, 1])) >= _MAX_LOCAL
    if wide.any():
        area[np.bincount(kept_ring, wide, len(m)) > 0] = 0
    return _Distinct(kept, kept_starts, area)


def _chunk_on_grid(values: np.ndarray, step: float, unit: float) -> bool:
    """Do all ``values`` lie on one grid of spacing ``step`` > ``unit``, equal per grid point?

    True for a chunk of staircases (``(corner + offset) * scale``); one
    check for the whole chunk instead of one per ring.
    """
    if not step > unit * (1 + 1e-5):
        return False
    t = (values - values.min()) / step
    index = np.rint(t)
    if np.max(np.abs(t - index)) > 1e-6 or index.max() > 8 * len(values) + 1024:
        return False
    index = index.astype(np.int64)
    table = np.empty(int(index.max()) + 1)
    table[index] = values
    return bool(np.all(table[index] == values))


def _axis_on_grid(values, ring_of, firsts, step, unit) -> np.ndarray:
    """Per ring: do its distinct ``values`` lie on a grid of spacing ``step`` > ``unit``?

    Then distinct values differ by more than ``unit`` and keep distinct
    (and in order) when rounded to ``unit``.
    """
    ok = np.isfinite(step) & (step > unit * (1 + 1e-5))
    step = np.where(ok, step, 1.0)
    t = (values - values[firsts][ring_of]) / step[ring_of]
    index = np.rint(t)
    bad = np.abs(t - index) > 1e-6
    index = np.where(bad, 0, index).astype(np.int64)
    low = np.minimum.reduceat(index, firsts)
    span = np.maximum.reduceat(index, firsts) - low + 1
    if span.sum() > 8 * len(values) + 1024:
        return np.zeros(len(firsts), dtype=bool)
    slot = (np.cumsum(span) - span - low)[ring_of] + index
    table = np.empty(int(span.sum()))
    table[slot] = values
    bad |= table[slot] != values
    return ok & (np.bincount(ring_of, bad, len(firsts)) == 0)


def _rounding_keeps_validity(coords: np.ndarray, starts: np.ndarray, decimals: int) -> np.ndarray:
    """Per ring: is it axis-aligned with its x and y values on grids wider than ``10**-decimals``?

    Rounding keeps such a ring's coordinate order on each axis, so it keeps
    which edges meet: a valid ring stays valid (a cheap, exact-when-true test
    that spares shapely for staircases at any scale).
    """
    counts = np.diff(starts)
    nonempty = counts > 0
    firsts, lasts = starts[:-1][nonempty], starts[1:][nonempty] - 1
    ring_of = np.repeat(np.arange(len(firsts)), counts[nonempty])
    following = np.arange(1, len(coords) + 1)
    following[lasts] = firsts
    delta = np.abs(coords[following] - coords)
    aligned = (delta[:, 0] == 0) | (delta[:, 1] == 0)
    ok = np.bincount(ring_of, ~aligned, len(firsts)) == 0
    unit = 10.0**-decimals
    for axis in (0, 1):
        moves = delta[:, axis] > 0
        # Every value of a ring with some extent is held by a vertex whose edge moves on.
        if moves.any() and _chunk_on_grid(coords[moves, axis], delta[moves, axis].min(), unit):
            continue
        step = np.minimum.reduceat(np.where(moves, delta[:, axis], np.inf), firsts)
        ok &= _axis_on_grid(coords[:, axis], ring_of, firsts, step, unit)
    result = np.zeros(len(counts), dtype=bool)
    result[nonempty] = ok
    return result


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Return ``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])``, vectorised."""
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if len(ends) else 0
    return np.arange(total) + np.repeat(starts - ends + lengths, lengths)


def _invalid(points: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Return which rings ``points[starts[i]:starts[i] + lengths[i]]`` are invalid polygons."""
    if not len(lengths):
        return np.zeros(0, dtype=bool)
    index = _ranges(starts, lengths)
    rings = shapely.linearrings(points[index], indices=np.repeat(np.arange(len(lengths)), lengths))
    return ~shapely.is_valid(shapely.polygons(rings))


def _fast_polygons(scaled: np.ndarray, rings: _Distinct, rows: np.ndarray) -> PackedPolygons:
    """Close the given rings and turn clockwise ones (one ring per polygon), without shapely."""
    m = np.diff(rings.starts)[rows]
    lengths = m + 1
    closing = np.cumsum(lengths) - 1
    order = np.empty(int(lengths.sum()), dtype=np.int64)
    body = np.ones(len(order), dtype=bool)
    body[closing] = False
    order[body] = rings.kept[_ranges(rings.starts[rows], m)]
    order[closing] = rings.kept[rings.starts[rows]]
    turned = np.flatnonzero(rings.area[rows] < 0)
    if len(turned):
        first, size = closing[turned] - m[turned] + 1, m[turned] - 1
        slots = _ranges(first, size)
        order[slots] = order[np.repeat(2 * first + size - 1, size) - slots]
    return PackedPolygons(rows, scaled[order], lengths, np.ones(len(rows), dtype=np.int64))


def _slow_polygons(coords, starts, rows, decimals) -> tuple[PackedPolygons, np.ndarray]:
    """Run :func:`prepare_rings` on the few given rows; return them and which survived."""
    done, kept_rows = [], []
    for row in rows:
        rings = prepare_rings(coords[starts[row] : starts[row + 1]], decimals)
        if rings is not None:
            done.append(rings)
            kept_rows.append(row)
    flat = [ring for rings in done for ring in rings]
    scaled = np.rint(np.concatenate(flat) * 10.0**decimals) if flat else np.zeros((0, 2))
    packed = PackedPolygons(
        np.asarray(kept_rows, dtype=np.int64),
        scaled.astype(np.int64),
        np.array([len(ring) for ring in flat], dtype=np.int64),
        np.array([len(rings) for rings in done], dtype=np.int64),
    )
    return packed, packed.rows


def _needs_repair(coords, starts, rings, candidate, moved, decimals, check_valid) -> np.ndarray:
    """Per ring: must it go through :func:`prepare_rings` (invalid once rounded, or before)?"""
    repair = np.zeros(len(candidate), dtype=bool)
    m = np.diff(rings.starts)
    if moved.any():
        moved_rings = np.flatnonzero(candidate & moved)
        suspects = moved_rings[~_rounding_keeps_validity(coords, starts, decimals)[moved_rings]]
        if len(suspects):
            rounded = np.round(coords[rings.kept], decimals)
            repair[suspects[_invalid(rounded, rings.starts[suspects], m[suspects])]] = True
    if check_valid:
        checked = np.flatnonzero(candidate & ~repair)
        counts = np.diff(starts)[checked]
        repair[checked[_invalid(coords, starts[checked], counts)]] = True
    return repair


def prepare_packed_rings(
    coords: np.ndarray, starts: np.ndarray, decimals: int = 2, *, check_valid: bool = False
) -> tuple[np.ndarray, PackedPolygons, PackedPolygons]:
    """Prepare all rings of a chunk as :func:`prepare_rings` would, vectorised.

    Parameters
    ----------
    coords : ndarray, shape (n, 2)
        Packed x, y vertices of every ring, not closed.
    starts : ndarray of int, shape (k + 1,)
        Ring ``i`` is ``coords[starts[i]:starts[i + 1]]``.
    decimals : int
        Decimal places kept.
    check_valid : bool
        Also check each ring is valid before rounding (repairing it as
        :func:`prepare_rings` does when not); off, rings are trusted.

    Returns
    -------
    keep : ndarray of bool, shape (k,)
        Rings written; the others have fewer than 3 distinct corners after
        rounding, or no area left after repair.
    fast, slow : PackedPolygons
        The kept rings prepared by numpy and by :func:`prepare_rings`.
    """
    coords, starts = validate_packed_rings(coords, starts)
    counts = np.diff(starts)
    ring_of = np.repeat(np.arange(len(counts)), counts)
    scaled, moved = _scale(coords, decimals)
    rings = _distinct_rings(scaled, starts, ring_of)
    m = np.diff(rings.starts)
    slow = (m >= 3) & (rings.area == 0)
    moved_rings = np.bincount(ring_of, moved, len(counts)) > 0 if moved.any() else moved[:0]
    args = (coords, starts, rings, ~slow & (m >= 3), moved_rings, decimals, check_valid)
    slow |= _needs_repair(*args)
    fast = _fast_polygons(scaled, rings, np.flatnonzero(~slow & (m >= 3)))
    slow_polygons, slow_kept = _slow_polygons(coords, starts, np.flatnonzero(slow), decimals)
    keep = np.zeros(len(counts), dtype=bool)
    keep[fast.rows] = True
    keep[slow_kept] = True
    return keep, fast, slow_polygons
