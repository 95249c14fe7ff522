"""Label image -> one outline per object, in slide coordinates (pure).

:func:`label_rings` traces every object at once into :class:`PackedRings`
(see :mod:`wsinuc.instances.rings` for the algorithm);
:func:`label_polygons` wraps them as shapely polygons.

Pixel convention
----------------
Pixel ``(row r, col c)`` is the unit square ``[c, c + 1] x [r, r + 1]`` in
*pixel-edge* coordinates; its centre is ``(c + 0.5, r + 0.5)``. The
polygon of an object follows the outer boundary of its pixel squares
exactly (a staircase through pixel corners, holes filled), so:

* its area equals the object's pixel count (holes filled);
* testing pixel centres ``(c + 0.5, r + 0.5)`` for inclusion (shapely
  ``contains``, or ``skimage.draw.polygon`` on ``vertices - 0.5``) gives
  back the mask exactly.

Slide coordinates are ``x = (x_edge + offset_x) * scale`` and
``y = (y_edge + offset_y) * scale``: ``offset`` is the block's top-left
corner at the working resolution (e.g. ``tile.valid_box.x0, .y0``) and
``scale`` the working-resolution downsample relative to level 0.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from scipy import ndimage
from shapely import make_valid
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from skimage.measure import find_contours

from wsinuc.instances._labels import compact_labels, validate_labels
from wsinuc.instances.rings import PackedRings, trace_rings


def label_rings(
    labels: np.ndarray,
    *,
    offset: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    simplify_tolerance: float = 0.0,
) -> PackedRings:
    """Outer ring of every object of a label image, packed, without a per-object loop.

    Parameters
    ----------
    labels : np.ndarray
        2-D non-negative integer labels; 0 is background.
    offset : tuple[float, float], optional
        ``(x0, y0)`` of the array's top-left corner at the working
        resolution.
    scale : float, optional
        Level-0 pixels per working pixel.
    simplify_tolerance : float, optional
        Douglas-Peucker tolerance in output units (0 keeps the exact
        staircase); topology is preserved and every ring stays a valid
        polygon exterior.

    Returns
    -------
    PackedRings
        ``ids`` increasing; ring ``i`` is the exterior of the object's
        largest 4-connected piece with holes filled, through the corners of
        its pixel staircase (collinear vertices dropped), not closed, with
        positive shoelace area in ``(x right, y down)`` coordinates
        (shapely's counter-clockwise). The same outline as
        :func:`label_polygons`; the start vertex is the ring's
        top-left-most corner.

    Raises
    ------
    ValueError
        If ``labels`` is not a 2-D non-negative integer array or an option
        is out of range.
    """
    array = validate_labels(labels)
    _validate_transform(offset, scale, simplify_tolerance)
    compact, ids = compact_labels(array)
    present, corners, starts = trace_rings(compact, ids)
    origin = np.array([float(offset[0]), float(offset[1])])
    rings = PackedRings(present, (corners + origin) * float(scale), starts)
    if simplify_tolerance > 0 and len(rings):
        rings = simplify_rings(rings, float(simplify_tolerance))
    return rings


def label_polygons(
    labels: np.ndarray,
    *,
    offset: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    simplify_tolerance: float = 0.0,
) -> list[tuple[int, Polygon]]:
    """Outline every object of a label image as shapely polygons.

    A thin wrapper over :func:`label_rings` (same parameters).

    Returns
    -------
    list[tuple[int, shapely.geometry.Polygon]]
        ``(label_id, polygon)`` in increasing id order; polygons are valid,
        closed, without holes, exterior counter-clockwise. An object made
        of several pieces keeps its largest piece.

    Raises
    ------
    ValueError
        If ``labels`` is not a 2-D non-negative integer array or an option
        is out of range.
    """
    rings = label_rings(labels, offset=offset, scale=scale, simplify_tolerance=simplify_tolerance)
    return list(zip(rings.ids.tolist(), rings_to_polygons(rings).tolist()))


def rings_to_polygons(rings: PackedRings) -> np.ndarray:
    """Shapely polygons (object array ``(k,)``) from packed rings, vectorised."""
    if len(rings) == 0:
        return np.empty(0, dtype=object)
    index = np.repeat(np.arange(len(rings)), rings.counts)
    return shapely.polygons(shapely.linearrings(rings.coords, indices=index))


def mask_outline(mask: np.ndarray) -> list[np.ndarray]:
    """Pixel-edge outlines of a 2-D boolean mask, holes filled.

    Returns one ``(n, 2)`` float array of ``(x, y)`` corner coordinates
    (pixel-edge convention, not closed: first vertex not repeated) per
    separate piece of the mask.
    """
    padded = np.pad(ndimage.binary_fill_holes(mask), 1).astype(np.float64)
    return [_staircase(contour) for contour in find_contours(padded, 0.5)]


def simplify_rings(rings: PackedRings, tolerance: float) -> PackedRings:
    """Topology-preserving simplification of every ring, kept valid and counter-clockwise.

    ``tolerance`` is the Douglas-Peucker distance in the rings' units (level-0
    pixels in the engine); 0.5 removes the one-pixel stair corners' extra
    vertices only where a chord stays within half a pixel.
    """
    polygons = shapely.simplify(rings_to_polygons(rings), tolerance, preserve_topology=True)
    invalid = np.flatnonzero(~shapely.is_valid(polygons))
    polygons[invalid] = [_largest_polygon(polygons[i]) for i in invalid]
    polygons = shapely.orient_polygons(polygons, exterior_cw=False)
    coords, index = shapely.get_coordinates(shapely.get_exterior_ring(polygons), return_index=True)
    closing = np.flatnonzero(np.append(index[1:] != index[:-1], True))
    keep = np.ones(index.size, dtype=bool)
    keep[closing] = False
    counts = np.bincount(index[keep], minlength=len(rings))
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return PackedRings(rings.ids, coords[keep], starts)


def _staircase(contour: np.ndarray) -> np.ndarray:
    """Marching-squares contour of a padded mask -> its pixel-corner vertices.

    ``find_contours`` at level 0.5 on a binary mask runs through the
    midpoints of boundary pixel edges (pixel centres at integer positions);
    where it cuts a corner, the pixel boundary turns at the point whose two
    coordinates are half-integers. Keeping only those corners gives the
    exact boundary; the 1-pixel padding and the half-pixel shift move them
    to the pixel-edge frame of the unpadded mask.
    """
    start = contour[:-1] if np.array_equal(contour[0], contour[-1]) else contour
    following = np.roll(start, -1, axis=0)
    diagonal = (start[:, 0] != following[:, 0]) & (start[:, 1] != following[:, 1])
    row_is_edge = np.isclose(np.mod(start[:, 0], 1.0), 0.5)
    corner_row = np.where(row_is_edge, start[:, 0], following[:, 0])[diagonal]
    corner_col = np.where(row_is_edge, following[:, 1], start[:, 1])[diagonal]
    return np.stack([corner_col - 0.5, corner_row - 0.5], axis=1)


def _largest_polygon(geometry: BaseGeometry) -> Polygon:
    if not geometry.is_valid:
        geometry = make_valid(geometry)
    best = max(_polygon_parts(geometry), key=lambda piece: piece.area)
    return orient(Polygon(best.exterior), sign=1.0)


def _polygon_parts(geometry: BaseGeometry) -> list[Polygon]:
    if isinstance(geometry, Polygon):
        return [geometry]
    return [piece for part in getattr(geometry, "geoms", []) for piece in _polygon_parts(part)]


def _validate_transform(offset: object, scale: object, tolerance: object) -> None:
    if not (
        isinstance(offset, tuple | list)
        and len(offset) == 2
        and all(isinstance(v, int | float | np.number) and math.isfinite(v) for v in offset)
    ):
        raise ValueError(f"offset must be two finite numbers (x0, y0), got {offset!r}")
    if not (isinstance(scale, int | float | np.number) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    if not (isinstance(tolerance, int | float | np.number) and tolerance >= 0):
        raise ValueError(f"simplify_tolerance must be a number >= 0, got {tolerance!r}")
