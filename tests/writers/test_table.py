"""Per-nucleus measurement tables streamed to Parquet or CSV."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from shapely.geometry import box

from wsinuc.writers.atomic import partial_file_path
from wsinuc.writers.geojson import GeoJSONWriter
from wsinuc.writers.table import TableWriter, measurement_columns, table_format


def _batches():
    yield measurement_columns([1, 2], [{"Area px": 10.0}, {"Area px": 12.5, "Solidity": 0.9}])
    yield {"label": [3], "Area px": [7.0], "Solidity": [float("nan")]}


def test_parquet_round_trip(tmp_path):
    path = tmp_path / "nuclei.parquet"
    with TableWriter(path) as table:
        for batch in _batches():
            table.write(batch)
    assert table.row_count == 3
    columns = pq.read_table(path).to_pydict()
    assert columns["label"] == [1, 2, 3]
    assert columns["Area px"] == [10.0, 12.5, 7.0]
    assert math.isnan(columns["Solidity"][0]) and columns["Solidity"][1] == 0.9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nuclei.parquet"]


def test_csv_round_trip(tmp_path):
    path = tmp_path / "nuclei.csv"
    with TableWriter(path) as table:
        for batch in _batches():
            table.write(batch)
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["label"] for row in rows] == ["1", "2", "3"]
    assert [float(row["Area px"]) for row in rows] == [10.0, 12.5, 7.0]
    assert math.isnan(float(rows[0]["Solidity"]))


def test_row_count_equals_feature_count_when_written_together(tmp_path):
    nuclei = [
        (label, box(10 * label, 0, 10 * label + 5, 5), {"Area px": 25.0}) for label in (1, 2, 3)
    ]
    geojson_path, table_path = tmp_path / "n.geojson", tmp_path / "n.parquet"
    with GeoJSONWriter(geojson_path) as features, TableWriter(table_path) as table:
        features.write_many(nuclei)
        table.write(measurement_columns([n[0] for n in nuclei], [n[2] for n in nuclei]))
    written = json.loads(geojson_path.read_text())["features"]
    assert table.row_count == features.feature_count == len(written) == 3
    assert pq.read_metadata(table_path).num_rows == 3


def test_error_inside_the_writer_leaves_no_file(tmp_path):
    path = tmp_path / "nuclei.parquet"
    with pytest.raises(RuntimeError):
        with TableWriter(path) as table:
            table.write({"label": [1], "Area px": [3.0]})
            raise RuntimeError("crash")
    assert not path.exists() and not partial_file_path(path).exists()


def test_batches_must_keep_the_first_batch_columns(tmp_path):
    with TableWriter(tmp_path / "n.parquet") as table:
        table.write({"label": [1], "Area px": [3.0]})
        with pytest.raises(ValueError, match="differ from the first batch"):
            table.write({"label": [2], "Perimeter": [3.0]})
        with pytest.raises(ValueError, match="equal lengths"):
            table.write({"label": [2, 3], "Area px": [3.0]})


def test_empty_table_keeps_the_announced_columns(tmp_path):
    with TableWriter(tmp_path / "n.parquet", columns=["label", "Area px"]):
        pass
    schema = pq.read_schema(tmp_path / "n.parquet")
    assert schema.names == ["label", "Area px"]
    with TableWriter(tmp_path / "n.csv", columns=["label", "Area px"]):
        pass
    assert (tmp_path / "n.csv").read_text().strip() == '"label","Area px"'


def test_measurement_columns_fill_missing_values_with_nan():
    columns = measurement_columns([4, 9], [{"b": 1.0}, {"a": 2.0}])
    assert list(columns) == ["label", "b", "a"]
    assert columns["label"].dtype == np.int64
    assert columns["b"][0] == 1.0 and np.isnan(columns["b"][1])
    assert np.isnan(columns["a"][0]) and columns["a"][1] == 2.0


def test_format_comes_from_the_extension(tmp_path):
    assert table_format("x.PARQUET") == "parquet"
    assert table_format("x.csv") == "csv"
    with pytest.raises(ValueError, match="x.xlsx"):
        TableWriter(tmp_path / "x.xlsx")


def _chunk_batch(rows=5_000, seed=0):
    rng = np.random.default_rng(seed)
    batch = {"label": np.arange(1, rows + 1, dtype=np.int64)}
    batch |= {f"m{i}": rng.normal(0, 10.0**i, rows) for i in range(-3, 12, 3)}
    batch["m0"][::7] = np.nan
    return batch


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_chunk_sized_numpy_batches_round_trip_exactly(tmp_path, suffix):
    path = tmp_path / f"n{suffix}"
    first, second = _chunk_batch(seed=1), _chunk_batch(seed=2)
    with TableWriter(path) as table:
        assert table.write(first) == 5_000
        reordered = {name: second[name] for name in reversed(list(second))}
        assert table.write(reordered) == 5_000
    if suffix == ".parquet":
        columns = pq.read_table(path).to_pydict()
    else:
        columns = pa_csv.read_csv(path).to_pydict()
    for name in first:
        expected = np.concatenate([first[name], second[name]])
        np.testing.assert_array_equal(np.array(columns[name], dtype=float), expected)
    assert table.row_count == 10_000


def test_parquet_dictionary_encodes_only_text_columns(tmp_path):
    path = tmp_path / "n.parquet"
    with TableWriter(path) as table:
        table.write({"label": np.arange(1, 1001), "Area": np.linspace(0, 1, 1000),
                     "Class": np.array(["Nucleus"] * 1000)})  # fmt: skip
    row_group = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {row_group.column(i).path_in_schema: row_group.column(i).encodings for i in range(3)}
    assert not any("DICTIONARY" in e for e in encodings["Area"] + encodings["label"])
    assert any("DICTIONARY" in e for e in encodings["Class"])
