"""Global object ids, in named steps (pure numpy kernels).

Two strategies:

**Keys -> sequential ids** (pairs with :mod:`wsinuc.stitching.ownership`).
Tiles write anchor keys (large, sparse int64). To get ids ``1..N``:

1. :func:`tile_offsets` - the first id of each tile from the per-tile
   counts of owned objects, in plan order;
2. :func:`build_key_lookup` - a sorted key -> id table from every tile's
   ``OwnedObjects.keys`` (fails if a key is owned twice);
3. :func:`apply_key_lookup` - map any block of keys (a tile's
   ``core_keys`` or a chunk of a key image) to ids.

**Offsets + face graph** (the dask-image ``label`` approach), for label
images whose chunks were labelled independently as connected components:

1. :func:`offset_labels` - make each chunk's ids globally unique;
2. :func:`face_pairs` - pairs of ids that touch across a chunk seam
   (4-connectivity: same column across a row seam, same row across a
   column seam);
3. :func:`merge_lookup` - connected components of the pair graph, giving a
   ``lookup`` array with ``lookup[old_id] = new_id`` (sequential, 0 -> 0);
4. relabel with ``lookup[labels]``.

The face graph merges *everything* that touches across a seam, so it is
only right when touching means "same object" (connected components of a
binary mask); separately labelled touching nuclei (watershed output) need
the ownership route.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True, eq=False)
class KeyLookup:
    """Sorted table from anchor keys to sequential ids.

    Attributes
    ----------
    keys : np.ndarray
        ``int64`` keys, strictly increasing.
    ids : np.ndarray
        ``int64`` id of each key (``1..N``, in plan order of the owners).
    """

    keys: np.ndarray
    ids: np.ndarray

    def __len__(self) -> int:
        return int(self.keys.size)


def tile_offsets(counts: Sequence[int]) -> np.ndarray:
    """First id minus one of each tile: ``[0, c0, c0 + c1, ...]`` (int64, len(counts))."""
    counts = np.asarray(counts, dtype=np.int64).reshape(-1)
    if counts.size and counts.min() < 0:
        raise ValueError(f"counts must be >= 0, got minimum {counts.min()}")
    return (np.cumsum(counts) - counts).astype(np.int64)


def build_key_lookup(keys_per_tile: Sequence[np.ndarray]) -> KeyLookup:
    """Give ids ``1..N`` to the keys of all tiles, in the order given.

    Parameters
    ----------
    keys_per_tile : sequence of np.ndarray
        ``OwnedObjects.keys`` of every tile, in plan order.

    Returns
    -------
    KeyLookup
        Keys sorted for :func:`apply_key_lookup`.

    Raises
    ------
    ValueError
        If a key is not positive or appears twice (owned by two tiles).
    """
    arrays = [np.asarray(keys, dtype=np.int64).reshape(-1) for keys in keys_per_tile]
    all_keys = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    if all_keys.size and all_keys.min() <= 0:
        raise ValueError(f"keys must be positive, got minimum {all_keys.min()}")
    ids = np.arange(1, all_keys.size + 1, dtype=np.int64)
    order = np.argsort(all_keys, kind="stable")
    sorted_keys = all_keys[order]
    repeated = sorted_keys[1:][np.diff(sorted_keys) == 0]
    if repeated.size:
        raise ValueError(
            f"{repeated.size} key(s) owned by more than one tile, e.g. {int(repeated[0])}"
        )
    return KeyLookup(keys=sorted_keys, ids=ids[order])


def apply_key_lookup(block: np.ndarray, lookup: KeyLookup) -> np.ndarray:
    """Replace keys by ids in ``block`` (0 stays 0); returns int64 of the same shape.

    Raises
    ------
    ValueError
        If ``block`` holds a non-zero key missing from ``lookup``.
    """
    block = np.asarray(block, dtype=np.int64)
    out = np.zeros(block.shape, dtype=np.int64)
    nonzero = block != 0
    values = block[nonzero]
    position = np.searchsorted(lookup.keys, values)
    position = np.minimum(position, max(len(lookup) - 1, 0))
    found = lookup.keys[position] == values if len(lookup) else np.zeros(values.shape, bool)
    if not found.all():
        missing = int(values[~found][0])
        raise ValueError(f"block holds key {missing} that no tile owns")
    out[nonzero] = lookup.ids[position]
    return out


def offset_labels(labels: np.ndarray, offset: int) -> np.ndarray:
    """Add ``offset`` to the non-zero labels of one chunk (int64)."""
    labels = np.asarray(labels, dtype=np.int64)
    return np.where(labels > 0, labels + np.int64(offset), 0)


def face_pairs(
    labels: np.ndarray, row_seams: Sequence[int], col_seams: Sequence[int]
) -> np.ndarray:
    """Pairs of labels that touch across chunk seams.

    Parameters
    ----------
    labels : np.ndarray
        2-D labels with globally unique ids per chunk.
    row_seams, col_seams : sequence of int
        Positions ``s`` where a chunk ends and the next begins (rows
        ``s - 1`` | ``s``, columns likewise), ``0 < s < size``.

    Returns
    -------
    np.ndarray
        ``(2, M)`` int64 unique pairs ``(a, b)``, both non-zero, ``a != b``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D, got shape {labels.shape}")
    _validate_seams(row_seams, labels.shape[0], "row_seams")
    _validate_seams(col_seams, labels.shape[1], "col_seams")
    sides = [(labels[s - 1, :], labels[s, :]) for s in row_seams]
    sides += [(labels[:, s - 1], labels[:, s]) for s in col_seams]
    if not sides:
        return np.zeros((2, 0), dtype=np.int64)
    first = np.concatenate([a for a, _ in sides]).astype(np.int64)
    second = np.concatenate([b for _, b in sides]).astype(np.int64)
    touching = (first > 0) & (second > 0) & (first != second)
    pairs = np.unique(np.stack([first[touching], second[touching]], axis=1), axis=0)
    return pairs.T.reshape(2, -1)


def merge_lookup(pairs: np.ndarray, max_label: int) -> np.ndarray:
    """Sequential ids of the connected components of the pair graph.

    Parameters
    ----------
    pairs : np.ndarray
        ``(2, M)`` label pairs from :func:`face_pairs`.
    max_label : int
        Largest label in the image.

    Returns
    -------
    np.ndarray
        ``int64`` array of length ``max_label + 1``: ``lookup[old] = new``,
        ``lookup[0] == 0``, new ids ``1..K`` in order of each group's
        smallest old id. Use as ``lookup[labels]``. Unused ids also get an
        id; relabel after if they matter.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(2, -1)
    if pairs.size and (pairs.min() < 0 or pairs.max() > max_label):
        raise ValueError(f"pairs must lie in [0, {max_label}], got [{pairs.min()}, {pairs.max()}]")
    size = int(max_label) + 1
    graph = coo_matrix((np.ones(pairs.shape[1]), (pairs[0], pairs[1])), shape=(size, size))
    _, component = connected_components(graph, directed=False)
    _, first_index, dense = np.unique(component, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first_index))
    lookup = rank[dense].astype(np.int64)
    return lookup


def _validate_seams(seams: Sequence[int], size: int, name: str) -> None:
    for seam in seams:
        if not 0 < int(seam) < size:
            raise ValueError(f"{name} must lie in (0, {size}), got {seam!r}")
