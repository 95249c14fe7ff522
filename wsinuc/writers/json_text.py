"""Print many GeoJSON features as JSON text at once, with numpy and pyarrow.

Numbers are printed from scaled integers (``rint(x * 10**decimals)``) as
decimal text with trailing zeros dropped (``12``, ``12.5``, ``12.05``):
parsed back they give exactly ``np.round(x, decimals)``. Every vertex gets
one row of a byte matrix (null bytes where a shorter number leaves room),
and dropping the null bytes leaves the text. Measurements use Arrow's
shortest round-trip float printing; per-feature pieces are joined by Arrow
too, so no Python code runs per feature.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from wsinuc.writers.arrow_arrays import numpy_array, string_array, string_scalar, text_array

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
ID_HEAD = b',\n{"type":"Feature","id":"'
"""Text of a feature before its id (with the separator that precedes every feature)."""
ID_OFFSET = len(ID_HEAD)
"""Bytes from the start of a feature's text (its separator) to its id."""
ID_WIDTH = 36
"""Bytes of a feature id (a UUID string)."""
_UUID_ZERO = b"00000000-0000-0000-0000-000000000000"
_ID_TAIL = b'","geometry":{"type":"Polygon","coordinates":'


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """ASCII digits of non-negative ints, right-aligned in ``width`` columns, nulls in front."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (values[:, None] // powers) % 10 + ord("0")
    shown = (values[:, None] >= powers) | (powers == 1)
    return np.where(shown, digits, 0).astype(np.uint8)


def _fractions(values: np.ndarray, decimals: int) -> np.ndarray:
    """``.ddd`` text of fractions ``values / 10**decimals`` with trailing zeros as nulls."""
    powers = 10 ** np.arange(decimals - 1, -1, -1, dtype=np.int64)
    digits = (values[:, None] // powers) % 10 + ord("0")
    shown = (values[:, None] % (powers * 10)) != 0
    text = np.where(shown, digits, 0).astype(np.uint8)
    point = np.where(values > 0, ord("."), 0).astype(np.uint8)
    return np.concatenate([point[:, None], text], axis=1)


def _via_table(values: np.ndarray, build) -> tuple[np.ndarray, np.ndarray]:
    """``build(values)`` and its rows' text lengths; built once per value if the range is small."""
    low, high = int(values.min()), int(values.max())
    if high - low + 1 > len(values) // 4:
        rows = build(values)
        return rows, np.count_nonzero(rows, axis=1)
    table = np.ascontiguousarray(build(np.arange(low, high + 1, dtype=np.int64)))
    index = values - low
    rows = table.view(f"V{table.shape[1]}").ravel()[index]
    lengths = np.count_nonzero(table, axis=1)[index]
    return rows.view(np.uint8).reshape(len(values), table.shape[1]), lengths


def number_bytes(scaled: np.ndarray, decimals: int) -> tuple[np.ndarray, np.ndarray]:
    """Return JSON number text of ``scaled / 10**decimals`` as a null-padded byte matrix.

    Parameters
    ----------
    scaled : ndarray of int64, shape (n,)
        Scaled integers.
    decimals : int
        Implied decimal places (0..6).

    Returns
    -------
    matrix : ndarray of uint8, shape (n, w)
        Row ``i`` without its null bytes is the text of number ``i``.
    lengths : ndarray of int64, shape (n,)
        Bytes of text in each row.
    """
    if not len(scaled):
        return np.zeros((0, 1), dtype=np.uint8), np.zeros(0, dtype=np.int64)
    whole, fraction = np.divmod(np.abs(scaled), 10**decimals)
    width = len(str(int(whole.max())))
    matrix, lengths = _via_table(whole, lambda v: _digits(v, width))
    parts = [matrix]
    if decimals and fraction.any():
        matrix, fraction_lengths = _via_table(fraction, lambda v: _fractions(v, decimals))
        parts.append(matrix)
        lengths = lengths + fraction_lengths
    negative = scaled < 0
    if negative.any():
        parts.insert(0, np.where(negative, ord("-"), 0).astype(np.uint8)[:, None])
        lengths = lengths + negative
    matrix = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    return matrix, lengths


def coordinates_text(
    scaled: np.ndarray, ring_lengths: np.ndarray, rings_per_polygon: np.ndarray, decimals: int
) -> pa.Array:
    """Return the GeoJSON ``coordinates`` text of each polygon, e.g. ``[[[0,0],[1,0],...]]``.

    Parameters
    ----------
    scaled : ndarray of int64, shape (v, 2)
        Scaled vertices of all closed rings, in order.
    ring_lengths : ndarray of int64, shape (r,)
        Vertices per ring.
    rings_per_polygon : ndarray of int64, shape (p,)
        Rings per polygon.
    decimals : int
        Implied decimal places of ``scaled``.
    """
    count = len(scaled)
    ring_first = np.cumsum(ring_lengths) - ring_lengths
    polygon_last_ring = np.cumsum(rings_per_polygon) - 1
    lead = np.zeros((count, 3), dtype=np.uint8)
    lead[:, 2] = ord(",")
    lead[ring_first] = np.frombuffer(b"],[", dtype=np.uint8)
    polygon_first_vertex = ring_first[polygon_last_ring - rings_per_polygon + 1]
    lead[polygon_first_vertex] = np.frombuffer(b"\0[[", dtype=np.uint8)
    tail = np.zeros((count, 2), dtype=np.uint8)
    polygon_last_vertex = (ring_first + ring_lengths - 1)[polygon_last_ring]
    tail[polygon_last_vertex] = np.frombuffer(b"]]", dtype=np.uint8)
    column = np.full((count, 1), ord(","), dtype=np.uint8)
    x_text, x_lengths = number_bytes(scaled[:, 0], decimals)
    y_text, y_lengths = number_bytes(scaled[:, 1], decimals)
    brackets = (ord("[") - ord(","), ord("]") - ord(","))
    matrix = np.concatenate(
        [lead, column + brackets[0], x_text, column, y_text, column + brackets[1], tail], axis=1
    )
    lengths = x_lengths + y_lengths + 4
    lengths[ring_first] += 2
    lengths[polygon_first_vertex] -= 1
    lengths[polygon_last_vertex] += 2
    offsets = np.concatenate([[0], np.cumsum(lengths)[polygon_last_vertex]])
    return text_array(matrix[matrix != 0], offsets)


