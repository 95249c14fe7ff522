"""Pass 2: merge the chunk results into the final outputs.

The keys of all chunks get sequential ids ``1..N`` (plan order); the vector
outputs are streamed chunk by chunk (every nucleus's outline and measurements
written in one call per chunk); every cell of the label image is painted from
the masks of the chunks that own nuclei reaching it. Nothing slide-sized is
held in memory: only the ``N`` keys and a 3 x 3 neighbourhood of chunk masks.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from wsinuc.engine.store import ChunkStore
from wsinuc.stitching import KeyLookup, OwnerMasks, apply_key_lookup, build_key_lookup, paint_block
from wsinuc.tiling import Tile, grid_cell
from wsinuc.writers import kept_rings

OWNER_CACHE_SIZE = 9
"""Decoded chunk masks kept while painting (one 3 x 3 neighbourhood)."""


def build_lookup(store: ChunkStore, tiles: Sequence[Tile]) -> KeyLookup:
    """Sequential ids for the keys of all chunks, in plan order."""
    return build_key_lookup([store.keys(tile) for tile in tiles])


def write_vectors(store: ChunkStore, tiles: Sequence[Tile], lookup: KeyLookup, geojson, table) -> int:
    """Stream every chunk's nuclei into a GeoJSON writer and/or a table writer (either may be None).

    A nucleus whose outline is degenerate after rounding is left out of both,
    so rows and features always match. Returns the number of nuclei written.
    """
    count = 0
    for tile in tiles:
        result = store.vectors(tile)
        if not len(result):
            continue
        ids = apply_key_lookup(result.keys, lookup)
        if geojson is not None:
            keep = geojson.write_rings(ids, result.ring_coords, result.ring_starts, result.columns)
        else:
            keep = kept_rings(result.ring_coords, result.ring_starts)
        if table is not None and keep.any():
            table.write({"label": ids[keep], **{name: values[keep] for name, values in result.columns.items()}})
        count += int(keep.sum())
    return count


def write_labels(
    store: ChunkStore, tiles: Sequence[Tile], lookup: KeyLookup, labels, chunk_size: int,
    cache_size: int = OWNER_CACHE_SIZE,
) -> int:
    """Paint every chunk's cell of the label image from its own and its neighbours' masks.

    A cell is painted from the nuclei owned by its own chunk and by its eight
    neighbours (an owned nucleus lies within its chunk's valid block, and the
    halo is at most one chunk, so it reaches no further); see
    :func:`wsinuc.stitching.paint_block`. Cells are visited in plan order and
    the last :data:`OWNER_CACHE_SIZE` chunks' masks stay decoded, so each file
    is decompressed about 3 times instead of 9 (``cache_size=0`` reads every
    file for every cell it touches). Returns the files decompressed.
    """
    by_index = {tile.index: tile for tile in tiles}
    owners = _OwnerCache(store, lookup, cache_size)
    for tile in tiles:
        cell = grid_cell(tile.index, chunk_size, tile.image_shape)
        masks = (owners.get(painter) for painter in _painters(tile, by_index))
        block = paint_block(cell, [mask for mask in masks if mask is not None])
        labels.write_block(cell.y0, cell.x0, block)
    return owners.reads


class _OwnerCache:
    """The masks of the most recently used chunks, with global ids (least recently used goes)."""

    def __init__(self, store: ChunkStore, lookup: KeyLookup, size: int = OWNER_CACHE_SIZE) -> None:
        self._store, self._lookup, self._size = store, lookup, size
        self._entries: OrderedDict[tuple[int, int], OwnerMasks | None] = OrderedDict()
        self.reads = 0

    def get(self, owner: Tile) -> OwnerMasks | None:
        """``owner``'s masks, or None if it owns nothing."""
        if owner.index in self._entries:
            self._entries.move_to_end(owner.index)
            return self._entries[owner.index]
        keys, labels = self._store.masks(owner)
        self.reads += 1
        entry = None
        if keys.size:
            ids = np.concatenate([[0], apply_key_lookup(keys, self._lookup)]).astype(np.uint32)
            entry = OwnerMasks(owner.valid_box, ids, labels)
        self._entries[owner.index] = entry
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return entry


def _painters(tile: Tile, by_index: dict) -> list[Tile]:
    row, col = tile.index
    around = [(row + dr, col + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]
    return [tile] + [by_index[index] for index in around if index in by_index]
