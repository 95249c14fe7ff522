"""All GeoJSON features of a chunk as one piece of text, without a per-feature loop.

The features are those :func:`wsinuc.writers.geojson.build_feature` builds,
nucleus by nucleus; :meth:`GeoJSONWriter.write_rings` writes this text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from wsinuc.writers.arrow_arrays import numpy_array
from wsinuc.writers.geojson_rings import PackedPolygons, prepare_packed_rings
from wsinuc.writers.json_text import (
    ID_OFFSET,
    ID_WIDTH,
    coordinates_text,
    feature_heads,
    join_feature_text_with_offsets,
    properties_text,
    uuid_bytes,
)

__all__ = [
    "RenderedFeatures",
    "chunk_features_text",
    "kept_rings",
    "patch_ids",
    "render_chunk_features",
    "render_style",
    "validate_chunk_columns",
]


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
    return pa.concat_arrays(texts).take(numpy_array(order))


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
    args = (classification, decimals, check_valid)
    text, keep, _ = _features_text(ids, coords, starts, columns, *args)
    return text, keep


def _features_text(ids, coords, starts, columns, classification, decimals, check_valid):
    """:func:`chunk_features_text` plus where each kept feature starts in the text."""
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
    text, feature_starts = join_feature_text_with_offsets(parts)
    return text, keep, feature_starts


def render_style(classification: Mapping, decimals: int) -> str:
    """The settings rendered text depends on, as a string (equal strings: equal text)."""
    style = {"classification": dict(classification), "decimals": int(decimals)}
    return json.dumps(style, sort_keys=True)


@dataclass(frozen=True, eq=False)
class RenderedFeatures:
    """A chunk's features rendered before their ids are known (pass 1 of the engine).

    Attributes
    ----------
    text : ndarray of uint8, shape (b,)
        ``,\\n{feature}`` for every kept row, in row order, each id a 36-byte placeholder.
    keep : ndarray of bool, shape (k,)
        Rows rendered (as :meth:`GeoJSONWriter.write_rings` keeps them).
    id_offsets : ndarray of int64, shape (keep.sum(),)
        Where each kept feature's id starts in ``text``.
    style : str
        :func:`render_style` of the classification and decimals used.
    """

    text: np.ndarray
    keep: np.ndarray
    id_offsets: np.ndarray
    style: str

    @property
    def decimals(self) -> int:
        """Decimal places kept in the coordinates."""
        return int(json.loads(self.style)["decimals"])


def render_chunk_features(
    coords: np.ndarray,
    starts: np.ndarray,
    columns: Mapping[str, np.ndarray] | None,
    *,
    classification: Mapping,
    decimals: int = 2,
    check_valid: bool = False,
) -> RenderedFeatures:
    """The text of :func:`chunk_features_text` with placeholder ids, and where the ids go.

    :func:`patch_ids` fills in the real ids; the result is then byte for byte
    what :func:`chunk_features_text` gives for them. Parameters as there.
    """
    count = len(starts) - 1
    placeholder = np.ones(max(count, 0), dtype=np.int64)
    text, keep, feature_starts = _features_text(
        placeholder, coords, starts, columns, classification, decimals, check_valid
    )  # fmt: skip
    data = np.frombuffer(text, dtype=np.uint8) if text.size else np.zeros(0, dtype=np.uint8)
    style = render_style(classification, decimals)
    return RenderedFeatures(data, keep, feature_starts + ID_OFFSET, style)


def patch_ids(text: np.ndarray, id_offsets: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """A copy of rendered ``text`` with ``feature_id(ids[i])`` in the 36 bytes at ``id_offsets[i]``.

    Raises
    ------
    ValueError
        ``ids`` not positive ints, not one per offset, or slots outside ``text``.
    """
    ids, id_offsets = np.asarray(ids), np.asarray(id_offsets, dtype=np.int64)
    if ids.shape != id_offsets.shape or ids.ndim != 1:
        shapes = f"ids {ids.shape} and offsets {id_offsets.shape}"
        raise ValueError(f"need one id per offset, got {shapes}")
    if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() <= 0):
        raise ValueError(f"ids must be positive ints, got {ids!r}")
    if id_offsets.size and (id_offsets.min() < 0 or id_offsets.max() + ID_WIDTH > len(text)):
        span = f"{id_offsets.min()}..{id_offsets.max()}"
        raise ValueError(f"id offsets {span} do not fit {len(text)} bytes of text")
    out = np.array(text, dtype=np.uint8, copy=True)
    out[id_offsets[:, None] + np.arange(ID_WIDTH)] = uuid_bytes(ids)
    return out


def kept_rings(
    coords: np.ndarray, starts: np.ndarray, decimals: int = 2, *, check_valid: bool = False
) -> np.ndarray:
    """Return which rings :meth:`GeoJSONWriter.write_rings` would write (bool, one per ring).

    For a run that writes the table but no GeoJSON: the same rows are kept.
    """
    return prepare_packed_rings(coords, starts, decimals, check_valid=check_valid)[0]