def uuid_bytes(label_ids: np.ndarray) -> np.ndarray:
    """ASCII of ``str(uuid.UUID(int=label_id))`` per id, as a ``(k, 36)`` uint8 matrix.

    Parameters
    ----------
    label_ids : ndarray of int, shape (k,)
        Non-negative ids below ``2**63``.
    """
    label_ids = np.asarray(label_ids)
    integral = np.issubdtype(label_ids.dtype, np.integer)
    if label_ids.ndim != 1 or not integral or np.any(label_ids < 0):
        raise ValueError(f"label_ids must be a 1-D array of non-negative ints, got {label_ids!r}")
    shifts = np.arange(60, -4, -4, dtype=np.int64)
    hexes = _HEX[(label_ids.astype(np.int64)[:, None] >> shifts) & 15]
    out = np.tile(np.frombuffer(_UUID_ZERO, dtype=np.uint8), (len(label_ids), 1))
    out[:, 19:23] = hexes[:, :4]
    out[:, 24:36] = hexes[:, 4:]
    return out


def feature_heads(label_ids: np.ndarray) -> pa.Array:
    """``,\\n{"type":"Feature","id":"<uuid>","geometry":{...,"coordinates":`` per label id.

    The id is ``str(uuid.UUID(int=label_id))``, as :func:`feature_id` writes it;
    it starts :data:`ID_OFFSET` bytes into the head and is 36 bytes long.
    """
    template = np.frombuffer(ID_HEAD + _UUID_ZERO + _ID_TAIL, dtype=np.uint8)
    heads = np.tile(template, (len(label_ids), 1))
    heads[:, ID_OFFSET : ID_OFFSET + ID_WIDTH] = uuid_bytes(label_ids)
    offsets = np.arange(len(label_ids) + 1, dtype=np.int64) * len(template)
    return text_array(heads.ravel(), offsets)


def _number_text(values: np.ndarray) -> pa.Array:
    """Shortest round-trip text of finite floats, with ``.0`` added to whole numbers."""
    text = pc.cast(numpy_array(values), pa.large_string())
    whole = values == np.round(values)
    if not whole.any():
        return text
    mask = numpy_array(whole)
    some = text.filter(mask)
    plain = pc.invert(pc.match_substring(some, "e"))
    fixed = pc.if_else(plain, pc.binary_join_element_wise(some, string_scalar(".0"), string_scalar("")), some)
    return pc.replace_with_mask(text, mask, fixed)


def _constant_text(text: str, count: int) -> pa.Array:
    """``count`` copies of one string."""
    data = np.frombuffer(text.encode(), dtype=np.uint8)
    return text_array(np.tile(data, count), np.arange(count + 1, dtype=np.int64) * len(data))


def properties_text(
    classification: Mapping, columns: Mapping[str, np.ndarray], count: int
) -> pa.Array:
    """``},"properties":{...}}}`` per feature: objectType, classification, finite measurements.

    All columns are printed together: one flat array of ``"name":value``
    tokens (non-finite values dropped), joined row by row with commas.
    """
    head = '},"properties":{"objectType":"detection","classification":' + json.dumps(
        dict(classification), separators=(",", ":")
    )
    if not columns or not count:
        return _constant_text(head + "}}", count)
    values = np.stack([np.asarray(v, dtype=np.float64) for v in columns.values()], axis=1)
    finite = np.isfinite(values)
    keys = string_array([json.dumps(name) + ":" for name in columns])
    key_index = np.broadcast_to(np.arange(len(columns)), values.shape)[finite]
    tokens = pc.binary_join_element_wise(
        keys.take(numpy_array(key_index)), _number_text(values[finite]), string_scalar("")
    )
    per_row = np.count_nonzero(finite, axis=1)
    offsets = numpy_array(np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64))
    joined = pc.binary_join(pa.LargeListArray.from_arrays(offsets, tokens), string_scalar(","))
    opening = string_scalar(head + ',"measurements":{')
    with_measurements = pc.binary_join_element_wise(opening, joined, string_scalar("}}}"), string_scalar(""))
    return pc.if_else(numpy_array(per_row > 0), with_measurements, string_scalar(head + "}}"))


def join_feature_text(parts: list[pa.Array]) -> pa.Buffer:
    """Concatenate per-feature text pieces feature by feature; return the bytes as one buffer."""
    return join_feature_text_with_offsets(parts)[0]


def join_feature_text_with_offsets(parts: list[pa.Array]) -> tuple[pa.Buffer, np.ndarray]:
    """:func:`join_feature_text` and where each feature starts in it (int64, one per feature)."""
    whole = pc.binary_join_element_wise(*parts, string_scalar(""))
    if not len(whole):
        return pa.py_buffer(b""), np.zeros(0, dtype=np.int64)
    offsets = np.frombuffer(whole.buffers()[1], dtype=np.int64)
    offsets = offsets[whole.offset : whole.offset + len(whole) + 1]
    first, last = int(offsets[0]), int(offsets[-1])
    return whole.buffers()[2].slice(first, last - first), offsets[:-1] - first
