"""Pass 2: merge the chunk results into the final outputs.

The keys of all chunks get sequential ids ``1..N`` (plan order); the vector
outputs are streamed chunk by chunk (every nucleus's outline and measurements
written in one call per chunk); every cell of the label image is painted from
the masks of the chunks that own nuclei reaching it. Nothing slide-sized is
held in memory: only the ``N`` keys, one chunk's masks and the small overhang
pieces of about three rows of chunks.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from wsinuc.engine.store import ChunkResult, ChunkStore
from wsinuc.stitching import KeyLookup, OwnerMasks, apply_key_lookup, build_key_lookup, paint_block
from wsinuc.tiling import Tile, grid_cell
from wsinuc.writers import kept_rings

def build_lookup(store: ChunkStore, tiles: Sequence[Tile]) -> KeyLookup:
    """Sequential ids for the keys of all chunks, in plan order."""
    return build_key_lookup([store.keys(tile) for tile in tiles])


TABLE_BATCH_ROWS = 65_536
"""Rows gathered before one table write (one Parquet row group instead of one per chunk)."""


def write_vectors(store: ChunkStore, tiles: Sequence[Tile], lookup: KeyLookup, geojson, table) -> int:
    """Stream every chunk's nuclei into a GeoJSON writer and/or a table writer (either may be None).

    A nucleus whose outline is degenerate after rounding is left out of both,
    so rows and features always match. Features rendered in pass 1 (with
    the writer's settings) only get their ids filled in. Table rows are written in batches of
    about :data:`TABLE_BATCH_ROWS`. Returns the number of nuclei written.
    """
    count, rows = 0, []
    for tile in tiles:
        result = store.vectors(tile)
        if not len(result):
            continue
        ids = apply_key_lookup(result.keys, lookup)
        keep = _write_features(geojson, result, ids)
        if table is not None and keep.any():
            rows.append({"label": ids[keep], **{name: values[keep] for name, values in result.columns.items()}})
            if sum(len(batch["label"]) for batch in rows) >= TABLE_BATCH_ROWS:
                _write_rows(table, rows)
        count += int(keep.sum())
    _write_rows(table, rows)
    return count


def _write_features(geojson, result: ChunkResult, ids: np.ndarray) -> np.ndarray:
    """Write a chunk's features (pre-rendered ones when they suit ``geojson``); return the rows kept."""
    features = result.features
    if geojson is None:
        if features is not None and features.decimals == 2:
            return features.keep
        return kept_rings(result.ring_coords, result.ring_starts)
    if features is not None and features.style == geojson.style:
        geojson.write_rendered(features, ids[features.keep])
        return features.keep
    return geojson.write_rings(ids, result.ring_coords, result.ring_starts, result.columns)


def _write_rows(table, rows: list[dict]) -> None:
    """Write the gathered row batches as one table batch and empty ``rows``."""
    if rows:
        table.write({name: np.concatenate([batch[name] for batch in rows]) for name in rows[0]})
        rows.clear()


def write_labels(
    store: ChunkStore, tiles: Sequence[Tile], lookup: KeyLookup, labels, chunk_size: int,
    cache_size: int | None = None,
) -> int:
    """Paint every chunk's cell of the label image from its own and its neighbours' masks.

    A cell is painted from the nuclei owned by its own chunk (its full mask
    raster, decoded once) and by its eight neighbours (an owned nucleus lies
    within its chunk's valid block, and the halo is at most one chunk, so it
    reaches no further; of a neighbour only its labels outside its core can
    reach the cell: its small overhang pieces, :meth:`ChunkStore.overhang`);
    see :func:`wsinuc.stitching.paint_block`. The overhangs of the last
    ``cache_size`` chunks stay in memory (default: three rows of chunks and
    three more, so with cells in row-major order each file's overhang is read
    once; ``cache_size=0`` reads it for every cell it touches). Cells of one
    shape are painted into one reused buffer (and each chunk's labels decoded
    into another), so ``labels.write_block`` must not keep the block it is
    given. Returns the number of file reads.
    """
    by_index = {tile.index: tile for tile in tiles}
    if cache_size is None:
        cache_size = 3 * (1 + max((tile.index[1] for tile in tiles), default=0)) + 3
    overhangs = _OverhangCache(store, lookup, cache_size)
    buffers: dict[tuple[int, int], np.ndarray] = {}
    scratch = np.empty(0, np.uint8)
    for tile in tiles:
        cell = grid_cell(tile.index, chunk_size, tile.image_shape)
        if scratch.size < 4 * tile.valid_box.shape[0] * tile.valid_box.shape[1]:
            scratch = np.empty(4 * tile.valid_box.shape[0] * tile.valid_box.shape[1], np.uint8)
        keys, own = store.masks(tile, scratch)
        painters = [OwnerMasks(tile.valid_box, _global_ids(keys, lookup), own)] if keys.size else []
        for neighbour in _neighbours(tile, by_index):
            painters.extend(overhangs.get(neighbour))
        if cell.shape not in buffers:
            buffers[cell.shape] = np.empty(cell.shape, np.uint32)
        out = buffers[cell.shape]
        labels.write_block(cell.y0, cell.x0, paint_block(cell, painters, out=out))
    return len(tiles) + overhangs.reads


def _global_ids(keys: np.ndarray, lookup: KeyLookup) -> np.ndarray:
    """``uint32`` id of local label ``i`` at position ``i`` (0 for the background)."""
    return np.concatenate([[0], apply_key_lookup(keys, lookup)]).astype(np.uint32)


class _OverhangCache:
    """The overhang pieces of the most recently used chunks, with global ids (least recently used goes)."""

    def __init__(self, store: ChunkStore, lookup: KeyLookup, size: int) -> None:
        self._store, self._lookup, self._size = store, lookup, size
        self._entries: OrderedDict[tuple[int, int], list[OwnerMasks]] = OrderedDict()
        self.reads = 0

    def get(self, owner: Tile) -> list[OwnerMasks]:
        """``owner``'s labelled pixels outside its core, as painters."""
        if owner.index in self._entries:
            self._entries.move_to_end(owner.index)
            return self._entries[owner.index]
        keys, pieces = self._store.overhang(owner)
        self.reads += 1
        ids = _global_ids(keys, self._lookup) if keys.size else None
        entry = [OwnerMasks(box, ids, labels) for box, labels in pieces] if keys.size else []
        self._entries[owner.index] = entry
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return entry


def _neighbours(tile: Tile, by_index: dict) -> list[Tile]:
    row, col = tile.index
    around = [(row + dr, col + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]
    return [by_index[index] for index in around if index in by_index]
