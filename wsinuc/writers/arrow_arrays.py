"""Arrow arrays and tables from numpy arrays and strings, built from their buffers.

``pa.array`` and ``pa.table`` first ask pyarrow's pandas shim whether their
input is a pandas object, and that imports pandas (about 0.26 s on a 2-core
CPU) in every process that writes outputs, although wsinuc never uses
pandas. Building the arrays from their buffers skips the check and gives the
same arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa


def numpy_array(values: np.ndarray) -> pa.Array:
    """The Arrow array of a 1-D numeric or boolean numpy array (no nulls).

    Other dtypes go through ``pa.array``.

    Raises
    ------
    ValueError
        If ``values`` is not 1-D.
    """
    values = np.ascontiguousarray(values)
    if values.ndim != 1:
        raise ValueError(f"expected a 1-D array, got shape {values.shape}")
    if values.dtype == bool:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
        return pa.array(values)
    if not values.dtype.isnative:
        values = values.astype(values.dtype.newbyteorder("="))
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


def text_array(data: np.ndarray, offsets: np.ndarray) -> pa.Array:
    """A ``large_string`` array over flat UTF-8 bytes and its ``n + 1`` offsets (no copy)."""
    return pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets.astype(np.int64)), pa.py_buffer(data)
    )


def string_array(texts: Sequence[str]) -> pa.Array:
    """A ``large_string`` array of Python strings (UTF-8)."""
    encoded = [text.encode() for text in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(data) for data in encoded], out=offsets[1:])
    return text_array(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)


def numpy_table(columns: Mapping[str, np.ndarray]) -> pa.Table:
    """An Arrow table with one :func:`numpy_array` column per item, in order."""
    return pa.Table.from_arrays([numpy_array(np.asarray(values)) for values in columns.values()],
                                names=list(columns))


def string_scalar(text: str) -> pa.Scalar:
    """A ``large_string`` scalar (``pa.scalar`` would run the pandas check too)."""
    return string_array([text])[0]
