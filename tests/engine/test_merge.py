"""Pass 2: the label image is painted from each owner's own masks."""

from __future__ import annotations

import numpy as np
import pytest

from wsinuc.engine.merge import build_lookup, write_labels, write_vectors
from wsinuc.engine.store import ChunkResult, ChunkStore
from wsinuc.stitching import anchor_keys
from wsinuc.tiling import plan_tiles


class ArraySink:
    """A stand-in for the zarr writer: whole-core writes into a numpy array."""

    def __init__(self, shape):
        self.array = np.zeros(shape, np.uint32)

    def write_block(self, y0, x0, block):
        self.array[y0 : y0 + block.shape[0], x0 : x0 + block.shape[1]] = block


def _save(work, tile, objects):
    """Chunk file of ``tile`` owning ``objects`` (list of (rows, cols) slices in image coords)."""
    valid = tile.valid_box
    owned = np.zeros(valid.shape, np.int32)
    anchors = []
    for local, (rows, cols) in enumerate(objects, start=1):
        owned[rows.start - valid.y0 : rows.stop - valid.y0, cols.start - valid.x0 : cols.stop - valid.x0] = local
        anchors.append((rows.start, cols.start))
    keys = anchor_keys(np.array(anchors).reshape(-1, 2), tile.image_shape[1])
    empty = {"area_um2": np.zeros(len(keys))}
    result = ChunkResult(keys, owned, np.zeros((0, 2)), np.zeros(len(keys) + 1, np.int64), empty)
    ChunkStore(work).save(tile, result)


def test_seam_disagreement_is_painted_without_unknown_ids(tmp_path):
    plan = plan_tiles((64, 128), 64, 32)
    left, right = plan.tiles
    # Left owns an object reaching into the right core; right saw a different,
    # overlapping object there and owns it (its anchor is in its own core).
    _save(tmp_path, left, [(slice(10, 20), slice(58, 70))])
    _save(tmp_path, right, [(slice(12, 22), slice(66, 76))])
    lookup = build_lookup(ChunkStore(tmp_path), plan.tiles)
    sink = ArraySink((64, 128))
    write_labels(ChunkStore(tmp_path), plan.tiles, lookup, sink, plan.tile_size)
    out = sink.array
    assert set(np.unique(out)) == {0, 1, 2}
    assert (out[10:20, 58:64] == 1).all()          # left object in its own core
    assert (out[12:22, 66:76] == 2).all()          # right's own object wins in its core
    assert (out[10:12, 64:70] == 1).all()          # left object's remainder in the right core


def test_each_file_is_read_twice_with_the_overhang_cache_and_paints_the_same(tmp_path):
    # 4 x 5 chunks with a 16-px halo; every chunk owns a nucleus on each of its
    # core's edges (reaching into the neighbours) and one in its core.
    plan = plan_tiles((4 * 32, 5 * 32), 32, 16)
    for tile in plan.tiles:
        core = tile.core_box
        objects = [(slice(core.y0 + 12, core.y0 + 20), slice(core.x0 + 12, core.x0 + 20))]
        if core.x1 < 160:
            objects.append((slice(core.y0 + 2, core.y0 + 8), slice(core.x1 - 3, core.x1 + 4)))
        if core.y1 < 128:
            objects.append((slice(core.y1 - 3, core.y1 + 4), slice(core.x0 + 22, core.x0 + 28)))
        _save(tmp_path, tile, objects)
    lookup = build_lookup(ChunkStore(tmp_path), plan.tiles)
    cached, uncached = ArraySink((128, 160)), ArraySink((128, 160))
    reads_cached = write_labels(ChunkStore(tmp_path), plan.tiles, lookup, cached, plan.tile_size)
    reads_uncached = write_labels(ChunkStore(tmp_path), plan.tiles, lookup, uncached, plan.tile_size, 0)
    np.testing.assert_array_equal(cached.array, uncached.array)
    assert len(np.unique(cached.array)) - 1 == len(lookup)
    n = len(plan.tiles)
    # Cached: each file's masks once (its own cell) and its overhang once.
    # Uncached: the overhang once per neighbouring cell, i.e. up to 8 per file.
    assert reads_cached == 2 * n
    assert reads_uncached > 6 * n


