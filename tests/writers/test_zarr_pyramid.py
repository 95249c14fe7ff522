"""Tests for wsinuc.writers.zarr_pyramid: direct chunk files and the pyramid streamed while level 0 is written."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from wsinuc.writers.atomic import partial_dir_path
from wsinuc.writers.zarr_labels import LabelsZarrWriter
from wsinuc.writers.zarr_pyramid import StreamingPyramid, direct_codec, read_region, write_region

SHAPE, CHUNK = (300, 500), (64, 64)


def _expected_levels(level0, levels):
    return [level0[:: 2**k, :: 2**k] for k in range(levels)]


def _blocks(rng, shape=SHAPE, chunk=CHUNK):
    origins = [(y, x) for y in range(0, shape[0], chunk[0]) for x in range(0, shape[1], chunk[1])]
    return [origins[i] for i in rng.permutation(len(origins))]


@pytest.mark.parametrize("cap", [None, 1])
def test_levels_equal_strided_level0_for_any_order_gaps_and_rewrites(tmp_path, cap):
    rng = np.random.default_rng(7)
    level0 = np.zeros(SHAPE, np.uint32)
    path = tmp_path / "l.ome.zarr"
    writer = LabelsZarrWriter.create(path, SHAPE, mpp=(0.5, 0.5), chunk=CHUNK, levels=4)
    if cap is not None:  # force waiting chunks to be completed early from disk
        writer._pyramid._caps = [cap] * writer.levels
    origins = _blocks(rng)
    for y0, x0 in origins[3:] + origins[10:14]:  # three cells never written, four written twice
        block = rng.integers(0, 50, (min(CHUNK[0], SHAPE[0] - y0), min(CHUNK[1], SHAPE[1] - x0))).astype(np.uint32)
        block[block < 25] = 0
        level0[y0 : y0 + block.shape[0], x0 : x0 + block.shape[1]] = block
        writer.write_block(y0, x0, block)
    writer.finalize()
    for level, expected in enumerate(_expected_levels(level0, 4)):
        np.testing.assert_array_equal(writer.level(level)[:], expected)


def test_a_resumed_store_rebuilds_levels_from_blocks_of_both_sessions(tmp_path):
    rng = np.random.default_rng(2)
    level0 = rng.integers(1, 9, SHAPE).astype(np.uint32)
    path = tmp_path / "l.ome.zarr"
    origins = _blocks(rng)
    first = LabelsZarrWriter.create(path, SHAPE, mpp=(0.5, 0.5), chunk=CHUNK, levels=3)
    for y0, x0 in origins[:20]:
        first.write_block(y0, x0, level0[y0 : y0 + CHUNK[0], x0 : x0 + CHUNK[1]])
    resumed = LabelsZarrWriter.open_existing(path)
    for y0, x0 in origins[20:]:
        resumed.write_block(y0, x0, level0[y0 : y0 + CHUNK[0], x0 : x0 + CHUNK[1]])
    resumed.finalize()
    for level, expected in enumerate(_expected_levels(level0, 3)):
        np.testing.assert_array_equal(resumed.level(level)[:], expected)


def test_region_io_matches_zarr_and_falls_back_for_sharded_arrays(tmp_path):
    group = zarr.open_group(tmp_path / "g.zarr", mode="w", zarr_format=3)
    plain = group.create_array("a", shape=(100, 130), chunks=(32, 32), dtype=np.uint32, fill_value=0)
    sharded = group.create_array("b", shape=(100, 130), chunks=(32, 32), shards=(64, 64), dtype=np.uint32,
                                 fill_value=0)
    assert direct_codec(plain) is not None and direct_codec(sharded) is None
    data = np.arange(100 * 130, dtype=np.uint32).reshape(100, 130)
    for array in (plain, sharded):
        write_region(array, 0, 0, data)
        np.testing.assert_array_equal(array[:], data)
        np.testing.assert_array_equal(read_region(array, slice(10, 90), slice(40, 200)), data[10:90, 40:130])
    with pytest.raises(ValueError, match="chunk grid"):
        write_region(plain, 5, 0, data[:10, :10])


def test_streaming_keeps_level0_unread_when_blocks_come_in_row_order(tmp_path, monkeypatch):
    path = tmp_path / "l.ome.zarr"
    writer = LabelsZarrWriter.create(path, (256, 256), mpp=(0.5, 0.5), chunk=CHUNK, levels=3)
    reads = []
    monkeypatch.setattr("wsinuc.writers.zarr_pyramid.read_region", lambda *a: reads.append(a) or pytest.fail())
    level0 = np.random.default_rng(0).integers(1, 5, (256, 256)).astype(np.uint32)
    for y0 in range(0, 256, 64):
        for x0 in range(0, 256, 64):
            writer.write_block(y0, x0, level0[y0 : y0 + 64, x0 : x0 + 64])
    writer.finalize()
    assert not reads
    np.testing.assert_array_equal(writer.level(2)[:], level0[::4, ::4])
    assert isinstance(writer._pyramid, StreamingPyramid)
    assert not partial_dir_path(path).exists()
