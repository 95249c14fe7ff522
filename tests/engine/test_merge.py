"""Pass 2: the label image is painted from each owner's own masks."""

from __future__ import annotations

import numpy as np

from wsinuc.engine.merge import build_lookup, write_labels
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


def test_owner_cache_reads_each_file_about_three_times_and_paints_the_same(tmp_path):
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
    # Uncached: one read per (core, overlapping painter) pair, i.e. up to 9 per file.
    assert reads_uncached > 6 * n
    assert reads_cached <= 3 * n + 2 * 5
