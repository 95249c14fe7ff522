"""All GeoJSON features of a chunk as one piece of text, without a per-feature loop.

The features are those :func:`wsinuc.writers.geojson.build_feature` builds,
nucleus by nucleus; :meth:`GeoJSONWriter.write_rings` writes this text.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from wsinuc.writers.geojson_rings import PackedPolygons, prepare_packed_rings
from wsinuc.writers.json_text import (
    coordinates_text,
    feature_heads,
    join_feature_text,
    properties_text,
)

__all__ = ["chunk_features_text", "kept_rings", "validate_chunk_columns"]


def validate_chunk_columns(
    ids: np.ndarray, columns: Mapping[str, np.ndarray] | None
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Return ``ids`` as int64 and ``columns`` as float64 arrays, checked.

    Raises
    ------
    ValueError
        Ids not a 1-D array of positive ints, a column name that is not a
        str, or a column that is not numeric or not ``len(ids)`` long.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer) or np.any(ids <= 0):
        raise ValueError(f"ids must be a 1-D array of positive ints, got {ids!r}")
    checked = {}
    for name, values in (columns or {}).items():
        values = np.asarray(values)
        if not isinstance(name, str) or values.shape != ids.shape:
            raise ValueError(
                f"column {name!r}: names must be str and values shape {ids.shape}, "
                f"got shape {values.shape}"
            )
        if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
            raise ValueError(f"column {name!r} must be numeric, got dtype {values.dtype}")
        checked[name] = values.astype(np.float64)
    return ids.astype(np.int64), checked


def _geometry_text(fast: PackedPolygons, slow: PackedPolygons, decimals: int) -> pa.Array:
    """Coordinates text of the kept polygons, in row order."""
    texts = [
        coordinates_text(p.scaled, p.ring_lengths, p.rings_per_polygon, decimals)
        for p in (fast, slow)
    ]
    order = np.argsort(np.concatenate([fast.rows, slow.rows]), kind="stable")
    return pa.concat_arrays(texts).take(pa.array(order))


def chunk_features_text(
    ids: np.ndarray,
    coords: np.ndarray,
    starts: np.ndarray,
    columns: Mapping[str, np.ndarray] | None,
    *,
    classification: Mapping,
    decimals: int = 2,
    check_valid: bool = False,
) -> tuple[pa.Buffer, np.ndarray]:
    """Return the JSON text of a chunk's features and which rows it holds.

    Parameters
    ----------
    ids : ndarray of int, shape (k,)
        Positive label ids.
    coords : ndarray, shape (n, 2)
        Packed x, y outline vertices (level-0 pixel edges), rings not closed.
    starts : ndarray of int, shape (k + 1,)
        Ring ``i`` is ``coords[starts[i]:starts[i + 1]]``.
    columns : mapping of str to ndarray (k,), optional
        Measurements; non-finite values are left out of a feature.
    classification : mapping
        ``{"name": str, "color": [r, g, b]}``.
    decimals : int
        Decimal places kept in coordinates.
    check_valid : bool
        Check the rings are valid before rounding (see
        :func:`~wsinuc.writers.geojson_rings.prepare_packed_rings`).

    Returns
    -------
    text : pyarrow.Buffer
        ``,\\n{feature}`` for every kept row, in row order (drop the first
        two bytes for the first feature of a collection).
    keep : ndarray of bool, shape (k,)
        Rows written; the others have no area left after rounding.
    """
    ids, columns = validate_chunk_columns(ids, columns)
    if len(starts) != len(ids) + 1:
        expected = len(ids) + 1
        raise ValueError(f"starts must have len(ids) + 1 = {expected} entries, got {len(starts)}")
    keep, fast, slow = prepare_packed_rings(coords, starts, decimals, check_valid=check_valid)
    rows = np.flatnonzero(keep)
    parts = [
        feature_heads(ids[rows]),
        _geometry_text(fast, slow, decimals),
        properties_text(classification, {n: v[rows] for n, v in columns.items()}, len(rows)),
    ]
    return join_feature_text(parts), keep


def kept_rings(
    coords: np.ndarray, starts: np.ndarray, decimals: int = 2, *, check_valid: bool = False
) -> np.ndarray:
    """Return which rings :meth:`GeoJSONWriter.write_rings` would write (bool, one per ring).

    For a run that writes the table but no GeoJSON: the same rows are kept.
    """
    return prepare_packed_rings(coords, starts, decimals, check_valid=check_valid)[0]