class RecordingTable:
    """A stand-in for the table writer: keeps every batch it is given."""

    def __init__(self):
        self.batches = []

    def write(self, batch):
        self.batches.append({name: np.asarray(values).copy() for name, values in batch.items()})


def _save_squares(work, tile, count):
    """``tile`` owning ``count`` 3 x 3 squares along its core's top row (outlines and labels agree)."""
    core, valid = tile.core_box, tile.valid_box
    labels = np.zeros(valid.shape, np.int32)
    rings, anchors = [], []
    for i in range(count):
        y, x = core.y0 + 2, core.x0 + 2 + 5 * i
        labels[y - valid.y0 : y - valid.y0 + 3, x - valid.x0 : x - valid.x0 + 3] = i + 1
        rings.append([(x, y), (x + 3, y), (x + 3, y + 3), (x, y + 3), (x, y)])
        anchors.append((y, x))
    keys = anchor_keys(np.array(anchors).reshape(-1, 2), tile.image_shape[1])
    coords = np.array(rings, np.float64).reshape(-1, 2)
    columns = {"area_um2": np.full(count, 9.0) + np.arange(count), "solidity": np.ones(count)}
    ChunkStore(work).save(tile, ChunkResult(keys, labels, coords, np.arange(count + 1) * 5, columns))


def test_table_rows_are_batched_across_chunks_in_plan_order(tmp_path, monkeypatch):
    plan = plan_tiles((32, 96), 32, 8)
    for tile, count in zip(plan.tiles, (2, 0, 3)):
        _save_squares(tmp_path, tile, count)
    store = ChunkStore(tmp_path)
    lookup = build_lookup(store, plan.tiles)
    whole, small = RecordingTable(), RecordingTable()
    assert write_vectors(store, plan.tiles, lookup, None, whole) == 5
    monkeypatch.setattr("wsinuc.engine.merge.TABLE_BATCH_ROWS", 2)
    assert write_vectors(store, plan.tiles, lookup, None, small) == 5
    assert len(whole.batches) == 1 and [len(b["label"]) for b in small.batches] == [2, 3]
    np.testing.assert_array_equal(whole.batches[0]["label"], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(whole.batches[0]["area_um2"], [9, 10, 9, 10, 11])
    for name in ("label", "area_um2", "solidity"):
        np.testing.assert_array_equal(np.concatenate([b[name] for b in small.batches]), whole.batches[0][name])


def test_pre_rendered_features_write_the_same_files_as_rendering_in_pass_2(tmp_path, monkeypatch):
    from wsinuc.writers.geojson import GeoJSONWriter, render_features

    plan = plan_tiles((32, 96), 32, 8)
    for tile, count in zip(plan.tiles, (2, 0, 3)):
        _save_squares(tmp_path / "plain", tile, count)
        _save_squares(tmp_path / "rendered", tile, count)
        store = ChunkStore(tmp_path / "rendered")
        result = store.load(tile)
        features = render_features(result.ring_coords, result.ring_starts, result.columns)
        store.save(tile, ChunkResult(result.keys, result.labels, result.ring_coords, result.ring_starts,
                                     result.columns, features))
    outputs = {}
    for name in ("plain", "rendered"):
        if name == "rendered":  # the pre-rendered text is used, not rendered again
            monkeypatch.setattr(GeoJSONWriter, "write_rings", lambda *a, **k: pytest.fail("rendered again"))
        store, table = ChunkStore(tmp_path / name), RecordingTable()
        with GeoJSONWriter(tmp_path / f"{name}.geojson") as geojson:
            assert write_vectors(store, plan.tiles, build_lookup(store, plan.tiles), geojson, table) == 5
        outputs[name] = (tmp_path / f"{name}.geojson").read_bytes(), table.batches[0]["label"]
    assert outputs["rendered"][0] == outputs["plain"][0]
    np.testing.assert_array_equal(outputs["rendered"][1], outputs["plain"][1])
