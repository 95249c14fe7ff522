"""Second pass of a run: merge the chunk results into the final outputs.

Every chunk file holds the anchor keys of the nuclei its chunk owns, their
polygons and measurements, and the keys covering its core. Here the keys
get sequential ids ``1..N`` (plan order), then the vector outputs are
streamed chunk by chunk and every core is written into its own zarr chunk.
Nothing slide-sized is held in memory: only the ``N`` keys.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from wsinuc.inference.chunk import chunk_file, load_chunk
from wsinuc.stitching import KeyLookup, apply_key_lookup, build_key_lookup
from wsinuc.tiling import Tile
from wsinuc.writers.geojson import prepare_polygon

def build_lookup(work_dir: Path, tiles: Sequence[Tile]) -> KeyLookup:
    """Sequential ids for the keys of all chunks, in plan order."""
    keys = []
    for tile in tiles:
        with np.load(chunk_file(work_dir, tile), allow_pickle=False) as data:
            keys.append(data["keys"])
    return build_key_lookup(keys)


def iter_chunk_nuclei(work_dir: Path, tiles: Sequence[Tile], lookup: KeyLookup) -> Iterable[dict]:
    """Yield, chunk by chunk, ``ids``, ``rings`` and ``columns`` of the owned nuclei."""
    for tile in tiles:
        data = load_chunk(chunk_file(work_dir, tile))
        ids = apply_key_lookup(data["keys"], lookup)
        starts, coords = data["poly_starts"], data["poly_coords"]
        rings = [coords[starts[i] : starts[i + 1]] for i in range(len(ids))]
        columns = {name[2:]: values for name, values in data.items() if name.startswith("m_")}
        yield {"ids": ids, "rings": rings, "columns": columns}


def write_vector_outputs(chunks: Iterable[dict], geojson, table) -> int:
    """Stream nuclei into a GeoJSON writer and/or a table writer (either may be None).

    A nucleus whose outline is degenerate (fewer than 3 distinct corners
    after rounding) is left out of both, so rows and features always match.
    Returns the number of nuclei written.
    """
    count = 0
    for chunk in chunks:
        polygons = [prepare_polygon(ring) if len(ring) >= 4 else None for ring in chunk["rings"]]
        keep = np.array([polygon is not None for polygon in polygons], dtype=bool)
        ids = chunk["ids"][keep]
        columns = {name: values[keep] for name, values in chunk["columns"].items() if name != "id"}
        if table is not None and len(ids):
            table.write({"label": ids, **columns})
        if geojson is not None:
            kept = [polygon for polygon in polygons if polygon is not None]
            for row, (label_id, polygon) in enumerate(zip(ids, kept)):
                geojson.write(int(label_id), polygon, {name: float(v[row]) for name, v in columns.items()})
        count += len(ids)
    return count


def write_label_chunks(
    work_dir: Path, tiles: Sequence[Tile], lookup: KeyLookup, labels, *, cache_size: int | None = None
) -> int:
    """Write every chunk's core, with global ids, into its own zarr chunk.

    A core is painted from the objects owned by its own chunk and by its
    eight neighbours (an owned object lies within its chunk's valid box, and
    the halo is at most one chunk, so it reaches no further). Each object is
    painted with the mask its owner traced, so the label image and the
    polygons agree even where two chunks segmented a seam differently; a
    pixel claimed twice keeps the first painter (own chunk, then neighbours
    in row-major order).

    Cores are visited in plan order (row-major), and the last
    :data:`OWNER_CACHE_SIZE` chunk files read stay decoded: the next core
    along a row shares six of its nine painters with this one, so each chunk
    file is decompressed about 3 times instead of 9, with memory bounded by
    nine valid boxes whatever the slide size. ``cache_size`` overrides that
    number (0 reads every file for every core it touches). Returns the
    number of chunk files decompressed.
    """
    by_index = {tile.index: tile for tile in tiles}
    size = OWNER_CACHE_SIZE if cache_size is None else cache_size
    owners = _OwnerCache(work_dir, lookup, size)
    for tile in tiles:
        core = tile.core_box
        block = np.zeros(core.shape, dtype=np.uint32)
        for neighbour in _painters(tile, by_index):
            _paint(block, core, neighbour, owners)
        labels.write_block(core.y0, core.x0, block)
    return owners.reads


OWNER_CACHE_SIZE = 9
"""Decoded chunk files kept by :func:`write_label_chunks` (one 3x3 neighbourhood)."""


class _OwnerCache:
    """The owned labels of the most recently used chunk files, with their global ids.

    A small least-recently-used cache keyed by tile index; ``reads`` counts
    the files actually decompressed.
    """

    def __init__(self, work_dir: Path, lookup: KeyLookup, size: int) -> None:
        self._work_dir, self._lookup, self._size = work_dir, lookup, size
        self._entries: OrderedDict[tuple[int, int], tuple[np.ndarray, np.ndarray] | None] = OrderedDict()
        self.reads = 0

    def get(self, owner: Tile) -> tuple[np.ndarray, np.ndarray] | None:
        """``(global_ids, owned)`` of ``owner``'s chunk (id 0 first), or None if it owns nothing."""
        if owner.index in self._entries:
            self._entries.move_to_end(owner.index)
            return self._entries[owner.index]
        with np.load(chunk_file(self._work_dir, owner), allow_pickle=False) as data:
            keys, owned = data["keys"], data["owned_labels"]
        self.reads += 1
        entry = None
        if keys.size:
            global_ids = np.concatenate([[0], apply_key_lookup(keys, self._lookup)]).astype(np.uint32)
            entry = (global_ids, owned)
        self._entries[owner.index] = entry
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return entry


def _painters(tile: Tile, by_index: dict) -> list[Tile]:
    row, col = tile.index
    around = [(row + dr, col + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]
    return [tile] + [by_index[index] for index in around if index in by_index]


def _paint(block: np.ndarray, core, owner: Tile, owners: _OwnerCache) -> None:
    valid = owner.valid_box
    y0, x0 = max(core.y0, valid.y0), max(core.x0, valid.x0)
    y1, x1 = min(core.y1, valid.y1), min(core.x1, valid.x1)
    if y0 >= y1 or x0 >= x1:
        return
    entry = owners.get(owner)
    if entry is None:
        return
    global_ids, owned = entry
    source = global_ids[owned[y0 - valid.y0 : y1 - valid.y0, x0 - valid.x0 : x1 - valid.x0]]
    target = block[y0 - core.y0 : y1 - core.y0, x0 - core.x0 : x1 - core.x0]
    free = target == 0
    target[free] = source[free]
