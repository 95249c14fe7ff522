"""Arrow arrays built from buffers equal pa.array's, and writing outputs never imports pandas."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pytest

from wsinuc.writers.arrow_arrays import numpy_array, numpy_table, string_array, string_scalar


@pytest.mark.parametrize("values", [
    np.arange(7, dtype=np.int64), np.linspace(-1, 1, 9), np.arange(5, dtype=np.uint8),
    np.array([True, False, True, True, False, False, False, True, True, False, True]),
    np.zeros(0, np.float64), np.zeros(0, bool), np.arange(20, dtype=np.int32)[::3],
])
def test_numpy_arrays_equal_what_pa_array_makes(values):
    got = numpy_array(values)
    assert got.equals(pa.array(values)) and got.type == pa.array(values).type


def test_a_big_endian_array_is_converted_to_native_order():
    assert numpy_array(np.arange(4, dtype=">f4")).equals(pa.array(np.arange(4, dtype="<f4")))


def test_other_dtypes_still_work_and_2d_is_refused():
    assert numpy_array(np.array(["a", "b"])).to_pylist() == ["a", "b"]
    with pytest.raises(ValueError, match="1-D"):
        numpy_array(np.zeros((2, 2)))


def test_strings_scalars_and_tables():
    texts = ["", "área", '"x":', "z" * 40]
    assert string_array(texts).equals(pa.array(texts, pa.large_string()))
    assert string_array([]).to_pylist() == []
    assert string_scalar("é}") == pa.scalar("é}", pa.large_string())
    columns = {"label": np.arange(3, dtype=np.int64), "area": np.array([1.5, 2.0, np.nan])}
    got, expected = numpy_table(columns), pa.table(columns)
    assert got.schema == expected.schema
    for name in columns:
        np.testing.assert_array_equal(got[name].to_numpy(), expected[name].to_numpy())


def test_rendering_features_and_writing_a_table_import_no_pandas(tmp_path):
    # pa.array / pa.table / pa.scalar import pandas (~0.26 s per worker) to check their input
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from wsinuc.writers.geojson import render_features
        from wsinuc.writers.table import TableWriter
        square = np.array([[0, 0], [0, 4], [4, 4], [4, 0], [0, 0]], np.float64)
        coords = np.concatenate([square, square + 10])
        starts = np.array([0, 5, 10], np.int64)
        columns = {{"area": np.array([16.0, 16.5]), "odd": np.array([np.nan, 2.0])}}
        render_features(coords, starts, columns)
        with TableWriter({str(tmp_path / "t.parquet")!r}) as table:
            table.write({{"label": np.array([1, 2]), "area": np.array([16.0, 16.5])}})
        print("pandas" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
