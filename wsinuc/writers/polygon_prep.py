"""Clean one outline for GeoJSON: round, repair, orient (the per-polygon reference path).

:func:`prepare_rings` is what :meth:`GeoJSONWriter.write` applies to every
outline, and what :meth:`GeoJSONWriter.write_rings` applies to the few rings
its vectorised checks send back (see :mod:`wsinuc.writers.geojson_rings`).
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

__all__ = ["drop_repeated_points", "prepare_polygon", "prepare_rings"]

def _largest_polygon(geometry: shapely.Geometry) -> Polygon | None:
    """Return the largest-area Polygon inside any geometry, or None if it has none."""
    polygons = shapely.get_parts(geometry)
    while any(hasattr(part, "geoms") for part in polygons):
        polygons = shapely.get_parts(polygons)
    polygons = [p for p in polygons if isinstance(p, Polygon) and p.area > 0]
    return max(polygons, key=lambda p: p.area) if polygons else None


def _as_polygon(polygon: Polygon | np.ndarray) -> Polygon:
    """Return a shapely Polygon from a Polygon or an (n, 2) array of x, y vertices."""
    if isinstance(polygon, Polygon):
        return polygon
    vertices = np.asarray(polygon, dtype=float)
    if vertices.ndim != 2 or vertices.shape[1] != 2 or len(vertices) < 3:
        raise ValueError(
            f"polygon must be a shapely Polygon or an (n >= 3, 2) array of x, y; "
            f"got array of shape {vertices.shape}"
        )
    return shapely.polygons(vertices)


def _signed_area(ring: np.ndarray) -> float:
    """Shoelace area of a closed ring; positive when counter-clockwise (x right, y up)."""
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))


def drop_repeated_points(ring: np.ndarray) -> np.ndarray:
    """Return a closed ring without consecutive repeated vertices (it stays closed)."""
    keep = np.ones(len(ring), dtype=bool)
    keep[1:] = (ring[1:] != ring[:-1]).any(axis=1)
    return ring[keep]


def _oriented_rings(polygon: Polygon, decimals: int) -> list[np.ndarray]:
    """Return rounded closed rings: exterior counter-clockwise, holes clockwise."""
    rings = [polygon.exterior, *polygon.interiors]
    rounded = [np.round(shapely.get_coordinates(ring), decimals) for ring in rings]
    wanted_sign = [1.0] + [-1.0] * (len(rounded) - 1)
    return [r if _signed_area(r) * sign > 0 else r[::-1] for r, sign in zip(rounded, wanted_sign)]


def _simple_rings(geometry: Polygon, decimals: int) -> list[np.ndarray] | None:
    """Fast path for a hole-free polygon that stays valid after rounding, else None.

    Consecutive vertices that rounding made equal are dropped.
    """
    if shapely.get_num_interior_rings(geometry) != 0:
        return None
    ring = shapely.get_coordinates(geometry)
    rounded = drop_repeated_points(np.round(ring, decimals))
    same = np.array_equal(rounded, ring)
    area = _signed_area(rounded) if len(rounded) >= 4 else 0.0
    if area == 0.0 or not shapely.is_valid(geometry if same else shapely.polygons(rounded)):
        return None
    return [rounded if area > 0 else rounded[::-1]]


def prepare_rings(polygon: Polygon | np.ndarray, decimals: int = 2) -> list[np.ndarray] | None:
    """Return the rings exactly as they will be written, or None if nothing is left.

    A valid polygon is rounded to ``decimals`` places; one that is invalid
    (before or after rounding) is repaired, keeping its largest part, and
    snapped to a ``10**-decimals`` grid, which keeps it valid. Rings are
    closed, the exterior counter-clockwise and holes clockwise (RFC 7946).

    Parameters
    ----------
    polygon : shapely.Polygon or ndarray
        Outline in level-0 pixel coordinates; an array is ``(n, 2)`` x, y.
    decimals : int
        Decimal places kept in coordinates.

    Returns
    -------
    list of ndarray or None
        Closed ``(m, 2)`` rings, exterior first; None when the outline has no
        area after repair and rounding.
    """
    geometry = _as_polygon(polygon)
    if geometry.is_empty:
        return None
    rings = _simple_rings(geometry, decimals)
    if rings is not None:
        return rings
    if not geometry.is_valid:
        geometry = _largest_polygon(shapely.make_valid(geometry))
    if geometry is not None:
        geometry = _largest_polygon(shapely.set_precision(geometry, 10.0**-decimals))
    return None if geometry is None else _oriented_rings(geometry, decimals)


def prepare_polygon(polygon: Polygon | np.ndarray, decimals: int = 2) -> Polygon | None:
    """Return the outline as :class:`GeoJSONWriter` will write it, or None if degenerate.

    The engine can call this first to drop degenerate outlines from every
    output alike; see :func:`prepare_rings` for the steps.
    """
    rings = prepare_rings(polygon, decimals)
    return None if rings is None else Polygon(rings[0], rings[1:])
