"""Stream per-nucleus measurements to Parquet or CSV in batches.

One row per nucleus, with the same measurement columns the GeoJSON features
carry. Batches are dicts of equal-length column arrays; the first batch fixes
the column names and types. The file is written to a hidden ``.partial``
sibling and moved onto its final name only when the ``with`` block ends
without error.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from wsinuc.writers.arrow_arrays import numpy_table
from wsinuc.writers.atomic import atomic_file, disk_full_guard

logger = logging.getLogger(__name__)

TABLE_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
LABEL_COLUMN = "label"


def table_format(path: str | Path) -> str:
    """Return ``"parquet"`` or ``"csv"`` from the file extension.

    Raises
    ------
    ValueError
        For any other extension.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise ValueError(
            f"table output {Path(path).name!r}: extension must be one of {sorted(TABLE_FORMATS)}"
        )
    return TABLE_FORMATS[suffix]


def measurement_columns(
    label_ids: Sequence[int], measurements: Sequence[Mapping[str, float]]
) -> dict[str, np.ndarray]:
    """Turn per-nucleus measurement dicts into a column batch for :class:`TableWriter`.

    Parameters
    ----------
    label_ids : sequence of int
        One id per nucleus (column ``"label"``, int64).
    measurements : sequence of mapping
        One ``{name: value}`` per nucleus; a name missing for a nucleus is NaN.

    Returns
    -------
    dict of str to ndarray
        ``"label"`` first, then the measurement names in first-seen order.
    """
    if len(label_ids) != len(measurements):
        raise ValueError(
            f"label_ids and measurements must have the same length, "
            f"got {len(label_ids)} and {len(measurements)}"
        )
    names = list(dict.fromkeys(name for row in measurements for name in row))
    columns: dict[str, np.ndarray] = {LABEL_COLUMN: np.asarray(label_ids, dtype=np.int64)}
    for name in names:
        columns[name] = np.array([row.get(name, np.nan) for row in measurements], dtype=np.float64)
    return columns


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """Columns worth dictionary-encoding in Parquet: all but numbers.

    Measurements are (nearly) all distinct, so a dictionary only costs time
    (about 4x the write time) and space before Parquet gives up on it.
    """
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean)
    return [f.name for f in schema if not any(is_type(f.type) for is_type in numeric)]


def _batch_table(batch: Mapping[str, Any], schema: pa.Schema | None) -> pa.Table:
    """Return a batch as an Arrow table, matched to ``schema`` when one is set."""
    if not batch:
        raise ValueError("batch must have at least one column")
    lengths = {name: len(values) for name, values in batch.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"batch columns must have equal lengths, got {lengths}")
    table = numpy_table(batch)
    if schema is None or table.schema.equals(schema):
        return table
    if set(table.column_names) != set(schema.names):
        raise ValueError(
            f"batch columns {sorted(table.column_names)} differ from the first batch's "
            f"{sorted(schema.names)}"
        )
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ValueError(f"batch types do not match the first batch {schema}: {error}") from error


class TableWriter:
    """Stream measurement rows to ``path`` (``.parquet``/``.pq`` or ``.csv``).

    Parameters
    ----------
    path : str or Path
        Final output path; the extension picks the format.
    columns : sequence of str, optional
        Column names for the file written when no batch arrives (float64,
        ``"label"`` int64); without it such a file has no columns.

    Attributes
    ----------
    row_count : int
        Rows written so far.

    Examples
    --------
    >>> with TableWriter(out / "nuclei.parquet") as table:  # doctest: +SKIP
    ...     table.write({"label": [1, 2], "Area um^2": [30.5, 41.0]})
    """

    def __init__(self, path: str | Path, *, columns: Sequence[str] | None = None) -> None:
        self.path = Path(path)
        self.format = table_format(self.path)
        self.columns = None if columns is None else list(columns)
        self.row_count = 0
        self._stack: contextlib.ExitStack | None = None
        self._sink = None
        self._writer: pq.ParquetWriter | pa_csv.CSVWriter | None = None
        self._schema: pa.Schema | None = None

    def __enter__(self) -> TableWriter:
        self._stack = contextlib.ExitStack()
        self._sink = self._stack.enter_context(atomic_file(self.path, "wb"))
        self._writer, self._schema = None, None
        self.row_count = 0
        return self

    def _open_writer(self, schema: pa.Schema) -> pq.ParquetWriter | pa_csv.CSVWriter:
        if self.format == "parquet":
            return pq.ParquetWriter(
                self._sink, schema, compression="zstd", use_dictionary=_dictionary_columns(schema)
            )
        return pa_csv.CSVWriter(self._sink, schema)

    def _empty_schema(self) -> pa.Schema:
        names = self.columns or []
        return pa.schema([(n, pa.int64() if n == LABEL_COLUMN else pa.float64()) for n in names])

    def write(self, batch: Mapping[str, Any]) -> int:
        """Append a batch of rows given as ``{column: values}``; return its row count.

        Raises
        ------
        ValueError
            Unequal column lengths, or names/types that differ from the first batch.
        """
        if self._stack is None:
            raise RuntimeError("TableWriter.write called outside its 'with' block")
        table = _batch_table(batch, self._schema)
        with disk_full_guard(self.path):
            if self._writer is None:
                self._writer = self._open_writer(table.schema)
                self._schema = table.schema
            self._writer.write_table(table)
        self.row_count += table.num_rows
        return table.num_rows

    def __exit__(self, exc_type, exc, traceback) -> bool:
        stack, writer = self._stack, self._writer
        if exc_type is None and writer is None:
            with disk_full_guard(self.path):
                writer = self._open_writer(self._empty_schema())
        self._stack = self._writer = self._sink = None
        if exc_type is not None:
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.close()
            stack.__exit__(exc_type, exc, traceback)
            return False
        with stack, disk_full_guard(self.path):
            writer.close()
        logger.info("wrote %d rows to %s", self.row_count, self.path)
        return False
