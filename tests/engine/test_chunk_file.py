"""The chunk-file container: named arrays written and read back exactly, with one read."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.engine.chunk_file import ArrayFile, write_arrays


def test_arrays_of_every_kind_come_back_exactly(tmp_path):
    arrays = {"keys": np.array([3, 9, 2**40], np.int64), "labels": np.arange(12, dtype=np.uint16).reshape(3, 4),
              "empty": np.zeros((0, 2)), "flags": np.array([True, False]), "style": np.array("x=1;y=2"),
              "names": np.array(["area_um2", "perimeter_um"]), "table": np.random.default_rng(0).random((2, 5))}
    path = tmp_path / "a.chunk"
    with open(path, "wb") as handle:
        write_arrays(handle, arrays)
    data = ArrayFile(path)
    assert data.files == list(arrays)
    for name, value in arrays.items():
        assert data[name].dtype == value.dtype and data[name].shape == value.shape
        np.testing.assert_array_equal(data[name], value)
    assert str(data["style"]) == "x=1;y=2"


def test_object_arrays_are_refused(tmp_path):
    with open(tmp_path / "b.chunk", "wb") as handle, pytest.raises(ValueError, match="objects"):
        write_arrays(handle, {"bad": np.array([{"a": 1}], dtype=object)})


def test_another_file_is_not_read_as_a_chunk_file(tmp_path):
    path = tmp_path / "c.chunk"
    path.write_bytes(b"not a chunk")
    with pytest.raises(ValueError, match="not a wsinuc chunk file"):
        ArrayFile(path)
